/**
 * Ledger: the verified state joined to its durable store. Every entry is
 * decoded, its signatures verified, every ledger rule checked, and only then
 * written (one synced batch) and folded into the state. A bad entry is rejected
 * with a LedgerVerificationError and never stored. Appends are serialized.
 */
import { LedgerVerificationError } from './errors.ts'
import { decodeEnvelope, type SignedEntry } from './entry.ts'
import type { Verifier } from './signature.ts'
import type { LedgerState } from './state.ts'
import { LedgerStore, type StoreOpenOptions } from './store.ts'
import { verifySignatures } from './verify.ts'

export class Ledger {
  readonly store: LedgerStore
  readonly verifier: Verifier
  private queue: Promise<unknown> = Promise.resolve()
  private readonly listeners = new Set<(entries: readonly SignedEntry[]) => void>()

  private constructor(store: LedgerStore, verifier: Verifier) {
    this.store = store
    this.verifier = verifier
  }

  /** Open (and fully re-verify) a stored ledger; see LedgerStore.open. */
  static async open(opts: StoreOpenOptions): Promise<Ledger> {
    return new Ledger(await LedgerStore.open(opts), opts.verifier)
  }

  /**
   * Call `listener` with the entries of every append as soon as they have passed every check
   * (signatures and every ledger rule), in ledger order, whoever appends them (own writes, sync,
   * catch-up), just BEFORE their synced write: a consumer that needs only verified content (the
   * round machine's contributions, issue #4) does not wait for the fsync (~14 ms each on the
   * benchmark's disk, queued behind every other store write of the process). A write that then
   * fails (a disk error) leaves them out of the state. Returns the unsubscribe. A listener must
   * not throw (errors are swallowed) and must not append.
   */
  onVerified(listener: (entries: readonly SignedEntry[]) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  get state(): LedgerState { return this.store.state }
  get size(): number { return this.store.size }

  /** Verify and durably append one entry (envelope bytes or an already decoded SignedEntry). */
  async append(entry: Uint8Array | SignedEntry): Promise<SignedEntry> {
    // One entry: checked, written (fsync), then committed to the state.
    const [signed] = await this.appendMany([entry])
    return signed!
  }

  /**
   * Verify and durably append entries in order, in one synced batch. Entries
   * are checked one by one against the state; the valid prefix is written and
   * the first bad entry's LedgerVerificationError is then thrown (nothing from
   * it or after it is stored). The in-memory state always equals the disk.
   */
  async appendMany(entries: ReadonlyArray<Uint8Array | SignedEntry>): Promise<SignedEntry[]> {
    const run = async (): Promise<SignedEntry[]> => {
      const state = this.state
      const accepted: SignedEntry[] = []
      const commits: Array<() => unknown> = []
      let failure: unknown
      try {
        // Decode everything first (a SignedEntry is re-derived from its envelope:
        // what is checked is exactly what is stored).
        const decoded: Array<SignedEntry | { err: unknown }> = entries.map((e) => {
          try {
            const env = e instanceof Uint8Array ? e : (e as Partial<SignedEntry> | null)?.envelope
            if (!(env instanceof Uint8Array)) throw new LedgerVerificationError('malformed', 'append takes envelope bytes or a SignedEntry')
            return decodeEnvelope(env)
          } catch (err) {
            return { err }
          }
        })
        // Signatures do not depend on the state (only on the genesis CID): check
        // them concurrently (node:crypto runs them on the thread pool), then fold in order.
        const genesis = state.genesisCid ?? (decoded[0] !== undefined && !('err' in decoded[0]) && decoded[0].entry.type === 'genesis' ? decoded[0].cid : null)
        const sigErrors = await Promise.all(decoded.map(async (d) => {
          if ('err' in d) return d.err
          try {
            // useCache: ledger sync's validator has usually just verified this very envelope.
            await verifySignatures(d, d.entry.type === 'genesis' ? null : genesis, this.verifier, { useCache: true })
            return undefined
          } catch (err) {
            return err
          }
        }))
        for (let i = 0; i < decoded.length; i++) {
          const d = decoded[i]!
          if (sigErrors[i] !== undefined) throw sigErrors[i]
          const s = d as SignedEntry
          const commit = await this.withConflict(() => state.prepare(s, this.store.size + accepted.length))
          if (entries.length > 1) commit() // later entries of the batch may depend on this one
          else commits.push(commit)
          accepted.push(s)
        }
      } catch (err) {
        failure = err
      }
      if (accepted.length > 0) {
        for (const l of this.listeners) {
          try { l(accepted) } catch { /* a listener's failure is not the ledger's */ }
        }
        await this.store.write(accepted.map((s) => ({ signed: s, meta: { author: toHexAuthor(s), seq: s.entry.seq, type: s.entry.type, round: roundOf(s) } })))
        // A single entry is committed to the state only once it is on disk.
        for (const c of commits) c()
      }
      if (failure !== undefined) throw failure
      return accepted
    }
    const p = this.queue.then(run, run)
    this.queue = p.catch(() => {})
    return await p
  }

  /** Attach the stored conflicting envelope to an equivocation error, so the caller can build a proof. */
  private async withConflict<T>(f: () => T): Promise<T> {
    try {
      return f()
    } catch (err) {
      if (err instanceof LedgerVerificationError && err.rule === 'equivocation' && err.conflictCid !== undefined) {
        const conflict = await this.store.getByCid(err.conflictCid)
        const extra: { cid?: string, conflictCid: string, conflict?: Uint8Array } = { conflictCid: err.conflictCid }
        if (err.cid !== undefined) extra.cid = err.cid
        if (conflict !== undefined) extra.conflict = conflict
        throw new LedgerVerificationError('equivocation', err.message.replace(/^\[equivocation\] /, ''), extra)
      }
      throw err
    }
  }

  async getByCid(cid: string): Promise<SignedEntry | undefined> {
    const b = await this.store.getByCid(cid)
    return b === undefined ? undefined : decodeEnvelope(b)
  }

  async close(): Promise<void> {
    await this.queue
    await this.store.close()
  }
}

function toHexAuthor(s: SignedEntry): string {
  let h = ''
  for (const b of s.entry.author) h += b.toString(16).padStart(2, '0')
  return h
}

function roundOf(s: SignedEntry): number | undefined {
  const r = (s.entry.body as { round?: unknown }).round
  return typeof r === 'number' ? r : undefined
}
