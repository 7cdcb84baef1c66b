/**
 * Folding entries received from peers into the local ledger, in dependency
 * order, without ever storing an unverified entry: every candidate goes through
 * Ledger.appendMany (signatures, then every ledger rule, then one synced write).
 *
 * Order. Each candidate carries the position it had in the serving peer's
 * ledger. That peer verified its ledger in append order, so sorting by its
 * positions gives a valid dependency order (genesis, admissions, then chains;
 * a checkpoint after the entries it covers). Entries that still fail on a
 * missing dependency (the rules below in DEFERRED) are kept for a later pass;
 * passes repeat while one of them appended something, so the number of passes
 * is bounded by the number of candidates.
 *
 * Outcomes by ledger rule (src/ledger/errors.ts):
 *   appended                          stored and verified
 *   duplicate, excluded-author        dropped silently (already known / author excluded)
 *   malformed, signature, proof,      dropped, and the peer that served it is reported:
 *   commitment                        these fail whatever else the ledger holds
 *   equivocation                      a second entry at a stored (author, seq): the proof
 *                                     is built and appended (src/ledger/author.ts)
 *   chain-prev                        the entry chains onto an entry we do not hold at
 *                                     its author's previous seq: a fork; the caller
 *                                     fetches that predecessor, which then shows up as
 *                                     an equivocation
 *   any other rule                    deferred: a dependency may still be missing
 */
import {
  LedgerVerificationError, makeEquivocationProof, verifySignatures, toHex,
  type Ledger, type LedgerRule, type SignedEntry, type Signer
} from '../../ledger/index.ts'

export interface Candidate {
  signed: SignedEntry
  /** position in the serving peer's ledger (dependency hint); Infinity when unknown */
  pos: number
  /** the peer it came from (undefined: local) */
  from?: string
  /**
   * who answers if it is provably invalid (default `from`): the author, for an entry whose
   * author's signature was verified on unsigned gossip (ledger-sync.ts onAnnouncement)
   */
  accountable?: string
}

const PROVABLE: ReadonlySet<LedgerRule> = new Set<LedgerRule>(['malformed', 'signature', 'proof', 'commitment'])
const SILENT: ReadonlySet<LedgerRule> = new Set<LedgerRule>(['duplicate', 'excluded-author'])

export interface IngestHooks {
  /** a candidate was stored */
  appended(c: Candidate): void
  /** a peer served an entry that is provably invalid */
  invalid(c: Candidate, err: LedgerVerificationError): void
  /** equivocation seen: the stored and the new envelope; `proof` is the appended proof's CID, if any */
  equivocation(info: { accused: string, seq: number, stored: string, other: string, from?: string, proof?: string, error?: string }): void
}

export interface IngestResult {
  appended: number
  /** still waiting for a dependency */
  deferred: Candidate[]
  /** entries whose prev is not our entry at seq-1 (their predecessors should be fetched) */
  forks: Candidate[]
}

/** Limits on the work one ingest call may do. */
export interface IngestLimits {
  /** candidates appended per Ledger.appendMany call (one synced batch) */
  batch: number
}

export class Ingestor {
  private readonly ledger: Ledger
  private readonly signer: Signer | undefined
  private readonly hooks: IngestHooks
  private readonly limits: IngestLimits
  private lock: Promise<unknown> = Promise.resolve()

  constructor (ledger: Ledger, signer: Signer | undefined, hooks: IngestHooks, limits: IngestLimits) {
    this.ledger = ledger
    this.signer = signer
    this.hooks = hooks
    this.limits = limits
  }

  /** Ingest candidates (serialized with every other ingest on this ledger). */
  async ingest (cands: Candidate[]): Promise<IngestResult> {
    const run = async (): Promise<IngestResult> => await this.run(cands)
    const p = this.lock.then(run, run)
    this.lock = p.catch(() => {})
    return await p
  }

  /** Wait for ingests in progress. */
  async idle (): Promise<void> { await this.lock }

  private async run (input: Candidate[]): Promise<IngestResult> {
    const state = this.ledger.state
    // Deduplicate and drop what we hold; keep a stable dependency order.
    const seen = new Set<string>()
    let pending: Candidate[] = []
    for (const c of input) {
      const id = c.signed.cid.toString()
      if (seen.has(id) || state.entries.has(id)) continue
      seen.add(id)
      pending.push(c)
    }
    pending.sort((a, b) => a.pos - b.pos)
    const forks: Candidate[] = []
    let appended = 0
    for (let pass = 0; pending.length > 0; pass++) {
      const before = appended
      const blocked = new Set<string>()
      const deferred: Candidate[] = []
      // One pass: append in order, skipping authors blocked earlier in the pass.
      while (pending.length > 0) {
        const batch: Candidate[] = []
        const rest: Candidate[] = []
        const nextSeq = new Map<string, number>()
        for (const c of pending) {
          const a = toHex(c.signed.entry.author)
          if (blocked.has(a) || batch.length >= this.limits.batch) { rest.push(c); continue }
          const want = nextSeq.get(a) ?? state.next(a).seq
          const seq = c.signed.entry.seq
          if (seq < want && !nextSeq.has(a)) { await this.conflict(c); continue }
          if (seq !== want) { rest.push(c); continue }
          if (state.genesisCid === null && c.signed.entry.type !== 'genesis') { rest.push(c); continue }
          batch.push(c)
          nextSeq.set(a, want + 1)
        }
        if (batch.length === 0) { deferred.push(...rest); break }
        let failure: unknown
        try {
          await this.ledger.appendMany(batch.map((c) => c.signed))
        } catch (err) {
          failure = err
        }
        let failedAt = -1
        for (let i = 0; i < batch.length; i++) {
          const c = batch[i]!
          if (state.entries.has(c.signed.cid.toString())) { appended++; this.hooks.appended(c); continue }
          if (failedAt < 0) failedAt = i
          else rest.push(c)
        }
        if (failedAt >= 0) {
          const c = batch[failedAt]!
          const a = toHex(c.signed.entry.author)
          const outcome = this.classify(failure)
          if (outcome === 'invalid') this.hooks.invalid(c, failure as LedgerVerificationError)
          else if (outcome === 'equivocation') await this.conflict(c)
          else if (outcome === 'fork') forks.push(c)
          else if (outcome === 'defer') { blocked.add(a); deferred.push(c) }
          else if (outcome === 'error') throw failure
        }
        pending = rest.sort((x, y) => x.pos - y.pos)
      }
      pending = deferred.sort((x, y) => x.pos - y.pos)
      if (appended === before) break
    }
    return { appended, deferred: pending, forks }
  }

  private classify (err: unknown): 'invalid' | 'silent' | 'equivocation' | 'fork' | 'defer' | 'error' {
    if (!(err instanceof LedgerVerificationError)) return 'error'
    if (PROVABLE.has(err.rule)) return 'invalid'
    if (SILENT.has(err.rule)) return 'silent'
    if (err.rule === 'equivocation') return 'equivocation'
    if (err.rule === 'chain-prev') return 'fork'
    return 'defer'
  }

  /**
   * `c` sits at an (author, seq) we already hold. Same CID: a duplicate. A
   * different, validly signed entry: equivocation; build and append the proof
   * (DESIGN "The ledger": anyone who sees both publishes the proof).
   */
  private async conflict (c: Candidate): Promise<void> {
    const state = this.ledger.state
    const author = toHex(c.signed.entry.author)
    const seq = c.signed.entry.seq
    const storedCid = state.chains.get(author)?.cids[seq]
    const other = c.signed.cid.toString()
    if (storedCid === undefined || storedCid === other) return
    if (state.isExcluded(author)) return
    // Two geneses by one author are two networks, not equivocation within one.
    if (c.signed.entry.type === 'genesis' || c.signed.entry.seq === 0 && author === state.genesisAuthor) return
    try {
      await verifySignatures(c.signed, state.genesisCid, this.ledger.verifier)
    } catch (err) {
      if (err instanceof LedgerVerificationError) this.hooks.invalid(c, err)
      return
    }
    const info: Parameters<IngestHooks['equivocation']>[0] = { accused: author, seq, stored: storedCid, other }
    if (c.from !== undefined) info.from = c.from
    if (this.signer === undefined) {
      info.error = 'no signer: the proof was not published'
      this.hooks.equivocation(info)
      return
    }
    const stored = await this.ledger.store.getByCid(storedCid)
    if (stored === undefined) return
    // Our own seq may move under us (another local writer): retry a few times.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const proof = await makeEquivocationProof(state, this.signer, stored, c.signed.envelope)
        await this.ledger.append(proof)
        info.proof = proof.cid.toString()
        delete info.error
        break
      } catch (err) {
        info.error = (err as Error).message
        if (state.isExcluded(author)) break // someone else's proof got in first
      }
    }
    this.hooks.equivocation(info)
  }
}
