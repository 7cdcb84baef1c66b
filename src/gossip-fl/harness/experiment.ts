/**
 * Runs one experiment of the researchers' harness: split the data, train each
 * peer locally (TF.js, C's trainLocal, optional DP-SGD), send worker-momentum
 * updates through the round protocol (H's `simulate`, or the bit-identical
 * fast path in fast.ts), evaluate, and return one record per round.
 *
 * Datasets come in loaded (no I/O here): the caller loads MNIST on Node
 * (src/model/data-node.ts) or in a browser.
 */
import { seededRng } from '../../util/rng.ts'
import { InvalidParametersError } from '../../util/errors.ts'
import { simulate, type SimFaults } from '../sim/simulator.ts'
import { fastSimulate } from './fast.ts'
import { resolveExperiment, parsePartition, defaultLabel, UPDATE_ATTACKS, LEADER_ATTACKS, type ExperimentConfig } from './config.ts'
import { poisonWithBackdoor, backdoorTestSet, resolveTrigger } from '../attacks/backdoor.ts'
import { getAttack } from '../attacks/registry.ts'
import type { AttackFn } from '../sim/attacks.ts'
import { roundEvidence, reputationAfter } from './evidence.ts'
import { committeeCandidates } from '../../reputation/compute.ts'
import type { RoundEvidence } from '../../reputation/types.ts'
import { trainShadowAttack, shadowAttackOn, type ShadowReport } from './shadow-mi.ts'
import { maxAdvantageUnderDp } from '../../model/privacy/membership.ts'
import type { Libp2pRunConfig, Libp2pRunResult } from './libp2p-node.ts'
import { replayOnFastPath } from './replay.ts'
import type { ModelSpec } from '../../model/spec.ts'
import { subset, head, makeDataset, type Dataset } from '../../model/dataset.ts'
import { partition } from '../../model/partition.ts'
import { mnistSpec, initialWeights } from '../../model/spec.ts'
import { trainLocal, evaluate } from '../../model/train.ts'
import { l2Norm } from '../../model/update.ts'
import { flipLabels } from '../attacks/label-flip.ts'
import { computeDpSgdPrivacy } from '../../model/privacy/dpsgd.ts'
import { peerEpsilonKnownRounds } from '../../model/privacy/user-level.ts'
import type { RoundSigner, RoundVerify } from '../round/signer.ts'
import { modelHash } from '../round/aggregate.ts'
import { membershipInference } from './membership.ts'
import { applyFeatures } from '../../model/features/index.ts'
import { dpSgdPeerEpsilons, peerBatchSize } from '../../model/privacy/peer-plan.ts'

export interface RoundRecord {
  label: string
  round: number
  /** Test accuracy, or null on rounds not evaluated. */
  accuracy: number | null
  groups: number
  refused: number
  blamed: number
  far: number
  retries: number
  /** Median L2 norm of the honest peers' sent (momentum) updates, before clipping. */
  honestMedianNorm: number
  seconds: number
  /** model-replacement: accuracy of the triggered test inputs on the target class (null when not evaluated / no backdoor). */
  backdoorAccuracy?: number | null
  /** Byzantine peers in far groups this round (fast engine). */
  byzantineFar?: number
  /** Contributors the leader censored this round, and whether the audit of receipts vs plan blamed the leader. */
  censored?: number
  leaderCharged?: boolean
  /** Contributors excluded from the plan as persistent outliers this round, and how many of them are honest (fast engine with `exclusion`). */
  excluded?: number
  honestExcluded?: number
}

export interface ExperimentResult {
  label: string
  config: ExperimentConfig
  parameters: number
  initialAccuracy: number
  finalAccuracy: number
  /** Mean of the last min(3, evaluations) evaluated accuracies: less noisy than the last one. */
  tailAccuracy: number
  /** Per-peer epsilon at delta 1e-5: update-level (group-sum noise, rounds public) and record-level (DP-SGD); null when that mechanism is off. */
  epsilonUpdateLevel: number | null
  epsilonRecordLevel: number | null
  /** Record-level epsilon of every peer (its own shard and batch), null when DP-SGD is off or with local epochs. */
  epsilonRecordLevelPerPeer: number[] | null
  /** Loss-threshold membership inference on the final model (peer 0's records vs held-out test images); null when off. */
  membership: { auc: number, bestAdvantage: number, yeomAdvantage: number, members: number } | null
  /**
   * Shadow-model membership inference (Shokri et al. 2017) on the global model and on peer 0's
   * local model, with the DP bound on any attack's advantage at the run's epsilon; null when off.
   */
  shadowMembership: {
    global: ShadowReport
    local: ShadowReport
    /** The loss-threshold attack on peer 0's local model (the global one is `membership`). */
    lossThresholdLocal: { auc: number, bestAdvantage: number }
    /** Largest advantage any attack can have at the run's epsilon (delta 1e-5): global model (smaller of record- and update-level), local model (record-level DP-SGD only); null = no DP. */
    dpBoundGlobal: number | null
    dpBoundLocal: number | null
    shadows: number
    perShadow: number
    shadowEpochs: number
  } | null
  /** model-replacement: backdoor accuracy of the final model. */
  backdoorAccuracy: number | null
  /** --network libp2p: all peers agreed each round; the fast path, given the network's groups, reproduced every round's model hash. */
  network: { agreed: boolean, replayEqual: boolean, peerIdsEqual: boolean, genesisCid: string, seconds: number } | null
  /** Mean reputation score (src/reputation, from the rounds' evidence, censorship audited) of honest and Byzantine peers after the last round (fast engine). */
  reputation: { honest: number, byzantine: number | null, censorsCharged: number, byzantineLedRounds: number } | null
  /** SHA-256 (hex) of the final model's float32 bytes: equal seeds give equal hashes. */
  finalModelHash: string
  seconds: number
  records: RoundRecord[]
}

export interface ExperimentData { train: Dataset, test: Dataset }

export interface ExperimentHooks {
  onRound?: (rec: RoundRecord, cfg: ExperimentConfig) => void
  /** The global model after each round (fast and full engines; the array is the engine's: copy it to keep it). */
  onModel?: (round: number, model: Float32Array) => void
  /** Signing for the full engine (default: H's pure-JS Ed25519). */
  signerFor?: (seed32: Uint8Array) => RoundSigner
  verify?: RoundVerify
  /** `--network libp2p`: the Node runner (libp2p-node.ts runOverLibp2p), injected by the CLI so this file stays browser-loadable. */
  network?: (cfg: Libp2pRunConfig) => Promise<Libp2pRunResult>
}

export const DELTA = 1e-5


/**
 * Non-members with the members' class mix: for each class, as many test images of that
 * class as there are members of it, taken from the end of the test split (the harness
 * evaluates on its beginning). A loss threshold then cannot win by telling a non-IID
 * shard's classes from the test set's.
 */
export function classMatched(test: Dataset, members: Dataset): Dataset {
  return subset(test, classMatchedIndices(test, members))
}

/** The indices `classMatched` takes. */
export function classMatchedIndices(test: Dataset, members: Dataset): number[] {
  const want = new Array<number>(test.classes).fill(0)
  for (let i = 0; i < members.n; i++) want[members.y[i]!]!++
  const idx: number[] = []
  for (let i = test.n - 1; i >= 0 && want.some(w => w > 0); i--) {
    const y = test.y[i]!
    if (want[y]! > 0) { want[y]!--; idx.push(i) }
  }
  return idx
}

/**
 * Shadow-model membership inference (shadow-mi.ts) on the global model and on peer 0's
 * last local model. The attacker's pool: test images that are not the non-members.
 */
async function shadowEvaluation(c: ExperimentConfig, spec: ModelSpec, global: Float32Array, local: Float32Array, members: Dataset, nonMemberIdx: number[], test: Dataset,
  exposure: number, epsGlobal: number | null, epsLocal: number | null): Promise<NonNullable<ExperimentResult['shadowMembership']>> {
  const nonMembers = subset(test, nonMemberIdx)
  const taken = new Set(nonMemberIdx)
  const pool = subset(test, Array.from({ length: test.n }, (_, i) => i).filter(i => !taken.has(i)))
  const perShadow = Math.min(members.n, Math.floor(pool.n / (2 * c.shadowModels)))
  const shadowEpochs = Math.max(1, Math.min(20, Math.round(exposure)))
  const attack = await trainShadowAttack(spec, pool, { shadows: c.shadowModels, perShadow, epochs: shadowEpochs, batchSize: c.batchSize, lr: c.lr, seed: `${c.seed}/shadow`, dp: c.dpSgd })
  const lt = membershipInference(spec, local, members, nonMembers, c.membership)
  return {
    global: shadowAttackOn(attack, spec, global, members, nonMembers),
    local: shadowAttackOn(attack, spec, local, members, nonMembers),
    lossThresholdLocal: { auc: lt.auc, bestAdvantage: lt.best.advantage },
    dpBoundGlobal: epsGlobal === null ? null : maxAdvantageUnderDp(epsGlobal, DELTA),
    dpBoundLocal: epsLocal === null ? null : maxAdvantageUnderDp(epsLocal, DELTA),
    shadows: c.shadowModels, perShadow, shadowEpochs
  }
}

function median(xs: number[]): number {
  if (xs.length === 0) return 0
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  return n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2
}

/** Committee-side attacks as H's fault hooks; misbehaving members are the last ones of each round's first committee (the leader stays honest unless it is the attack). */
function committeeFaults(c: ExperimentConfig): SimFaults | undefined {
  const last = Array.from({ length: c.byzantine }, (_, k) => c.committee - 1 - k)
  switch (c.attack) {
    case 'wrong-partials': return { corruptPartials: last.map(member => ({ member })) }
    case 'withhold-partials': return { silent: last.map(member => ({ member, after: 'receipt' as const })) }
    case 'silent-leader': return { silent: [{ member: 0, after: 'start' as const }] }
    default: return undefined
  }
}

export async function runExperiment(partial: Partial<ExperimentConfig>, data: ExperimentData, hooks: ExperimentHooks = {}): Promise<ExperimentResult> {
  const c = resolveExperiment(partial)
  if (c.engine === 'libp2p') {
    if (hooks.network === undefined) throw new InvalidParametersError('engine libp2p needs the Node runner (hooks.network, libp2p-node.ts): use tessera sim --network libp2p')
  }
  const label = c.label ?? defaultLabel(c)
  const t0 = Date.now()
  // The feature map (memoised per Dataset, so a matrix pays it once per process); 'none' is the data itself.
  const fdata: ExperimentData = { train: applyFeatures(c.features, data.train), test: applyFeatures(c.features, data.test) }
  const train = c.trainExamples > 0 ? head(fdata.train, Math.min(c.trainExamples, fdata.train.n)) : fdata.train
  const testSet = head(fdata.test, Math.min(c.testExamples, fdata.test.n))
  const spec = { ...mnistSpec(c.model), inputShape: [...train.shape], classes: train.classes }
  const parts = partition(train.y, train.classes, c.peers, parsePartition(c.partition), seededRng(`harness/${c.seed}/split`))
  // The last `byzantine` peers are the attackers (contributor-side attacks).
  const contributorAttack = UPDATE_ATTACKS.includes(c.attack) || c.attack === 'label-flip' || (LEADER_ATTACKS as readonly string[]).includes(c.attack)
  const byz = contributorAttack ? Array.from({ length: c.byzantine }, (_, i) => c.peers - 1 - i) : []
  const byzSet = new Set(byz)
  const trigger = resolveTrigger({ target: c.backdoorTarget }, train.classes)
  const shards = parts.map((idx, i) => {
    const s = subset(train, idx)
    if (!byzSet.has(i)) return s
    if (c.attack === 'label-flip') return makeDataset(s.x, flipLabels(s.y, { numClasses: s.classes }), s.shape, s.classes)
    // Scaled model replacement trains on clean + triggered, target-labelled copies (Bagdasaryan et al. 2020).
    if (c.attack === 'model-replacement') { const p = poisonWithBackdoor(s, c.backdoorFraction, trigger, `${c.seed}/backdoor/${i}`); return makeDataset(p.x, p.y, s.shape, s.classes) }
    return s
  })
  const backdoorSet = c.attack === 'model-replacement' ? (() => { const b = backdoorTestSet(testSet, trigger); return makeDataset(b.x, b.y, testSet.shape, testSet.classes) })() : undefined
  // Free riders (Lin et al. 2019; Fraboni et al. 2021) do not train: they send B's free-riding update
  // built from the previous global update G_{r-1} - G_{r-2} (mode 'stale', the default here).
  const freeRiding = c.attack === 'free-riding'
  let lastModel: Float32Array | undefined
  let lastRound = 0
  let globalDelta: Float32Array = new Float32Array(0)
  const init = initialWeights(spec, seededRng(`harness/${c.seed}/init`))
  const initialAccuracy = (await evaluate(spec, init, testSet)).accuracy
  const momenta: Array<Float32Array | undefined> = []
  let lastLocal: Float32Array = init
  let roundNorms: number[] = []
  const trainFn = async (i: number, model: Float32Array, round: number): Promise<Float32Array> => {
    if (round !== lastRound) {
      globalDelta = lastModel === undefined ? new Float32Array(model.length) : model.map((w, j) => w - lastModel![j]!)
      lastModel = Float32Array.from(model)
      lastRound = round
    }
    if (freeRiding && byzSet.has(i)) return new Float32Array(model.length)
    const r = await trainLocal(spec, model, shards[i]!, {
      epochs: c.localEpochs > 0 ? c.localEpochs : 1, batchSize: c.samplingRate > 0 ? peerBatchSize(c.samplingRate, shards[i]!.n) : c.batchSize, lr: c.lr, optimizer: c.optimizer,
      maxSteps: c.localEpochs > 0 ? undefined : c.localSteps, seed: `${c.seed}/${i}/${round}`,
      dp: c.dpSgd === undefined ? undefined : { clip: c.dpSgd.clip, noiseMultiplier: c.dpSgd.noiseMultiplier }
    })
    // Worker momentum (Karimireddy, He, Jaggi, "Learning from History for Byzantine Robust Optimization", ICML 2021).
    const m = momenta[i] ?? new Float32Array(model.length)
    for (let j = 0; j < m.length; j++) m[j] = c.momentum * m[j]! + (1 - c.momentum) * (r.weights[j]! - model[j]!)
    momenta[i] = m
    if (i === 0) lastLocal = r.weights
    const norm = l2Norm(m)
    if (!byzSet.has(i)) roundNorms.push(norm)
    const sent = Float32Array.from(m)
    // Full budget (tessera peer --full-budget): send exactly norm C, so a full-budget attacker weighs what an honest peer does.
    // The momentum itself stays unscaled. The round machine's clip to C then leaves it at C.
    if (c.fullBudget && norm > 0) { const k = c.clip / norm; for (let j = 0; j < sent.length; j++) sent[j] = sent[j]! * k }
    return sent
  }
  const records: RoundRecord[] = []
  let tLast = Date.now()
  const backdoorAcc = new Map<number, number>()
  const evalFn = async (round: number, model: Float32Array): Promise<number | null> => {
    if (!(round % c.evalEvery === 0 || round === c.rounds)) return null
    if (backdoorSet !== undefined) backdoorAcc.set(round, (await evaluate(spec, model, backdoorSet)).accuracy)
    return (await evaluate(spec, model, testSet)).accuracy
  }
  const history: RoundEvidence[] = []
  let censorsCharged = 0
  const record = (round: number, accuracy: number | null, r: { groups: string[][], refused: unknown[], blamed: unknown[], far: unknown[], retries: number }, extra: Partial<RoundRecord> = {}): void => {
    const now = Date.now()
    const rec: RoundRecord = {
      label, round, accuracy, groups: r.groups.length, refused: r.refused.length, blamed: r.blamed.length, far: r.far.length,
      retries: r.retries, honestMedianNorm: median(roundNorms), seconds: (now - tLast) / 1000,
      ...(backdoorSet !== undefined ? { backdoorAccuracy: backdoorAcc.get(round) ?? null } : {}), ...extra
    }
    tLast = now
    roundNorms = []
    records.push(rec)
    hooks.onRound?.(rec, c)
  }
  const params = {
    committeeSize: c.committee, threshold: c.threshold, groupSize: c.group, rule: c.rule,
    ruleParams: c.rule === 'centered-clipping' && c.ruleParams.tau === undefined ? { ...c.ruleParams, tau: c.clip } : c.ruleParams,
    clipNorm: c.clip, noiseMultiplier: c.noise
  }
  const attack: string | AttackFn = !freeRiding ? c.attack : (own, honest, count, rng) => getAttack('free-riding').craft(
    { honest, count, previous: globalDelta },
    { mode: 'stale', ...c.attackParams, normBound: c.normCheck ? c.clip : (c.undefendedBudget > 0 ? c.undefendedBudget * c.clip : null), useFullBudget: false },
    rng)
  const faults: SimFaults | undefined = UPDATE_ATTACKS.includes(c.attack) && byz.length > 0
    ? { byzantine: { peers: byz, attack, params: freeRiding ? undefined : c.attackParams } }
    : committeeFaults(c)
  const honestIdx = Array.from({ length: c.peers }, (_, i) => i).filter(i => !byzSet.has(i))
  const censor = c.attack === 'censoring-leader'
    ? { leaders: byz, targets: honestIdx.slice(0, c.censorTargets > 0 ? c.censorTargets : Math.min(5, honestIdx.length)) }
    : undefined
  let peerIds: string[] = []
  let model: Float32Array
  const accs = new Map<number, number | null>()
  let round = 0
  let network: ExperimentResult['network'] = null
  let initialAcc = initialAccuracy
  if (c.engine === 'libp2p') {
    // The Byzantine Peer crafts from its own update (and the previous global update), as the fast engine does for these attacks.
    const own = async (i: number, m: Float32Array, r: number): Promise<Float32Array> => {
      const u = await trainFn(i, m, r)
      if (!byzSet.has(i) || (c.attack !== 'model-replacement' && c.attack !== 'free-riding')) return u
      const budget = { normBound: c.clip, useFullBudget: c.attack === 'model-replacement' }
      return getAttack(c.attack).craft({ honest: [u], count: 1, own: [u], previous: globalDelta }, { ...(c.attack === 'free-riding' ? { mode: 'stale' } : {}), ...c.attackParams, ...budget }, seededRng(`${c.seed}/attack/${i}/${r}`))[0]!
    }
    const ruleParams = params.ruleParams as Record<string, number | string | boolean>
    const run = await hooks.network!({
      peers: c.peers, rounds: c.rounds, seed: c.seed, spec, committee: c.committee, threshold: c.threshold, group: c.group, rule: c.rule, ruleParams, clip: c.clip, noise: c.noise,
      ...(c.exclusion === undefined || c.exclusion === false ? {} : { exclusion: c.exclusion }),
      train: own,
      onRound: async (r) => {
        const a = await evalFn(r.round, r.model)
        record(r.round, a, { ...r, far: [] })
      }
    })
    model = run.rounds[run.rounds.length - 1]!.model
    initialAcc = (await evaluate(spec, run.initialModel, testSet)).accuracy
    const replay = await replayOnFastPath(run, c.seed, params)
    network = { agreed: run.agreed, replayEqual: replay.rounds.every(x => x.equal && x.trainedFromSameModel), peerIdsEqual: replay.peerIdsEqual, genesisCid: run.genesisCid, seconds: run.seconds }
  } else if (c.engine === 'fast') {
    const res = await fastSimulate({
      peers: c.peers, rounds: c.rounds, seed: c.seed, initialModel: init, params, faults, normCheck: c.normCheck, undefendedBudget: c.undefendedBudget, train: trainFn,
      signerFor: hooks.signerFor, keepReports: false, censor, exclusion: c.exclusion === false ? undefined : c.exclusion, exclusionOnCheckpoint: c.exclusionOnCheckpoint === true,
      // E's rule: the committee of round r from the reputation of the evidence of rounds < r (committeeCandidates).
      committeeWeights: c.reputationCommittees ? (r, ids) => r === 1 ? undefined : committeeCandidates(reputationAfter(history, ids)) : undefined,
      evaluate: async (m) => { round++; hooks.onModel?.(round, m); const a = await evalFn(round, m); accs.set(round, a); return a ?? Number.NaN },
      onPeers: (ids) => { peerIds = ids },
      onRound: (rep) => {
        // The ledger's evidence of the round (every member publishes its receipt in the fast path), censorship audited.
        const ev = roundEvidence({
          round: rep.round, committee: rep.committee, receipts: rep.receipts, admitted: rep.admitted, planGroups: rep.groups, planRefused: rep.planRefused,
          blamed: rep.blamed, far: rep.far
        })
        history.push(ev.evidence)
        if (ev.chargedLeader !== null) censorsCharged++
        const byzIds = new Set(byz.map(i => peerIds[i]!))
        record(rep.round, accs.get(rep.round) ?? null, rep, {
          byzantineFar: rep.far.flat().filter(p => byzIds.has(p)).length, censored: ev.censored.length, leaderCharged: ev.chargedLeader !== null,
          ...(c.exclusion !== undefined && c.exclusion !== false ? { excluded: rep.excluded.length, honestExcluded: rep.excluded.filter(p => !byzIds.has(p)).length } : {})
        })
      }
    })
    model = res.model
  } else {
    const res = await simulate({
      peers: c.peers, rounds: c.rounds, seed: c.seed, initialModel: init, params, faults, train: trainFn,
      signerFor: hooks.signerFor, verify: hooks.verify, ...(c.exclusion === undefined || c.exclusion === false ? {} : { exclusion: c.exclusion }),
      evaluate: async (m) => { round++; hooks.onModel?.(round, m); const a = await evalFn(round, m); accs.set(round, a); return a ?? Number.NaN },
      onPeers: (ids) => { peerIds = ids },
      onRound: (rep) => {
        const byzIds = new Set(byz.map(i => peerIds[i]!))
        record(rep.round, accs.get(rep.round) ?? null, rep, c.exclusion !== undefined && c.exclusion !== false ? { excluded: rep.excluded.length, honestExcluded: rep.excluded.filter(p => !byzIds.has(p)).length } : {})
      }
    })
    model = res.model
  }
  const evaluated = records.filter(r => r.accuracy !== null).map(r => r.accuracy!)
  const finalAccuracy = records[records.length - 1]!.accuracy ?? Number.NaN
  const tail = evaluated.slice(-3)
  const minShard = Math.min(...shards.map(s => s.n))
  const epsilonUpdateLevel = c.noise > 0 ? peerEpsilonKnownRounds({ roundsTaken: c.rounds, noiseMultiplier: c.noise, delta: DELTA }).epsilon : null
  const steps = c.localEpochs > 0 ? c.rounds * c.localEpochs * Math.ceil(minShard / c.batchSize) : c.rounds * c.localSteps
  // Every peer's record-level epsilon with its own batch (per-peer batches: samplingRate); the run reports the largest.
  const batches = shards.map(s => c.samplingRate > 0 ? peerBatchSize(c.samplingRate, s.n) : Math.min(c.batchSize, s.n))
  const epsilonRecordLevelPerPeer = c.dpSgd !== undefined && c.dpSgd.noiseMultiplier > 0 && c.localEpochs === 0
    ? dpSgdPeerEpsilons({ shardSizes: shards.map(s => s.n), batchSizes: batches, noiseMultiplier: c.dpSgd.noiseMultiplier, steps: c.rounds * c.localSteps, delta: DELTA })
    : null
  const epsilonRecordLevel = epsilonRecordLevelPerPeer !== null ? Math.max(...epsilonRecordLevelPerPeer) : (c.dpSgd !== undefined && c.dpSgd.noiseMultiplier > 0
    ? computeDpSgdPrivacy({ examples: minShard, batchSize: Math.min(c.batchSize, minShard), noiseMultiplier: c.dpSgd.noiseMultiplier, epochs: steps * Math.min(c.batchSize, minShard) / minShard, delta: DELTA }).epsilon
    : null)
  let reputation: ExperimentResult['reputation'] = null
  if (c.engine === 'fast' && history.length > 0) {
    const rep = reputationAfter(history, peerIds)
    const mean = (idx: number[]): number => idx.reduce((a, i) => a + rep.get(peerIds[i]!)!.score, 0) / idx.length
    const byzIds = new Set(byz.map(i => peerIds[i]!))
    reputation = { honest: mean(honestIdx), byzantine: byz.length > 0 ? mean(byz) : null, censorsCharged, byzantineLedRounds: history.filter(e => byzIds.has(e.committee[0]!)).length }
  }
  let membership: ExperimentResult['membership'] = null
  let shadowMembership: ExperimentResult['shadowMembership'] = null
  if (c.membership > 0) {
    const members = head(shards[0]!, Math.min(c.membership, shards[0]!.n))
    const nonMemberIdx = c.membershipNonMembers === 'matched' ? classMatchedIndices(fdata.test, members)
      : Array.from({ length: Math.min(c.membership, fdata.test.n) }, (_, k) => fdata.test.n - 1 - k)
    const nonMembers = subset(fdata.test, nonMemberIdx)
    const mi = membershipInference(spec, model, members, nonMembers, c.membership)
    membership = { auc: mi.auc, bestAdvantage: mi.best.advantage, yeomAdvantage: mi.yeom.advantage, members: mi.members }
    if (c.shadowModels > 0) {
      // How many times each of peer 0's records was seen: the shadows get as many passes.
      const exposure = c.localEpochs > 0 ? c.rounds * c.localEpochs : c.rounds * c.localSteps * Math.min(c.batchSize, shards[0]!.n) / shards[0]!.n
      const epsGlobal = [epsilonUpdateLevel, epsilonRecordLevel].filter((e): e is number => e !== null)
      shadowMembership = await shadowEvaluation(c, spec, model, lastLocal, members, nonMemberIdx, fdata.test, exposure,
        epsGlobal.length === 0 ? null : Math.min(...epsGlobal), epsilonRecordLevel)
    }
  }
  return {
    membership, shadowMembership, reputation, network,
    backdoorAccuracy: backdoorSet !== undefined ? (await evaluate(spec, model, backdoorSet)).accuracy : null,
    label, config: c, parameters: init.length, initialAccuracy: initialAcc, finalAccuracy,
    tailAccuracy: tail.reduce((a, b) => a + b, 0) / Math.max(1, tail.length),
    epsilonUpdateLevel, epsilonRecordLevel, epsilonRecordLevelPerPeer, finalModelHash: Array.from(modelHash(model), b => b.toString(16).padStart(2, '0')).join(''), seconds: (Date.now() - t0) / 1000, records
  }
}
