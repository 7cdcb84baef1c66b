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
import { resolveExperiment, parsePartition, defaultLabel, UPDATE_ATTACKS, type ExperimentConfig } from './config.ts'
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
  /** Loss-threshold membership inference on the final model (peer 0's records vs held-out test images); null when off. */
  membership: { auc: number, bestAdvantage: number, yeomAdvantage: number, members: number } | null
  /** SHA-256 (hex) of the final model's float32 bytes: equal seeds give equal hashes. */
  finalModelHash: string
  seconds: number
  records: RoundRecord[]
}

export interface ExperimentData { train: Dataset, test: Dataset }

export interface ExperimentHooks {
  onRound?: (rec: RoundRecord, cfg: ExperimentConfig) => void
  /** Signing for the full engine (default: H's pure-JS Ed25519). */
  signerFor?: (seed32: Uint8Array) => RoundSigner
  verify?: RoundVerify
}

export const DELTA = 1e-5

/**
 * Non-members with the members' class mix: for each class, as many test images of that
 * class as there are members of it, taken from the end of the test split (the harness
 * evaluates on its beginning). A loss threshold then cannot win by telling a non-IID
 * shard's classes from the test set's.
 */
export function classMatched(test: Dataset, members: Dataset): Dataset {
  const want = new Array<number>(test.classes).fill(0)
  for (let i = 0; i < members.n; i++) want[members.y[i]!]!++
  const idx: number[] = []
  for (let i = test.n - 1; i >= 0 && want.some(w => w > 0); i--) {
    const y = test.y[i]!
    if (want[y]! > 0) { want[y]!--; idx.push(i) }
  }
  return subset(test, idx)
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
    case 'censoring-leader': return { silent: [{ member: 0, after: 'start' as const }] }
    default: return undefined
  }
}

export async function runExperiment(partial: Partial<ExperimentConfig>, data: ExperimentData, hooks: ExperimentHooks = {}): Promise<ExperimentResult> {
  const c = resolveExperiment(partial)
  if (c.engine === 'libp2p') throw new InvalidParametersError('engine libp2p is not implemented in the harness yet (see docs/architecture/harness.md)')
  const label = c.label ?? defaultLabel(c)
  const t0 = Date.now()
  const train = c.trainExamples > 0 ? head(data.train, Math.min(c.trainExamples, data.train.n)) : data.train
  const testSet = head(data.test, Math.min(c.testExamples, data.test.n))
  const spec = { ...mnistSpec(c.model), inputShape: [...train.shape], classes: train.classes }
  const parts = partition(train.y, train.classes, c.peers, parsePartition(c.partition), seededRng(`harness/${c.seed}/split`))
  // The last `byzantine` peers are the attackers (contributor-side attacks).
  const contributorAttack = UPDATE_ATTACKS.includes(c.attack) || c.attack === 'label-flip'
  const byz = contributorAttack ? Array.from({ length: c.byzantine }, (_, i) => c.peers - 1 - i) : []
  const byzSet = new Set(byz)
  const shards = parts.map((idx, i) => {
    const s = subset(train, idx)
    return c.attack === 'label-flip' && byzSet.has(i) ? makeDataset(s.x, flipLabels(s.y, { numClasses: s.classes }), s.shape, s.classes) : s
  })
  const init = initialWeights(spec, seededRng(`harness/${c.seed}/init`))
  const initialAccuracy = (await evaluate(spec, init, testSet)).accuracy
  const momenta: Array<Float32Array | undefined> = []
  let roundNorms: number[] = []
  const trainFn = async (i: number, model: Float32Array, round: number): Promise<Float32Array> => {
    const r = await trainLocal(spec, model, shards[i]!, {
      epochs: c.localEpochs > 0 ? c.localEpochs : 1, batchSize: c.batchSize, lr: c.lr,
      maxSteps: c.localEpochs > 0 ? undefined : c.localSteps, seed: `${c.seed}/${i}/${round}`,
      dp: c.dpSgd === undefined ? undefined : { clip: c.dpSgd.clip, noiseMultiplier: c.dpSgd.noiseMultiplier }
    })
    // Worker momentum (Karimireddy, He, Jaggi, "Learning from History for Byzantine Robust Optimization", ICML 2021).
    const m = momenta[i] ?? new Float32Array(model.length)
    for (let j = 0; j < m.length; j++) m[j] = c.momentum * m[j]! + (1 - c.momentum) * (r.weights[j]! - model[j]!)
    momenta[i] = m
    if (!byzSet.has(i)) roundNorms.push(l2Norm(m))
    return Float32Array.from(m)
  }
  const records: RoundRecord[] = []
  let tLast = Date.now()
  const evalFn = async (round: number, model: Float32Array): Promise<number | null> =>
    round % c.evalEvery === 0 || round === c.rounds ? (await evaluate(spec, model, testSet)).accuracy : null
  const record = (round: number, accuracy: number | null, r: { groups: string[][], refused: unknown[], blamed: unknown[], far: unknown[], retries: number }): void => {
    const now = Date.now()
    const rec: RoundRecord = {
      label, round, accuracy, groups: r.groups.length, refused: r.refused.length, blamed: r.blamed.length, far: r.far.length,
      retries: r.retries, honestMedianNorm: median(roundNorms), seconds: (now - tLast) / 1000
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
  const faults: SimFaults | undefined = UPDATE_ATTACKS.includes(c.attack) && byz.length > 0 ? { byzantine: { peers: byz, attack: c.attack } } : committeeFaults(c)
  let model: Float32Array
  const accs = new Map<number, number | null>()
  let round = 0
  if (c.engine === 'fast') {
    const res = await fastSimulate({
      peers: c.peers, rounds: c.rounds, seed: c.seed, initialModel: init, params, faults, normCheck: c.normCheck, undefendedBudget: c.undefendedBudget, train: trainFn,
      signerFor: hooks.signerFor, keepReports: false,
      evaluate: async (m) => { round++; const a = await evalFn(round, m); accs.set(round, a); return a ?? Number.NaN },
      onRound: (rep) => record(rep.round, accs.get(rep.round) ?? null, rep)
    })
    model = res.model
  } else {
    const res = await simulate({
      peers: c.peers, rounds: c.rounds, seed: c.seed, initialModel: init, params, faults, train: trainFn,
      signerFor: hooks.signerFor, verify: hooks.verify,
      evaluate: async (m) => { round++; const a = await evalFn(round, m); accs.set(round, a); return a ?? Number.NaN },
      onRound: (rep) => record(rep.round, accs.get(rep.round) ?? null, rep)
    })
    model = res.model
  }
  const evaluated = records.filter(r => r.accuracy !== null).map(r => r.accuracy!)
  const finalAccuracy = records[records.length - 1]!.accuracy ?? Number.NaN
  const tail = evaluated.slice(-3)
  const minShard = Math.min(...shards.map(s => s.n))
  const epsilonUpdateLevel = c.noise > 0 ? peerEpsilonKnownRounds({ roundsTaken: c.rounds, noiseMultiplier: c.noise, delta: DELTA }).epsilon : null
  const steps = c.localEpochs > 0 ? c.rounds * c.localEpochs * Math.ceil(minShard / c.batchSize) : c.rounds * c.localSteps
  const epsilonRecordLevel = c.dpSgd !== undefined && c.dpSgd.noiseMultiplier > 0
    ? computeDpSgdPrivacy({ examples: minShard, batchSize: Math.min(c.batchSize, minShard), noiseMultiplier: c.dpSgd.noiseMultiplier, epochs: steps * Math.min(c.batchSize, minShard) / minShard, delta: DELTA }).epsilon
    : null
  let membership: ExperimentResult['membership'] = null
  if (c.membership > 0) {
    const members = head(shards[0]!, Math.min(c.membership, shards[0]!.n))
    const nonMembers = c.membershipNonMembers === 'matched' ? classMatched(data.test, members)
      : subset(data.test, Array.from({ length: Math.min(c.membership, data.test.n) }, (_, k) => data.test.n - 1 - k))
    const mi = membershipInference(spec, model, members, nonMembers, c.membership)
    membership = { auc: mi.auc, bestAdvantage: mi.best.advantage, yeomAdvantage: mi.yeom.advantage, members: mi.members }
  }
  return {
    membership,
    label, config: c, parameters: init.length, initialAccuracy, finalAccuracy,
    tailAccuracy: tail.reduce((a, b) => a + b, 0) / Math.max(1, tail.length),
    epsilonUpdateLevel, epsilonRecordLevel, finalModelHash: Array.from(modelHash(model), b => b.toString(16).padStart(2, '0')).join(''), seconds: (Date.now() - t0) / 1000, records
  }
}
