/**
 * The peer's own ledger entries. Each entry takes its (seq, prev) from the
 * author's chain head at creation time (src/ledger/author.ts makeEntry), so two
 * entries built concurrently would share a seq: equivocation. This writer makes
 * creation + verified append one serialized step.
 *
 * It also maps the round machine's `append` outputs to E's entry bodies
 * (src/gossip-fl/round/ledger.ts): a receipt acknowledges the CIDs of the
 * contribution entries it holds, and a plan may only name contributors whose
 * contribution entries the ledger already holds, so both wait (bounded) for
 * those entries to arrive through ledger sync, pulling from their authors.
 * A member's per-machine checkpoint body is not written here: the ledger's
 * checkpoint needs co-signatures over the ledger's core (checkpoint-cosign.ts).
 */
import type { CID } from 'multiformats/cid'
import { makeEntry, type Ledger, type SignedEntry, type Signer, type EntryType, type BodyOf } from '../../ledger/index.ts'
import { contributionBody, receiptBody, planBody } from '../../gossip-fl/round/ledger.ts'
import type { LedgerBody } from '../../gossip-fl/round/machine.ts'

export interface LedgerWriterComponents {
  ledger: Ledger
  signer: Signer
  /** fetch entries from a peer (ledger sync), to satisfy references */
  pullFrom: (peer: string) => Promise<unknown>
  /**
   * fetch the entries `peer` authored from `peer` (ledger sync's `pullChain`): enough for a missing
   * contribution entry, which depends on nothing but the committee; default `pullFrom`
   */
  pullChain?: (peer: string) => Promise<unknown>
  /**
   * Called with each own entry right after its append (e.g. ledger sync's `announceEntry`, so the
   * entry leaves now rather than at the sync's next scan). Its errors are ignored.
   */
  appended?: (e: SignedEntry) => void
  /**
   * Subscribe to entries other peers' sync brings into the ledger (returns the remover; e.g. ledger
   * sync's 'entry' event). With it the bounded waits below wake on the entry they wait for;
   * without it they poll (50 ms, avg. 25 ms late per wait on the round's critical path).
   */
  onEntry?: (listener: () => void) => () => void
}

export interface LedgerWriterOptions {
  /** how long a receipt or a plan waits for the contribution entries it names (ms) */
  referenceWaitMs: number
}

export class LedgerWriter {
  private readonly c: LedgerWriterComponents
  private readonly o: LedgerWriterOptions
  private queue: Promise<unknown> = Promise.resolve()
  /** errors of the last appends, for logs */
  readonly failures: string[] = []
  /** waiters of `nextEntry` woken by our own appends */
  private readonly local = new Set<() => void>()

  constructor (c: LedgerWriterComponents, o: LedgerWriterOptions) {
    this.c = c
    this.o = o
  }

  /** Create and append our next entry of `type` (serialized with every other own entry). */
  async write<T extends Exclude<EntryType, 'genesis'>>(type: T, body: BodyOf[T] | (() => BodyOf[T]), ts?: number): Promise<SignedEntry<T>> {
    const run = async (): Promise<SignedEntry<T>> => {
      const b = typeof body === 'function' ? (body as () => BodyOf[T])() : body
      const e = await makeEntry(this.c.ledger.state, this.c.signer, type, b, ts)
      await this.c.ledger.append(e)
      try { this.c.appended?.(e) } catch { /* the hook's own failure: the scan announces it */ }
      for (const w of [...this.local]) w()
      return e
    }
    const p = this.queue.then(run, run)
    this.queue = p.catch(() => undefined)
    return await p
  }

  /** Append the ledger entry for one of the machine's `append` outputs. Never throws (failures are recorded). */
  async fromRound (e: LedgerBody): Promise<SignedEntry | undefined> {
    try {
      switch (e.type) {
        case 'contribution':
          return await this.write('contribution', contributionBody(e.round, e.retry, e.commitments))
        case 'receipt': {
          const wanted = e.held.map(h => h.c)
          await this.waitForContributions(e.round, e.retry, wanted)
          return await this.write('receipt', () => receiptBody(e.round, e.retry, this.contributionCids(e.round, e.retry, wanted)))
        }
        case 'plan': {
          const wanted = e.groups.flatMap(g => g.members)
          await this.waitForContributions(e.round, e.retry, wanted)
          return await this.write('plan', planBody(e.round, e.retry, e.groups))
        }
        case 'checkpoint':
          return undefined
      }
    } catch (err) {
      const extra = e.type === 'plan' ? ` (plan groups ${e.groups.map(g => g.members.length).join('+')}, refused ${e.refused.map(r => `${r.peer.slice(0, 6)}:${r.reason}`).join(',') || 'none'})` : ''
      this.record(`${e.type}: ${(err as Error).name}: ${(err as Error).message}${extra}`)
      return undefined
    }
  }

  /**
   * Resolve at the next entry the ledger gets (one of ours, or one sync brings when `onEntry` is
   * wired), or after `ms`, whichever comes first: the step of the bounded waits here and in
   * checkpoint-cosign.ts, which re-check their condition after it.
   */
  async nextEntry (ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      let off: (() => void) | undefined
      const done = (): void => { clearTimeout(t); this.local.delete(done); off?.(); off = undefined; resolve() }
      const t = setTimeout(done, ms)
      this.local.add(done)
      try { off = this.c.onEntry?.(done) } catch { off = undefined }
    })
  }

  private record (s: string): void {
    this.failures.push(s)
    if (this.failures.length > 64) this.failures.shift()
  }

  /** CIDs of the contribution entries of `peers` in (round, retry) that the ledger holds, in `peers` order. */
  contributionCids (round: number, retry: number, peers: readonly string[]): CID[] {
    const state = this.c.ledger.state
    const rec = state.rounds.get(`${round}/${retry}`)
    const out: CID[] = []
    for (const p of peers) {
      const c = rec?.contributions.get(p)
      const meta = c === undefined ? undefined : state.entries.get(c.cid)
      if (meta !== undefined) out.push(meta.cid)
    }
    return out
  }

  /**
   * Wait (bounded by `waitMs`) until the ledger holds the receipt entries of `members` for
   * (round, retry), pulling from them halfway. A checkpoint's heads decide which receipts it
   * covers, and a member whose receipt is not covered counts as `missed` in the round's
   * reputation evidence (E's LedgerState): a proposer that builds its core before the receipts
   * reached its ledger penalises honest members.
   */
  async waitForReceipts (round: number, retry: number, members: readonly string[], waitMs: number): Promise<boolean> {
    const end = Date.now() + waitMs
    let pulled = false
    for (let i = 0; i < 10_000; i++) {
      const rec = this.c.ledger.state.rounds.get(`${round}/${retry}`)
      const miss = members.filter(p => rec?.receipts.has(p) !== true)
      if (miss.length === 0) return true
      if (Date.now() >= end) return false
      if (!pulled && Date.now() >= end - waitMs / 2) {
        pulled = true
        await Promise.allSettled(miss.map(async p => await this.c.pullFrom(p)))
        continue
      }
      await this.nextEntry(Math.min(25, Math.max(1, end - Date.now())))
    }
    return false
  }

  private missing (round: number, retry: number, peers: readonly string[]): string[] {
    const rec = this.c.ledger.state.rounds.get(`${round}/${retry}`)
    return peers.filter(p => rec?.contributions.has(p) !== true)
  }

  /** Wait (bounded) until the ledger holds the contribution entries of `peers`, pulling from their authors. */
  async waitForContributions (round: number, retry: number, peers: readonly string[]): Promise<boolean> {
    const end = Date.now() + this.o.referenceWaitMs
    let pulled = false
    for (let i = 0; i < 10_000; i++) {
      const miss = this.missing(round, retry, peers)
      if (miss.length === 0) return true
      if (Date.now() >= end) return false
      if (!pulled && Date.now() >= end - this.o.referenceWaitMs / 2) {
        pulled = true
        const pull = this.c.pullChain ?? this.c.pullFrom
        await Promise.allSettled(miss.map(async p => await pull(p)))
        continue
      }
      await this.nextEntry(Math.min(50, Math.max(1, end - Date.now())))
    }
    return false
  }
}
