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
