/**
 * Wire format of the `ledger-sync` request/response protocol and of the ledger
 * announcement topic (docs/architecture/sync.md). Every message is one
 * DAG-CBOR map with a version field `v: 1`; decoding checks the byte cap first,
 * then every field's type and every list's length, and throws
 * SyncProtocolError on anything else (finite decode limits, House style 3).
 * Ledger envelopes travel as opaque bytes: the ledger decodes and verifies them
 * (src/ledger/entry.ts decodeEnvelope, Ledger.append). Pure module.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { SyncProtocolError } from './errors.ts'

/** Hard caps of the protocol, independent of configuration. */
export const SYNC_LIMITS = Object.freeze({
  /** CIDs in one `cids` request */
  maxCids: 512,
  /** author ranges in one `chain` request */
  maxRanges: 256,
  /** entries in one response */
  maxEntries: 4096,
  /** heads in one `heads` response */
  maxHeads: 20_000,
  /** largest envelope (src/ledger/charter.ts LIMITS.maxEnvelopeBytes) */
  maxEnvelopeBytes: 1 << 20,
  /** largest sequence number / position we accept (2^40: far above any real ledger) */
  maxSeq: 2 ** 40
})

export interface ChainRange { author: Uint8Array, from: number, to: number }

export type SyncRequest =
  /** heads summary {author -> (seq, cid)}, authors in byte order, after `after` (paging) */
  | { op: 'heads', after?: Uint8Array, limit: number }
  /** entries by content id; unknown CIDs are skipped */
  | { op: 'cids', cids: CID[] }
  /** author chains: entries author[from..to] inclusive, ranges served in order */
  | { op: 'chain', ranges: ChainRange[], limit: number }

export interface HeadInfo { author: Uint8Array, seq: number, cid: CID }
export interface HeadsResponse {
  genesis: CID | null
  /** entries in the server's ledger */
  size: number
  heads: HeadInfo[]
  /** more heads after the last one (ask again with `after`) */
  more: boolean
}
/** One entry served: its envelope and its position in the server's ledger (a dependency-order hint). */
export interface ServedEntry { pos: number, env: Uint8Array }
export interface EntriesResponse {
  entries: ServedEntry[]
  /** the server stopped early (response budget or count cap); ask again for the rest */
  more: boolean
}

/**
 * A ledger announcement (gossip): the entry's identity, and its envelope when small. `n`: set on
 * a re-announcement (a counter of the announcer's), so its bytes, and so its gossip message id
 * (a hash of the bytes under unsigned envelopes), differ from the first announcement's.
 */
export interface Announcement { cid: CID, author: Uint8Array, seq: number, env?: Uint8Array, n?: number }

const bad = (m: string): never => { throw new SyncProtocolError(m) }

function decode (bytes: Uint8Array, cap: number, what: string): Record<string, unknown> {
  if (!(bytes instanceof Uint8Array)) bad(`${what} must be bytes`)
  if (bytes.length > cap) bad(`${what} of ${bytes.length} bytes exceeds the cap of ${cap}`)
  let o: unknown
  try {
    o = dagCbor.decode(bytes)
  } catch (err) {
    throw new SyncProtocolError(`${what} is not DAG-CBOR: ${(err as Error).message}`, { cause: err })
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o) || o instanceof Uint8Array || CID.asCID(o) !== null) bad(`${what} is not a map`)
  const m = o as Record<string, unknown>
  if (m.v !== 1) bad(`${what}: unsupported version ${String(m.v)}`)
  return m
}

function int (v: unknown, what: string, lo = 0, hi = SYNC_LIMITS.maxSeq): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < lo || v > hi) bad(`${what} must be an integer in [${lo}, ${hi}]`)
  return v as number
}
function bytes (v: unknown, what: string, len?: number, max = SYNC_LIMITS.maxEnvelopeBytes): Uint8Array {
  if (!(v instanceof Uint8Array)) bad(`${what} must be bytes`)
  const b = v as Uint8Array
  if (len !== undefined && b.length !== len) bad(`${what} must be ${len} bytes`)
  if (b.length > max) bad(`${what} exceeds ${max} bytes`)
  return b
}
function cid (v: unknown, what: string): CID {
  const c = CID.asCID(v)
  if (c === null) bad(`${what} must be a CID`)
  return c!
}
function list (v: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(v)) bad(`${what} must be a list`)
  if ((v as unknown[]).length > max) bad(`${what} has more than ${max} items`)
  return v as unknown[]
}
function bool (v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') bad(`${what} must be a boolean`)
  return v as boolean
}

export function encodeRequest (r: SyncRequest): Uint8Array {
  switch (r.op) {
    case 'heads': return dagCbor.encode(r.after === undefined ? { v: 1, op: 'heads', limit: r.limit } : { v: 1, op: 'heads', after: r.after, limit: r.limit })
    case 'cids': return dagCbor.encode({ v: 1, op: 'cids', cids: r.cids })
    case 'chain': return dagCbor.encode({ v: 1, op: 'chain', ranges: r.ranges.map((x) => ({ author: x.author, from: x.from, to: x.to })), limit: r.limit })
  }
}

export function decodeRequest (b: Uint8Array, cap: number): SyncRequest {
  const m = decode(b, cap, 'sync request')
  switch (m.op) {
    case 'heads': {
      const limit = int(m.limit, 'heads.limit', 1, SYNC_LIMITS.maxHeads)
      return m.after === undefined ? { op: 'heads', limit } : { op: 'heads', after: bytes(m.after, 'heads.after', 32), limit }
    }
    case 'cids':
      return { op: 'cids', cids: list(m.cids, 'cids', SYNC_LIMITS.maxCids).map((c, i) => cid(c, `cids[${i}]`)) }
    case 'chain': {
      const ranges = list(m.ranges, 'ranges', SYNC_LIMITS.maxRanges).map((x, i) => {
        if (x === null || typeof x !== 'object') bad(`ranges[${i}] must be a map`)
        const o = x as Record<string, unknown>
        const from = int(o.from, `ranges[${i}].from`)
        const to = int(o.to, `ranges[${i}].to`)
        if (to < from) bad(`ranges[${i}]: to < from`)
        return { author: bytes(o.author, `ranges[${i}].author`, 32), from, to }
      })
      return { op: 'chain', ranges, limit: int(m.limit, 'chain.limit', 1, SYNC_LIMITS.maxEntries) }
    }
    default:
      return bad(`unknown sync op ${String(m.op).slice(0, 32)}`)
  }
}

export function encodeHeadsResponse (r: HeadsResponse): Uint8Array {
  return dagCbor.encode({ v: 1, genesis: r.genesis, size: r.size, heads: r.heads.map((h) => ({ author: h.author, seq: h.seq, cid: h.cid })), more: r.more })
}

export function decodeHeadsResponse (b: Uint8Array, cap: number): HeadsResponse {
  const m = decode(b, cap, 'heads response')
  const genesis = m.genesis === null ? null : cid(m.genesis, 'genesis')
  const heads = list(m.heads, 'heads', SYNC_LIMITS.maxHeads).map((x, i) => {
    if (x === null || typeof x !== 'object') bad(`heads[${i}] must be a map`)
    const o = x as Record<string, unknown>
    return { author: bytes(o.author, `heads[${i}].author`, 32), seq: int(o.seq, `heads[${i}].seq`), cid: cid(o.cid, `heads[${i}].cid`) }
  })
  return { genesis, size: int(m.size, 'size'), heads, more: bool(m.more, 'more') }
}

export function encodeEntriesResponse (r: EntriesResponse): Uint8Array {
  return dagCbor.encode({ v: 1, entries: r.entries.map((e) => ({ pos: e.pos, env: e.env })), more: r.more })
}

export function decodeEntriesResponse (b: Uint8Array, cap: number): EntriesResponse {
  const m = decode(b, cap, 'entries response')
  const entries = list(m.entries, 'entries', SYNC_LIMITS.maxEntries).map((x, i) => {
    if (x === null || typeof x !== 'object') bad(`entries[${i}] must be a map`)
    const o = x as Record<string, unknown>
    return { pos: int(o.pos, `entries[${i}].pos`), env: bytes(o.env, `entries[${i}].env`) }
  })
  return { entries, more: bool(m.more, 'more') }
}

export function encodeAnnouncement (a: Announcement): Uint8Array {
  const o: Record<string, unknown> = { v: 1, cid: a.cid, author: a.author, seq: a.seq }
  if (a.env !== undefined) o.env = a.env
  if (a.n !== undefined) o.n = a.n
  return dagCbor.encode(o)
}

export function decodeAnnouncement (b: Uint8Array, cap: number): Announcement {
  const m = decode(b, cap, 'announcement')
  const a: Announcement = { cid: cid(m.cid, 'cid'), author: bytes(m.author, 'author', 32), seq: int(m.seq, 'seq') }
  if (m.env !== undefined) a.env = bytes(m.env, 'env', undefined, cap)
  if (m.n !== undefined) a.n = int(m.n, 'n', 1)
  return a
}
