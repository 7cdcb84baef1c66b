/**
 * The persistent ledger store on `level` (classic-level/LevelDB in Node,
 * browser-level/IndexedDB in browsers; the same abstract-level API). No node:
 * imports here, so the browser build uses this file unchanged.
 *
 * Layout (utf8 keys, byte values; numbers zero-padded to 12 digits so that
 * lexicographic order is numeric order):
 *
 *   log!<pos>                    envelope bytes, in append order (pos 0 = genesis)
 *   cid!<cid>                    pos
 *   author!<hex>!<seq>           pos
 *   round!<round>!<pos>          (empty)  round-bearing entries
 *   type!<type>!<pos>            (empty)
 *   meta!count                   number of entries (written in the same batch)
 *
 * Durability: every append is one atomic LevelDB batch written with
 * { sync: true } (fsync of the write-ahead log before the call returns), so an
 * append that returned survives kill -9 and power loss, and a torn append
 * leaves no partial state (the batch is atomic).
 *
 * On open the store re-verifies the whole log in order (decoding, CIDs,
 * signatures, every ledger rule). A damaged store is never used silently: it
 * throws LedgerCorruptionError with a report of the good prefix and the lost
 * range, or (onCorruption: 'report') opens read-only with that report.
 */
import { Level } from 'level'
import { utf8 } from './bytes.ts'
import { LedgerCorruptionError, LedgerStoreError, LedgerVerificationError, type CorruptionReport } from './errors.ts'
import { decodeEnvelope, type EntryType, type SignedEntry } from './entry.ts'
import type { Verifier } from './signature.ts'
import { LedgerState, type EntryMeta } from './state.ts'
import { verifySignatures } from './verify.ts'

const pad = (n: number): string => n.toString().padStart(12, '0')
const dec = new TextDecoder()
const num = (v: Uint8Array): number => Number(dec.decode(v))
/** A plain Uint8Array view (classic-level hands out Buffers; callers compare bytes). */
const plain = (v: Uint8Array): Uint8Array => (v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength))

export const keys = {
  log: (pos: number) => `log!${pad(pos)}`,
  cid: (cid: string) => `cid!${cid}`,
  author: (hex: string, seq: number) => `author!${hex}!${pad(seq)}`,
  round: (round: number, pos: number) => `round!${pad(round)}!${pad(pos)}`,
  type: (type: string, pos: number) => `type!${type}!${pad(pos)}`,
  count: 'meta!count'
}

export type LedgerDb = Level<string, Uint8Array>

export interface StoreOpenOptions {
  /** Directory (Node) or IndexedDB name (browser). Ignored when `db` is given. */
  location?: string
  /** An already constructed abstract-level database with utf8 keys and Uint8Array values. */
  db?: LedgerDb
  verifier: Verifier
  /** 'throw' (default): a damaged store throws LedgerCorruptionError. 'report': open read-only with the report. */
  onCorruption?: 'throw' | 'report'
  /** Signatures checked concurrently while re-verifying (default 256). */
  verifyBatch?: number
  /** Create an empty store when there is none (default true; inspection tools pass false). */
  createIfMissing?: boolean
}

export interface EntryFilter { type?: EntryType, author?: string, round?: number }

/**
 * Recently written or read envelopes kept in memory, by position (a position's bytes never
 * change once written). Why (issue #4): a peer serves each new entry to the peers that pull it
 * (ledger sync's chain and CID requests), checks gossip duplicates against the stored bytes and
 * re-reads its last checkpoint every round; each of those was a LevelDB read on libuv's thread
 * pool, queued behind the synced batch writes (~14 ms each on the benchmark's disk) of every peer
 * in the process. The newest entries are the ones asked for.
 */
const RECENT_ENTRIES = 4096
const RECENT_BYTES = 16 * 1024 * 1024

export class LedgerStore {
  readonly db: LedgerDb
  readonly state: LedgerState
  /** Set when the store is damaged; the store is then read-only. */
  readonly report: CorruptionReport | undefined
  private count: number
  private closed = false
  private readonly recent = new Map<number, Uint8Array>()
  private recentBytes = 0

  private constructor(db: LedgerDb, state: LedgerState, count: number, report: CorruptionReport | undefined) {
    this.db = db
    this.state = state
    this.count = count
    this.report = report
  }

  static async open(opts: StoreOpenOptions): Promise<LedgerStore> {
    const db = opts.db ?? new Level<string, Uint8Array>(required(opts.location), { keyEncoding: 'utf8', valueEncoding: 'view' })
    try {
      await db.open({ createIfMissing: opts.createIfMissing ?? true })
    } catch (err) {
      throw new LedgerStoreError(`cannot open ledger store: ${(err as Error).message}`, { cause: err })
    }
    const { state, report } = await replay(db, opts.verifier, opts.verifyBatch ?? 256)
    if (report.firstProblem !== undefined) {
      if ((opts.onCorruption ?? 'throw') === 'throw') {
        await db.close()
        throw new LedgerCorruptionError(report)
      }
      // Read-only: `size` covers everything stored, so inspection (tessera ledger show) can list it.
      const stored = Number.isSafeInteger(report.expected) ? Math.max(report.expected, state.size) : state.size
      return new LedgerStore(db, state, stored, report)
    }
    return new LedgerStore(db, state, state.size, undefined)
  }

  get size(): number { return this.count }

  /**
   * Durably append entries that `state.prepare` accepted, as one synced batch.
   * Resolves only once LevelDB has fsynced the batch.
   */
  async write(entries: ReadonlyArray<{ signed: SignedEntry, meta: Pick<EntryMeta, 'author' | 'seq' | 'type'> & { round?: number } }>): Promise<void> {
    if (this.closed) throw new LedgerStoreError('the ledger store is closed')
    if (this.report !== undefined) throw new LedgerStoreError('the ledger store is damaged and open read-only')
    const ops: Array<{ type: 'put', key: string, value: Uint8Array }> = []
    const empty = new Uint8Array(0)
    let pos = this.count
    for (const { signed, meta } of entries) {
      const p = utf8(String(pos))
      ops.push({ type: 'put', key: keys.log(pos), value: signed.envelope })
      ops.push({ type: 'put', key: keys.cid(signed.cid.toString()), value: p })
      ops.push({ type: 'put', key: keys.author(meta.author, meta.seq), value: p })
      ops.push({ type: 'put', key: keys.type(meta.type, pos), value: empty })
      if (meta.round !== undefined) ops.push({ type: 'put', key: keys.round(meta.round, pos), value: empty })
      pos++
    }
    ops.push({ type: 'put', key: keys.count, value: utf8(String(pos)) })
    try {
      await this.db.batch(ops, { sync: true })
    } catch (err) {
      throw new LedgerStoreError(`ledger write failed: ${(err as Error).message}`, { cause: err })
    }
    this.count = pos
    let at = pos - entries.length
    for (const { signed } of entries) this.remember(at++, signed.envelope)
  }

  private remember(pos: number, env: Uint8Array): void {
    if (this.recent.has(pos) || env.length > RECENT_BYTES / 16) return
    // Own the bytes as a plain Uint8Array: a view into a larger (network) buffer would pin it, or
    // change with it (and Buffer#slice is a view, hence the copy through the constructor).
    if (env.constructor !== Uint8Array || env.byteOffset !== 0 || env.byteLength !== env.buffer.byteLength) env = new Uint8Array(env)
    this.recent.set(pos, env)
    this.recentBytes += env.length
    for (const [p, e] of this.recent) {
      if (this.recent.size <= RECENT_ENTRIES && this.recentBytes <= RECENT_BYTES) break
      this.recent.delete(p)
      this.recentBytes -= e.length
    }
  }

  async getByPosition(pos: number): Promise<Uint8Array | undefined> {
    const hit = this.recent.get(pos)
    if (hit !== undefined) return hit
    const v = await this.db.get(keys.log(pos))
    if (v === undefined) return undefined
    const out = plain(v)
    if (pos < this.count) this.remember(pos, out)
    return out
  }

  async getByCid(cid: string): Promise<Uint8Array | undefined> {
    const p = await this.db.get(keys.cid(cid))
    return p === undefined ? undefined : await this.getByPosition(num(p))
  }

  /** Positions matching a filter, in append order, from the indexes. */
  async positions(filter: EntryFilter = {}): Promise<number[]> {
    let out: number[] | undefined
    const intersect = (xs: number[]): void => {
      if (out === undefined) { out = xs; return }
      const set = new Set(xs)
      out = out.filter((x) => set.has(x))
    }
    if (filter.author !== undefined) {
      const xs: number[] = []
      for await (const v of this.db.values({ gte: `author!${filter.author}!`, lt: `author!${filter.author}!~` })) xs.push(num(v))
      intersect(xs.sort((a, b) => a - b))
    }
    if (filter.type !== undefined) {
      const xs: number[] = []
      for await (const k of this.db.keys({ gte: `type!${filter.type}!`, lt: `type!${filter.type}!~` })) xs.push(Number(k.slice(k.lastIndexOf('!') + 1)))
      intersect(xs)
    }
    if (filter.round !== undefined) {
      const xs: number[] = []
      const r = pad(filter.round)
      for await (const k of this.db.keys({ gte: `round!${r}!`, lt: `round!${r}!~` })) xs.push(Number(k.slice(k.lastIndexOf('!') + 1)))
      intersect(xs.sort((a, b) => a - b))
    }
    return out ?? Array.from({ length: this.count }, (_, i) => i)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.db.close()
  }
}

function required(location: string | undefined): string {
  if (location === undefined || location === '') throw new LedgerStoreError('a store location (or db) is required')
  return location
}

/** Re-verify the log in order; stop at the first problem and report it. */
async function replay(db: LedgerDb, verifier: Verifier, batch: number): Promise<{ state: LedgerState, report: CorruptionReport }> {
  const state = new LedgerState()
  const countBytes = await db.get(keys.count)
  const expected = countBytes === undefined ? 0 : num(countBytes)
  const report: CorruptionReport = { expected, good: 0 }
  const problem = (position: number, rule: NonNullable<CorruptionReport['firstProblem']>['rule'], message: string, cid?: string): void => {
    report.firstProblem = cid === undefined ? { position, rule, message } : { position, rule, message, cid }
    report.lost = { from: position, to: Math.max(expected, position + 1) }
  }
  if (!Number.isSafeInteger(expected) || expected < 0) {
    problem(0, 'index', 'meta!count is not a count')
    return { state, report }
  }

  let pending: Array<{ pos: number, bytes: Uint8Array }> = []
  let nextPos = 0
  let stopped = false
  const flush = async (): Promise<void> => {
    const items = pending
    pending = []
    // Decode and check signatures concurrently; fold into the state in order.
    const decoded = await Promise.all(items.map(async ({ pos, bytes }) => {
      try {
        const signed = decodeEnvelope(bytes)
        const gen = pos === 0 ? null : state.genesisCid
        await verifySignatures(signed, gen, verifier)
        return { pos, signed }
      } catch (err) {
        return { pos, err }
      }
    }))
    for (const d of decoded) {
      if (stopped) return
      try {
        if ('err' in d) throw d.err
        state.apply(d.signed, d.pos)
        report.good = d.pos + 1
      } catch (err) {
        const e = err as Error
        const rule = err instanceof LedgerVerificationError ? err.rule : 'malformed'
        problem(d.pos, rule, e.message, err instanceof LedgerVerificationError ? err.cid : undefined)
        stopped = true
      }
    }
  }
  for await (const [key, value] of db.iterator({ gte: 'log!', lt: 'log!~' })) {
    const pos = Number(key.slice(4))
    if (pos !== nextPos) {
      await flush()
      if (!stopped) { problem(nextPos, 'missing', `log entry at position ${nextPos} is missing`); stopped = true }
      break
    }
    pending.push({ pos, bytes: plain(value) })
    nextPos++
    // The genesis alone first: every later signature's domain needs its CID.
    if (pos === 0 || pending.length >= batch) await flush()
    if (stopped) break
  }
  if (!stopped) await flush()
  if (!stopped && nextPos !== expected) {
    if (nextPos < expected) problem(nextPos, 'missing', `${expected - nextPos} entries at positions [${nextPos}, ${expected}) are missing`)
    else problem(expected, 'index', `the log holds ${nextPos} entries but meta!count says ${expected}`)
  }
  return { state, report }
}
