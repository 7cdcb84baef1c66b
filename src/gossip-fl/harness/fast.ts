/**
 * The exact fast path of the researchers' harness (issue #5, step 2).
 *
 * What the round protocol reveals and aggregates is a pure function of the
 * contributors' encoded updates: the norm check's verdict is ||v||^2 mod p
 * (Shamir shares multiply into shares of a degree-2(t-1) polynomial whose
 * constant term is that value; the committee's zero masks leave it unchanged),
 * each group sum is the field sum of its members' encodings (shares are linear),
 * and the model is `recomputeModel` over those sums. So when nobody on the
 * committee misbehaves, this file computes the same checkpoint as
 * src/gossip-fl/sim's full run (same committee, same plan via `buildPlan`, same
 * fixed-point rounding, same noise draws from the same per-peer ChaCha20 stream,
 * same rule and rule state, same checkpoint body hash and hence the same next
 * round seed) without dealing a single share. test/gossip-fl/harness-fast.test.ts
 * checks bit-identical checkpoints against `simulate` over several rounds.
 *
 * Committee-side faults (wrong or withheld partial sums, silent leaders, bad zero
 * deals) change the message flow, not the arithmetic; they need the full
 * protocol and are refused here.
 *
 * `normCheck: false` is the undefended baseline, outside the protocol: no
 * clipping, no refusal, no fixed point (float64 group sums), group means
 * unbounded, and attackers not held to a norm budget.
 */
import { seededRng, childRng, type Rng } from '../../util/rng.ts'
import { InvalidParametersError } from '../../util/errors.ts'
import { resolveRoundParams, fixedPointPlan, perContributorNoiseStd } from '../round/params.ts'
import { ed25519Signer } from '../round/signer.ts'
import { selectCommittee } from '../committee.ts'
import { comparePeerIds } from '../../reputation/peer-id.ts'
import { buildPlan, type NormVerdicts } from '../round/plan.ts'
import { dealZeroMasks, encodeFixed, decodeFixed, sumShares } from '../round/sharing.ts'
import { normSquarePoint } from '../../secret-sharing/norm-check.ts'
import { encodeGroupSums, groupSumsHash, modelHash, recomputeModel, ruleStateHash, groupMean, farGroupIndices, projectionsForCheckpoint } from '../round/aggregate.ts'
import { checkpointBodyHash, type CheckpointBody } from '../round/messages.ts'
import { ruleByName, type RuleState } from '../round/rules.ts'
import { clipL2, gaussianFill } from '../../model/update.ts'
import { attackByName, type AttackFn } from '../sim/attacks.ts'
import { getAttack } from '../attacks/registry.ts'
import { projectionsOnAggregate } from '../aggregation/distances.ts'
import { persistentOutliers, resolveOutlierParams, type OutlierParams, type OutlierRound } from '../../reputation/outliers.ts'
import { checkpointEvidence } from '../../reputation/outlier-evidence.ts'
import type { SimConfig } from '../sim/simulator.ts'

export interface FastConfig extends Omit<SimConfig, 'observe' | 'maxStepsPerRound' | 'onRound' | 'verify'> {
  /** false: the undefended baseline (no clip, no norm check, no fixed point). Default true. */
  normCheck?: boolean
  /**
   * Without the norm check: 0 (default) = B's attacks with their own defaults and no
   * bound; k > 0 = attackers spend exactly k * C (an attacker free of the check picks
   * its norm; k = 10 reproduces DESIGN.md's collapsing baseline).
   */
  undefendedBudget?: number
  onRound?: (r: FastRoundReport) => void
  /** Told the peer ids (index order) before round 1. */
  onPeers?: (ids: string[]) => void
  /** Keep every round's report (and model) in the result; false keeps only the last (long runs). Default true. */
  keepReports?: boolean
  /**
   * A censoring leader (issue #5): when one of `leaders` (peer indices) leads a round, its plan
   * omits `targets` (peer indices). Exactly what the full protocol does when that leader drops
   * the targets' contribution gossip: `normVerdicts` then never sees them, so they are neither
   * grouped nor refused, and members accept the plan (`checkPlan` checks only what it contains).
   * test/gossip-fl/harness/censor.test.ts checks this against real round machines.
   */
  censor?: { leaders: number[], targets: number[] }
  /**
   * Groups formed elsewhere (a libp2p run's checkpoints, replay.ts): round r uses these
   * contributor groups instead of drawing its own (holders: the whole committee). The
   * arithmetic (clip, fixed point, field sums, rule) is unchanged, so the models must match.
   */
  givenGroups?: (round: number) => string[][] | undefined
  /**
   * Committee candidates of round r with their weights (e.g. reputation from the rounds so far, as
   * E's LedgerState draws them); undefined = every peer with weight 1, as `simulate` does.
   */
  committeeWeights?: (round: number, peerIds: readonly string[]) => Array<{ peer: string, weight: number }> | undefined
  /** Seed of round 1 instead of the simulator's (e.g. a ledger's genesis seed, the digest of the genesis CID). */
  genesisSeed?: Uint8Array
  /**
   * Persistent-outlier exclusion (src/reputation/outliers.ts): before each plan, contributors
   * whose mean own projection on the aggregate over earlier rounds is conclusively negative are refused ('excluded'). The
   * evidence is a function of the published group sums and plans, so every member computes
   * the same set. Undefined = off (the protocol as before).
   */
  exclusion?: Partial<OutlierParams>
  /**
   * With `exclusion`: record the evidence on the checkpoint as the live protocol does (a charter
   * v3 network, the full engine `simulate` with `exclusion`): the body carries `projections`
   * (fixed point, src/reputation/outlier-evidence.ts) and the test runs on the decoded values,
   * so checkpoints (hence seeds, committees, groups) are bit-identical to `simulate`'s. Default
   * false: the harness's earlier variant (float projections, body without evidence), which
   * keeps every archived fast-engine result reproducible.
   */
  exclusionOnCheckpoint?: boolean
}

export interface FastRoundReport {
  round: number
  retries: number
  committee: string[]
  groups: string[][]
  far: string[][]
  refused: Array<{ peer: string, reason: string }>
  blamed: Array<{ peer: string, reason: string }>
  model: Float32Array
  /** SHA-256 of the checkpoint body (the next round's seed); absent without the norm check (no checkpoint). */
  bodyHash?: Uint8Array
  body?: CheckpointBody
  accuracy?: number
  /** Contributors the public norm verdicts (receipts) admit, in peer-id order. */
  admitted: string[]
  /** Receipts: every member acknowledges every contributor's shares (in the fast path all shares arrive). */
  receipts: Map<string, string[]>
  /** The plan's refusals (the checkpoint's `refused`). */
  planRefused: Array<{ peer: string, reason: string }>
  /** Contributors the leader censored this round (empty unless it is a censor). */
  censored: string[]
  /** Contributors excluded from this round's plan as persistent outliers (empty without `exclusion`). */
  excluded: string[]
}

export interface FastResult {
  peerIds: string[]
  reports: FastRoundReport[]
  model: Float32Array
}

function seed32(rng: Rng): Uint8Array {
  const w = new Uint32Array(8)
  rng.fillU32(w)
  return new Uint8Array(w.buffer)
}

/** Attack outside the norm budget (the undefended baseline): B's attack with no bound. */
function unboundedAttack(name: string, params: Record<string, unknown> = {}): AttackFn {
  const attack = getAttack(name)
  return (own, honest, count, rng) => attack.craft({ honest, count, own }, { ...params, normBound: null, useFullBudget: false }, rng)
}

export async function fastSimulate(cfg: FastConfig): Promise<FastResult> {
  if (!Number.isInteger(cfg.peers) || cfg.peers < 1 || cfg.peers > 4096) throw new InvalidParametersError('peers must be an integer in [1, 4096]')
  if (!Number.isInteger(cfg.rounds) || cfg.rounds < 1 || cfg.rounds > 100_000) throw new InvalidParametersError('rounds must be an integer in [1, 100000]')
  const f = cfg.faults ?? {}
  if ((f.silent?.length ?? 0) + (f.corruptPartials?.length ?? 0) + (f.badZeroDeal?.length ?? 0) + (f.ignoreExclusion?.length ?? 0) > 0) {
    throw new InvalidParametersError('committee-side faults need the full protocol (engine "full")')
  }
  const normCheck = cfg.normCheck ?? true
  const params = resolveRoundParams(cfg.params ?? {})
  const { committeeSize: m, threshold: t, groupSize: g } = params
  // Peer ids exactly as simulate() derives them (same master stream, same signer).
  const master = seededRng(`tessera-sim/${String(cfg.seed)}`)
  const ids: string[] = []
  for (let i = 0; i < cfg.peers; i++) ids.push((cfg.signerFor ?? ed25519Signer)(seed32(master)).peer)
  cfg.onPeers?.([...ids])
  const eligible = [...new Set(ids)].sort(comparePeerIds)
  const candidates = ids.map(p => ({ peer: p, weight: 1 }))
  const byzAttack: AttackFn | undefined = f.byzantine === undefined ? undefined
    : typeof f.byzantine.attack !== 'string' ? f.byzantine.attack
      : normCheck ? attackByName(f.byzantine.attack, params.clipNorm, f.byzantine.params)
        : (cfg.undefendedBudget ?? 0) > 0 ? attackByName(f.byzantine.attack, cfg.undefendedBudget! * params.clipNorm, f.byzantine.params)
          : unboundedAttack(f.byzantine.attack, f.byzantine.params)
  const byz = new Set(f.byzantine?.peers ?? [])
  const censorLeaders = new Set((cfg.censor?.leaders ?? []).map(i => ids[i]!))
  const censorTargets = new Set((cfg.censor?.targets ?? []).map(i => ids[i]!))
  if ([...censorLeaders, ...censorTargets].some(p => p === undefined)) throw new InvalidParametersError('censor: peer index out of range')
  const overNorm = new Set(f.overNorm?.peers ?? [])
  const std = perContributorNoiseStd(params)
  const dim = cfg.initialModel.length
  const fixed = fixedPointPlan(params, dim)
  const rule = { name: params.rule, params: params.ruleParams }

  let model: Float32Array = Float32Array.from(cfg.initialModel)
  let ruleState: RuleState | undefined
  if (cfg.genesisSeed !== undefined && (!(cfg.genesisSeed instanceof Uint8Array) || cfg.genesisSeed.length !== 32)) throw new InvalidParametersError('genesisSeed must be 32 bytes')
  let prev = cfg.genesisSeed !== undefined ? Uint8Array.from(cfg.genesisSeed) : seed32(childRng(String(cfg.seed), 'genesis'))
  const reports: FastRoundReport[] = []
  const outlierParams = cfg.exclusion === undefined ? undefined : resolveOutlierParams(cfg.exclusion)
  const outlierHistory: OutlierRound[] = []

  for (let r = 1; r <= cfg.rounds; r++) {
    const weighted = cfg.committeeWeights?.(r, ids)
    const committee = selectCommittee(prev, weighted ?? candidates, Math.min(m, (weighted ?? candidates).length))
    const inCommittee = new Set(committee)
    // Each machine's stream: members deal their zero masks (eligible + 1 polynomials) before the update is noised.
    const rngs = ids.map((p, i) => {
      const rng = childRng(String(cfg.seed), `peer/${i}/round/${r}`)
      if (normCheck && inCommittee.has(p)) dealZeroMasks(eligible.length + 1, m, t, rng)
      return rng
    })
    const updates = new Map<number, Float32Array>()
    for (let i = 0; i < ids.length; i++) updates.set(i, await cfg.train(i, model, r))
    const byzIdx = ids.map((_, i) => i).filter(i => byz.has(i))
    const honest = [...updates].filter(([i]) => !byz.has(i) && !overNorm.has(i)).map(([, u]) => u)
    if (byzAttack !== undefined && byzIdx.length > 0) {
      const crafted = byzAttack(byzIdx.map(i => updates.get(i)!), honest, byzIdx.length, childRng(String(cfg.seed), `attack/${r}`))
      byzIdx.forEach((i, k) => updates.set(i, crafted[k]!))
    }
    const report: FastRoundReport = normCheck
      ? protocolRound(r)
      : undefendedRound(r)
    if (cfg.evaluate !== undefined) report.accuracy = await cfg.evaluate(model)
    if (cfg.keepReports === false) reports.length = 0
    reports.push(report)
    cfg.onRound?.(report)

    function protocolRound(round: number): FastRoundReport {
      const encoded = new Map<string, Uint32Array>()
      ids.forEach((p, i) => {
        let u = updates.get(i)!
        if (overNorm.has(i)) u = u.map(x => x * (f.overNorm?.factor ?? 10))
        const v = overNorm.has(i) ? Float32Array.from(u) : clipL2(u, params.clipNorm).vector
        if (std > 0) {
          const noise = gaussianFill(new Float32Array(dim), std, rngs[i]!)
          for (let j = 0; j < dim; j++) v[j] = v[j]! + noise[j]!
        }
        encoded.set(p, encodeFixed(v, fixed.scale))
      })
      // Step 3: the norm verdicts the masked points reconstruct, every member holding every share.
      const admitted: string[] = []
      const refused: Array<{ peer: string, reason: string }> = []
      const holders = new Map<string, string[]>()
      for (const c of eligible) {
        holders.set(c, [...committee])
        if (normSquarePoint(encoded.get(c)!) > fixed.normBoundField) refused.push({ peer: c, reason: 'over-norm' })
        else admitted.push(c)
      }
      // A censoring leader never saw its targets' contributions: they are not in its verdicts at all.
      const censoring = censorLeaders.has(committee[0]!)
      const drop = (c: string): boolean => censoring && censorTargets.has(c)
      const verdicts: NormVerdicts = { admitted: admitted.filter(c => !drop(c)), refused: refused.filter(x => !drop(x.peer)), blamed: [], holders, dealers: [...committee].sort(comparePeerIds) }
      const given = cfg.givenGroups?.(round)
      const excluded = outlierParams === undefined ? [] : persistentOutliers(outlierHistory, outlierParams)
      const plan = given === undefined ? buildPlan(verdicts, committee, prev, g, t, { exclude: new Set(excluded) }) : {
        groups: given.map(members => ({ members: [...members], holders: [...committee] })),
        refused: [...refused, ...admitted.filter(c => !given.some(grp => grp.includes(c))).map(peer => ({ peer, reason: 'not-in-given-groups' }))].sort((a, b) => comparePeerIds(a.peer, b.peer)),
        blamed: []
      }
      if (plan.groups.length === 0) throw new InvalidParametersError(`round ${round} failed: no group to aggregate`)
      // Step 4: each group sum is the field sum of its members' encodings.
      const sums = plan.groups.map(grp => sumShares(grp.members.map(c => encoded.get(c)!), dim))
      const sizes = plan.groups.map(grp => grp.members.length)
      const blob = encodeGroupSums({ round, retry: 0, bits: fixed.bits, sizes, sums })
      const decoded = sums.map(s => decodeFixed(s, fixed.scale))
      const res = recomputeModel(model, decoded, sizes, rule, ruleState, { serverLr: params.serverLr, meanNormBound: fixed.normBound })
      const onCheckpoint = outlierParams !== undefined && cfg.exclusionOnCheckpoint === true
      let projections: number[] | undefined
      if (onCheckpoint) {
        // The live protocol's evidence: the machines' projectionsForCheckpoint over the same means (every group reconstructed here).
        projections = projectionsForCheckpoint(res, plan.groups.length, plan.groups.map((_, j) => j))
        outlierHistory.push(checkpointEvidence(plan.groups.map(x => x.members), projections))
      } else if (outlierParams !== undefined) {
        // Each group mean's projection on the aggregate's direction (aggregation/distances.ts): the outlier evidence.
        const means = decoded.map((s, j) => groupMean(s, sizes[j]!, fixed.normBound))
        outlierHistory.push({ groups: plan.groups.map(x => x.members), projections: Array.from(projectionsOnAggregate(means, res.aggregate)) })
      }
      const body: CheckpointBody = {
        round, retry: 0, prev, committee: [...committee], groups: plan.groups, farGroups: res.far,
        groupSumsHash: groupSumsHash(blob), modelHash: modelHash(res.model), ruleStateHash: ruleStateHash(res.ruleState),
        blamed: [], refused: plan.refused, ...(projections === undefined ? {} : { projections })
      }
      const bodyHash = checkpointBodyHash(body)
      model = res.model
      ruleState = res.ruleState
      prev = bodyHash
      return {
        round, retries: 0, committee: [...committee], groups: plan.groups.map(x => x.members), far: res.far.map(j => plan.groups[j]!.members),
        refused: plan.refused, blamed: [], model, bodyHash, body,
        admitted, receipts: new Map(committee.map(m => [m, [...eligible]])), planRefused: plan.refused, censored: admitted.filter(drop), excluded
      }
    }

    function undefendedRound(round: number): FastRoundReport {
      // Same grouping as the protocol (every update admitted), sums in float64, no bound on the means.
      const censoring = censorLeaders.has(committee[0]!)
      const planned = eligible.filter(c => !(censoring && censorTargets.has(c)))
      const groups = buildPlan({ admitted: planned, refused: [], blamed: [], holders: new Map(eligible.map(c => [c, [...committee]])), dealers: [] }, committee, prev, g, t).groups
      const index = new Map(ids.map((p, i) => [p, i]))
      const means = groups.map(grp => {
        const s = new Float64Array(dim)
        for (const c of grp.members) {
          const i = index.get(c)!
          const u = updates.get(i)!
          const v = std > 0 ? gaussianFill(new Float32Array(dim), std, rngs[i]!) : undefined
          for (let j = 0; j < dim; j++) s[j] = s[j]! + u[j]! + (v?.[j] ?? 0)
        }
        return groupMean(s, grp.members.length, Infinity)
      })
      const res = ruleByName(rule.name).aggregate(means, ruleState, rule.params)
      const next = new Float32Array(dim)
      for (let j = 0; j < dim; j++) next[j] = model[j]! + params.serverLr * res.aggregate[j]!
      model = next
      ruleState = res.state
      // No checkpoint: derive the next seed from the round's model (deterministic).
      prev = modelHash(next)
      const far = farGroupIndices(means, res.aggregate)
      return {
        round, retries: 0, committee: [...committee], groups: groups.map(x => x.members), far: far.map(j => groups[j]!.members), refused: [], blamed: [], model,
        admitted: [...eligible], receipts: new Map(committee.map(m => [m, [...eligible]])), planRefused: [], censored: eligible.filter(c => !planned.includes(c)), excluded: []
      }
    }
  }
  return { peerIds: ids, reports, model }
}
