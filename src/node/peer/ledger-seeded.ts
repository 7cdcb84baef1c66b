/**
 * TEMPORARY bridge between the round machine (H) and the ledger (E) until they
 * agree on two details (reported to both; remove this file then):
 *
 * 1. The seed. E's LedgerState seeds round r with the bytes of checkpoint r-1's
 *    CID (36 bytes) and retry k with SHA-256(seed || k); H's machine seeds retry
 *    k with SHA-256("tessera/retry/v1" || seed || k) and puts the seed in its
 *    checkpoint body as `prev`, which its decoder requires to be 32 bytes.
 * 2. Hence the committee and the groups of every retry: the ledger refuses a
 *    receipt, plan or checkpoint whose committee is not its own, and a plan
 *    whose groups are not assignGroups(seed(r, k), planned contributors, g),
 *    while H's leader cuts groups with the round seed in every retry.
 *
 * The bridge gives the machine the 32-byte digest of the previous checkpoint's
 * CID as its seed (so `prev` decodes and names checkpoint r-1 unambiguously)
 * and, for every retry, replaces the machine's committee and group seed by the
 * ledger's (`LedgerState.committee(r, k)`, `LedgerState.seed(r, k)`), so every
 * entry the machine produces is one the ledger accepts. It reaches into the
 * machine's private retry state (`retry`, `newRetry`): it is a shim, not a design.
 */
import { RoundMachine, type RoundConfig } from '../../gossip-fl/round/machine.ts'
import type { LedgerState } from '../../ledger/index.ts'

interface RetryShape { k: number, seed: Uint8Array, committee: string[], myIndex: number }
interface MachineInternals { retry: RetryShape, newRetry: (k: number) => RetryShape, sendPlan: () => void, cfg: { seed: Uint8Array } }

export function ledgerSeededMachine (cfg: Omit<RoundConfig, 'seed'>, state: LedgerState): RoundMachine {
  const prevCid = state.checkpointCid(cfg.round - 1)
  if (prevCid === undefined) throw new TypeError(`no checkpoint ${cfg.round - 1}`)
  const m = new RoundMachine({ ...cfg, seed: prevCid.multihash.digest })
  const inner = m as unknown as MachineInternals
  const original = inner.newRetry.bind(m)
  const fix = (R: RetryShape): RetryShape => {
    R.seed = state.seed(cfg.round, R.k)
    R.committee = [...state.committee(cfg.round, R.k)]
    R.myIndex = R.committee.indexOf(m.self)
    return R
  }
  inner.newRetry = (k: number) => fix(original(k))
  fix(inner.retry)
  // 3. The leader cuts groups with the machine's round seed (H, every retry); E's ledger checks
  //    them against assignGroups(seed(r, k)). Cut them with the ledger's seed of the retry.
  const sendPlan = inner.sendPlan.bind(m)
  inner.sendPlan = () => {
    const own = inner.cfg.seed
    inner.cfg.seed = state.seed(cfg.round, inner.retry.k)
    try { sendPlan() } finally { inner.cfg.seed = own }
  }
  return m
}

/**
 * TEMPORARY bridge 2 (E's LedgerState, src/ledger/state.ts, evidence of a checkpoint):
 *
 *   for (const [member, r] of rec.receipts) { delivered[member] = r.contributors.length
 *                                             for (const c of r.contributors) delivered[c] += 1 }
 *
 * A member that is also a contributor gets `+1` from every receipt iterated before its own
 * and then has that count overwritten (`=`) by its own receipt. `rec.receipts` is a Map in the
 * order this ledger happened to apply the receipt entries: a peer applies its own receipt first
 * (it writes it), others in network arrival order. So every peer computes a different
 * `delivered`, a different reputation (each peer weights itself highest) and, once the
 * weighted draw differs, a different committee or leader for (r, k): shares go to the wrong
 * index ("wrong-share-index", "not-leader"), the plan is refused by the ledgers that expect
 * another leader, the retry fails, and a round whose retries all disagree never gets a
 * ledger checkpoint. This was the timeout of the 5-peer test.
 *
 * The bridge makes the iteration order canonical (member id order) on this peer's live
 * state, so every peer derives the same evidence from the same entries whatever the arrival
 * order. It does not fix the formula (E should use `+=`, or count member and contributor
 * deliveries separately, and iterate in a canonical order); and it applies only to receipts
 * applied after the peer opened its ledger: a restarted peer replays its store without it.
 * Remove it once E's evidence is independent of the order of entries.
 */
class CanonicalOrderMap<V> extends Map<string, V> {
  private sortedKeys (): string[] { return [...super.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) }
  override * keys (): MapIterator<string> { yield * this.sortedKeys() }
  override * values (): MapIterator<V> { for (const k of this.sortedKeys()) yield super.get(k)! }
  override * entries (): MapIterator<[string, V]> { for (const k of this.sortedKeys()) yield [k, super.get(k)!] }
  override [Symbol.iterator] (): MapIterator<[string, V]> { return this.entries() }
  override forEach (f: (v: V, k: string, m: Map<string, V>) => void, thisArg?: unknown): void { for (const [k, v] of this.entries()) f.call(thisArg, v, k, this) }
}

interface RoundRecordShape { receipts: Map<string, unknown> }

/** Make `state.rounds[*].receipts` iterate in member-id order (see above). Idempotent. */
export function canonicalReceiptOrder (state: LedgerState): void {
  const rounds = state.rounds as unknown as Map<string, RoundRecordShape> & { __canonical?: true }
  if (rounds.__canonical === true) return
  const fix = (rec: RoundRecordShape): void => {
    if (rec !== null && typeof rec === 'object' && rec.receipts instanceof Map && !(rec.receipts instanceof CanonicalOrderMap)) rec.receipts = new CanonicalOrderMap(rec.receipts)
  }
  for (const rec of rounds.values()) fix(rec)
  const set = rounds.set.bind(rounds)
  rounds.set = (k: string, rec: RoundRecordShape) => { fix(rec); return set(k, rec) }
  rounds.__canonical = true
}

/**
 * The same canonical order for every LedgerState this process creates (so a ledger re-opened from
 * its store, e.g. `npm start`'s final re-verification, replays receipts as the live peers applied
 * them). Process-wide: call it only in a program of its own, never from a library or a test file.
 */
export function canonicalReceiptOrderEverywhere (LedgerStateClass: { prototype: object }): void {
  const proto = LedgerStateClass.prototype as { roundRecord?: (round: number, retry: number, create: boolean) => RoundRecordShape | undefined, __canonical?: true }
  if (proto.__canonical === true || typeof proto.roundRecord !== 'function') return
  const original = proto.roundRecord
  proto.roundRecord = function (this: unknown, round: number, retry: number, create: boolean) {
    const rec = original.call(this, round, retry, create)
    if (rec !== undefined && !(rec.receipts instanceof CanonicalOrderMap)) rec.receipts = new CanonicalOrderMap(rec.receipts)
    return rec
  }
  proto.__canonical = true
}
