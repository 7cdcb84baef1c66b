/**
 * The serving half of `ledger-sync`: answer heads, entries-by-CID and
 * author-chain requests from the local ledger. Responses stay under a byte
 * budget (the protocol's response cap minus framing headroom) and a count cap;
 * a response cut short says `more: true` and the client asks again. Only
 * entries the ledger verified and stored are ever served.
 */
import type { CID } from 'multiformats/cid'
import type { Ledger } from '../../ledger/index.ts'
import { toHex, compareBytes } from '../../ledger/bytes.ts'
import {
  SYNC_LIMITS, decodeRequest, encodeEntriesResponse, encodeHeadsResponse,
  type HeadInfo, type ServedEntry, type SyncRequest
} from './codec.ts'

/** Room left in a response for the CBOR framing of the entries list (per entry ~16 bytes, plus the map). */
const ENTRY_OVERHEAD = 32
const HEAD_BYTES = 120

export interface ServeLimits {
  /** largest request accepted */
  maxRequestBytes: number
  /** largest response produced */
  maxResponseBytes: number
}

/** Answer one encoded request (throws SyncProtocolError on a malformed one: the caller sees RemoteError). */
export async function serveSyncRequest (ledger: Ledger, request: Uint8Array, limits: ServeLimits): Promise<Uint8Array> {
  const req = decodeRequest(request, limits.maxRequestBytes)
  const budget = limits.maxResponseBytes - 4096
  switch (req.op) {
    case 'heads': return serveHeads(ledger, req, budget)
    case 'cids': return await serveCids(ledger, req.cids, budget)
    case 'chain': return await serveChain(ledger, req, budget)
  }
}

function serveHeads (ledger: Ledger, req: Extract<SyncRequest, { op: 'heads' }>, budget: number): Uint8Array {
  const state = ledger.state
  const all = state.heads()
  const start = req.after === undefined ? 0 : firstAfter(all, req.after)
  const limit = Math.min(req.limit, Math.max(1, Math.floor(budget / HEAD_BYTES)))
  const heads: HeadInfo[] = all.slice(start, start + limit)
  return encodeHeadsResponse({ genesis: state.genesisCid, size: state.size, heads, more: start + heads.length < all.length })
}

function firstAfter (heads: Array<{ author: Uint8Array }>, after: Uint8Array): number {
  let lo = 0
  let hi = heads.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareBytes(heads[mid]!.author, after) <= 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

async function envelopeAt (ledger: Ledger, cid: string): Promise<ServedEntry | undefined> {
  const meta = ledger.state.entries.get(cid)
  if (meta === undefined) return undefined
  const env = await ledger.store.getByPosition(meta.position)
  return env === undefined ? undefined : { pos: meta.position, env }
}

async function serveCids (ledger: Ledger, cids: CID[], budget: number): Promise<Uint8Array> {
  const entries: ServedEntry[] = []
  let used = 0
  let more = false
  for (const c of cids) {
    const e = await envelopeAt(ledger, c.toString())
    if (e === undefined) continue
    if (entries.length > 0 && used + e.env.length + ENTRY_OVERHEAD > budget) { more = true; break }
    entries.push(e)
    used += e.env.length + ENTRY_OVERHEAD
  }
  return encodeEntriesResponse({ entries, more })
}

async function serveChain (ledger: Ledger, req: Extract<SyncRequest, { op: 'chain' }>, budget: number): Promise<Uint8Array> {
  const entries: ServedEntry[] = []
  const limit = Math.min(req.limit, SYNC_LIMITS.maxEntries)
  let used = 0
  let more = false
  outer:
  for (const r of req.ranges) {
    const chain = ledger.state.chains.get(toHex(r.author))
    if (chain === undefined) continue
    const to = Math.min(r.to, chain.cids.length - 1)
    for (let seq = r.from; seq <= to; seq++) {
      if (entries.length >= limit) { more = true; break outer }
      const e = await envelopeAt(ledger, chain.cids[seq]!)
      if (e === undefined) continue
      if (entries.length > 0 && used + e.env.length + ENTRY_OVERHEAD > budget) { more = true; break outer }
      entries.push(e)
      used += e.env.length + ENTRY_OVERHEAD
    }
  }
  return encodeEntriesResponse({ entries, more })
}
