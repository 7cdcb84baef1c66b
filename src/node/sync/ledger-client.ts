/**
 * The fetching half of `ledger-sync`: requests to one peer, with the
 * protocol's caps and a deadline, and strict checks on what comes back. Every
 * envelope must decode and must be one we asked for (the CID requested, or an
 * entry of the requested author within the requested seq range); anything else
 * condemns the whole response, reports the peer, and throws
 * SyncProtocolError. A truncated response (`more`) is followed by a new
 * request for the rest, and must have made progress.
 */
import type { CID } from 'multiformats/cid'
import { decodeEnvelope, toHex, type SignedEntry } from '../../ledger/index.ts'
import type { ProtocolSpec } from '../protocol-ids.ts'
import type { Transport } from '../transport.ts'
import {
  SYNC_LIMITS, decodeEntriesResponse, decodeHeadsResponse, encodeRequest,
  type ChainRange, type HeadInfo, type HeadsResponse, type ServedEntry, type SyncRequest
} from './codec.ts'
import { SyncNotStartedError, SyncProtocolError } from './errors.ts'
import type { Candidate } from './ingest.ts'

export type ClientReport = (peer: string, kind: 'invalid-entry' | 'bad-response', detail: string, cid?: string) => void

export interface SyncClientInit {
  transport: Transport
  protocol: ProtocolSpec
  requestTimeoutMs: number
  /** aborts in-flight requests (the service's lifetime) */
  signal: () => AbortSignal
  /** false once the service stopped */
  live: () => boolean
  report: ClientReport
}

export class SyncClient {
  private readonly i: SyncClientInit
  constructor (init: SyncClientInit) { this.i = init }

  private live (): boolean { return this.i.live() }
  private report (peer: string, kind: 'invalid-entry' | 'bad-response', detail: string, cid?: string): void { this.i.report(peer, kind, detail, cid) }

  private async request (peer: string, req: SyncRequest): Promise<Uint8Array> {
    if (!this.live()) throw new SyncNotStartedError()
    return await this.i.transport.send(peer, this.i.protocol.id, encodeRequest(req), {
      timeoutMs: this.i.requestTimeoutMs,
      maxRequestBytes: this.i.protocol.maxRequestBytes,
      maxResponseBytes: this.i.protocol.maxResponseBytes,
      signal: this.i.signal()
    })
  }

  /** Decode a response's envelopes; any that does not decode, or that `wanted` refuses, condemns the whole response. */
  private served (peer: string, entries: ServedEntry[], wanted: (s: SignedEntry) => boolean): Candidate[] {
    const out: Candidate[] = []
    for (const e of entries) {
      let s: SignedEntry
      try {
        s = decodeEnvelope(e.env)
      } catch (err) {
        this.report(peer, 'invalid-entry', `served envelope does not decode: ${(err as Error).message}`)
        throw new SyncProtocolError(`${peer} served a malformed envelope`)
      }
      if (!wanted(s)) {
        this.report(peer, 'bad-response', `served ${s.cid.toString()}, which was not asked for`, s.cid.toString())
        throw new SyncProtocolError(`${peer} served an entry that was not asked for`)
      }
      out.push({ signed: s, pos: e.pos, from: peer })
    }
    return out
  }

  private decodeEntries (peer: string, bytes: Uint8Array): { entries: ServedEntry[], more: boolean } {
    try {
      return decodeEntriesResponse(bytes, this.i.protocol.maxResponseBytes)
    } catch (err) {
      this.report(peer, 'bad-response', (err as Error).message)
      throw err
    }
  }

  /** Entries by CID from one peer (all of them, over as many requests as the response budget needs). */
  async fetchCids (peer: string, cids: CID[]): Promise<Candidate[]> {
    const out: Candidate[] = []
    let todo = [...new Map(cids.map((c) => [c.toString(), c])).values()]
    for (let round = 0; todo.length > 0 && round < 1 + cids.length; round++) {
      const batch = todo.slice(0, SYNC_LIMITS.maxCids)
      const asked = new Set(batch.map((c) => c.toString()))
      const r = this.decodeEntries(peer, await this.request(peer, { op: 'cids', cids: batch }))
      const got = this.served(peer, r.entries, (s) => asked.has(s.cid.toString()))
      out.push(...got)
      const have = new Set(got.map((c) => c.signed.cid.toString()))
      // Unknown CIDs are skipped by the server; only continue past a truncated response.
      todo = r.more && got.length > 0 ? [...batch.filter((c) => !have.has(c.toString())), ...todo.slice(batch.length)] : todo.slice(batch.length)
    }
    return out
  }

  /** Author chain ranges from one peer, re-asking after truncated responses (each must make progress). */
  async fetchChain (peer: string, ranges: ChainRange[], maxEntries = Number.MAX_SAFE_INTEGER): Promise<Candidate[]> {
    const out: Candidate[] = []
    let todo = ranges.filter((r) => r.to >= r.from)
    while (todo.length > 0 && out.length < maxEntries) {
      const batch = todo.slice(0, SYNC_LIMITS.maxRanges)
      const byAuthor = new Map(batch.map((r) => [toHex(r.author), r]))
      const limit = Math.min(SYNC_LIMITS.maxEntries, Math.max(1, maxEntries - out.length))
      const r = this.decodeEntries(peer, await this.request(peer, { op: 'chain', ranges: batch, limit }))
      const got = this.served(peer, r.entries, (s) => {
        const q = byAuthor.get(toHex(s.entry.author))
        return q !== undefined && s.entry.seq >= q.from && s.entry.seq <= q.to
      })
      out.push(...got)
      if (!r.more) { todo = todo.slice(batch.length); continue }
      if (got.length === 0) {
        this.report(peer, 'bad-response', 'a truncated response with no entries')
        throw new SyncProtocolError(`${peer} makes no progress`)
      }
      const top = new Map<string, number>()
      for (const c of got) {
        const a = toHex(c.signed.entry.author)
        top.set(a, Math.max(top.get(a) ?? -1, c.signed.entry.seq))
      }
      // Ranges are served in order: the last author served may be partial, earlier ones are done.
      const lastAuthor = toHex(got[got.length - 1]!.signed.entry.author)
      const idx = batch.findIndex((q) => toHex(q.author) === lastAuthor)
      const remaining = batch.slice(idx).map((q) => (toHex(q.author) === lastAuthor ? { ...q, from: top.get(lastAuthor)! + 1 } : q)).filter((q) => q.to >= q.from)
      todo = [...remaining, ...todo.slice(batch.length)]
    }
    return out
  }

  /** The peer's whole heads summary (paged). */
  async fetchHeads (peer: string): Promise<HeadsResponse> {
    const heads: HeadInfo[] = []
    let after: Uint8Array | undefined
    let first: HeadsResponse | undefined
    for (let page = 0; page < 1000; page++) {
      const req: SyncRequest = after === undefined ? { op: 'heads', limit: SYNC_LIMITS.maxHeads } : { op: 'heads', after, limit: SYNC_LIMITS.maxHeads }
      let r: HeadsResponse
      try {
        r = decodeHeadsResponse(await this.request(peer, req), this.i.protocol.maxResponseBytes)
      } catch (err) {
        if ((err as Error).name === 'SyncProtocolError') this.report(peer, 'bad-response', (err as Error).message)
        throw err
      }
      first ??= r
      heads.push(...r.heads)
      if (!r.more || r.heads.length === 0) break
      after = r.heads[r.heads.length - 1]!.author
    }
    return { genesis: first!.genesis, size: first!.size, heads, more: false }
  }
}
