/**
 * One experiment of the researchers' harness (issue #5): defaults, merge,
 * validate (house style 7). Pure: no I/O, so the same config object runs from
 * the CLI, a matrix, a test or a browser page.
 */
import { InvalidParametersError } from '../../util/errors.ts'
import { ATTACKS } from '../sim/attacks.ts'
import { ruleNames } from '../round/rules.ts'
import type { Arch } from '../../model/spec.ts'
import type { PartitionOptions } from '../../model/partition.ts'
import { isFeatureName, FEATURE_NAMES } from '../../model/features/index.ts'
import { resolveOutlierParams } from '../../reputation/outliers.ts'

/**
 * Update-side attacks, B's whole registry: crafted from the round's updates (sign flip, Gaussian,
 * ALIE, IPM, min-max, min-sum), scaled model replacement from a backdoor-trained update
 * (the attackers' shards carry a trigger, attacks/backdoor.ts), free riding from the previous
 * global update (no training).
 */
export const UPDATE_ATTACKS: readonly string[] = [...ATTACKS]
/** Data-side: the Byzantine peers train honestly on reversed labels (y -> 9 - y). */
export const DATA_ATTACKS = ['label-flip'] as const
/**
 * A censoring leader: a Byzantine peer that leads a round omits chosen contributors from its
 * plan though the receipts show their shares delivered. Runs on the fast engine (exact:
 * test/gossip-fl/harness/censor.test.ts replays it on real round machines).
 */
export const LEADER_ATTACKS = ['censoring-leader'] as const
/**
 * Committee-side, through H's fault hooks (full protocol only): members sending
 * wrong partial sums, members withholding theirs (silent after their receipt),
 * and a silent leader (no plan: the round retries with a new committee).
 */
export const COMMITTEE_ATTACKS = ['wrong-partials', 'withhold-partials', 'silent-leader'] as const
export const ALL_ATTACKS: readonly string[] = ['none', ...UPDATE_ATTACKS, ...DATA_ATTACKS, ...LEADER_ATTACKS, ...COMMITTEE_ATTACKS]

/** Attacks a libp2p Peer can mount from its own trainer (no view of the honest updates): `--network libp2p`. */
export const LIBP2P_ATTACKS: readonly string[] = ['none', 'label-flip', 'model-replacement', 'free-riding']

export type Engine = 'fast' | 'full' | 'libp2p'

export interface ExperimentConfig {
  /** A short label for tables and plots (default: derived). */
  label?: string
  dataset: 'mnist' | 'fashion-mnist'
  /** iid | dirichlet:ALPHA | shards:K */
  partition: string
  model: Arch
  peers: number
  /** Byzantine peers (the last ones); with a committee-side attack, the number of misbehaving committee members. */
  byzantine: number
  attack: string
  rounds: number
  /** Local SGD steps per round (batch `batchSize`); `localEpochs` > 0 overrides it. */
  localSteps: number
  localEpochs: number
  batchSize: number
  lr: number
  /** Worker momentum (Karimireddy, He, Jaggi, ICLR 2022): a peer sends m = beta m + (1 - beta) update. */
  momentum: number
  /** Local optimizer (C's trainLocal): sgd, momentum (heavy ball 0.9) or adam; a fresh optimizer each round, as `tessera peer --optimizer`. */
  optimizer: 'sgd' | 'momentum' | 'adam'
  /**
   * Honest peers rescale their (momentum) update to exactly the clip norm C, as `tessera peer
   * --full-budget` does (docs/architecture/main-job.md): a full-budget attacker then weighs exactly
   * what an honest peer weighs, however small honest updates become late in training.
   */
  fullBudget: boolean
  committee: number
  threshold: number
  group: number
  rule: string
  ruleParams: Record<string, unknown>
  normCheck: boolean
  /** Clip norm C of an update (the norm check's bound). */
  clip: number
  /** Update-level noise multiplier z of each group sum. */
  noise: number
  /** Data-independent feature map applied to train and test images before everything (src/model/features): none | scatter | scatter2 | pool2. No privacy cost. */
  features: string
  /** > 0: each peer's batch is round(q n_i) of its own shard n_i (DP-SGD then Poisson-samples at about q for every peer); 0 = `batchSize` for all. */
  samplingRate: number
  /** Record-level DP-SGD per peer: per-example clip and noise multiplier; undefined = off. */
  dpSgd?: { clip: number, noiseMultiplier: number }
  seed: string
  /** Evaluate every k rounds (and always at the last round). */
  evalEvery: number
  /** Test examples evaluated (the first N of the test split). */
  testExamples: number
  /** Use only the first N training examples (0 = all): CI-sized runs. */
  trainExamples: number
  engine: Engine
  /** Non-members for membership inference: 'matched' (test images with the members' class mix) or 'test' (the last test images). */
  membershipNonMembers: 'matched' | 'test'
  /** --norm-check off only: attackers spend k * C (0 = B's attacks unbounded, with their defaults). */
  undefendedBudget: number
  /** Membership inference on the final model with this many members and non-members (0 = off). */
  membership: number
  /** Shadow-model membership inference (Shokri et al. 2017) with this many shadow models (0 = off; needs membership > 0). */
  shadowModels: number
  /** Parameters of B's attack (merged over the harness's: norm budget C, full budget). */
  attackParams: Record<string, unknown>
  /** model-replacement: share of the attackers' examples copied with the trigger and the target label. */
  backdoorFraction: number
  /** model-replacement: the backdoor's target class. */
  backdoorTarget: number
  /** Fast engine: draw each round's committee weighted by the reputation of the (audited) evidence so far, as E's ledger does (default: weight 1, as H's simulate). */
  reputationCommittees: boolean
  /** censoring-leader: how many contributors (the first honest peers) a censoring leader omits (0 = min(5, honest peers)). */
  censorTargets: number
  /**
   * Exclude persistent outliers from the plan (src/reputation/outliers.ts, t-test of each contributor's own
   * projection on the aggregate); undefined = off. Values are OutlierParams overrides ({} = the defaults).
   * Every engine: the full one runs the live protocol's rule (machines record `projections` on each
   * checkpoint, round r excludes from checkpoints < r), a libp2p network puts it in its charter (v3).
   */
  exclusion?: { window?: number, minObservations?: number, tCritical?: number } | false
  /**
   * Fast engine with `exclusion`: record the evidence on the checkpoint as the live protocol does
   * (fast.ts `exclusionOnCheckpoint`; the full and libp2p engines always do). Unset = false: the
   * harness's earlier variant, so archived fast-engine results stay reproducible.
   */
  exclusionOnCheckpoint?: boolean
}

export const DEFAULTS: Readonly<ExperimentConfig> = Object.freeze({
  dataset: 'mnist',
  partition: 'dirichlet:0.5',
  model: 'mlp',
  peers: 25,
  byzantine: 0,
  attack: 'none',
  rounds: 100,
  localSteps: 1,
  localEpochs: 0,
  batchSize: 32,
  lr: 0.1,
  momentum: 0.9,
  optimizer: 'sgd',
  fullBudget: false,
  committee: 5,
  threshold: 2,
  group: 2,
  rule: 'centered-clipping',
  ruleParams: {},
  normCheck: true,
  clip: 0.5,
  noise: 0,
  features: 'none',
  samplingRate: 0,
  seed: '1',
  evalEvery: 10,
  testExamples: 10000,
  trainExamples: 0,
  engine: 'fast',
  membership: 0,
  membershipNonMembers: 'matched',
  undefendedBudget: 0,
  shadowModels: 0,
  attackParams: {},
  backdoorFraction: 0.5,
  backdoorTarget: 0,
  censorTargets: 0,
  reputationCommittees: false
}) as Readonly<ExperimentConfig>

export function parsePartition(s: string): PartitionOptions {
  const [scheme, arg] = s.split(':')
  if (scheme === 'iid' && arg === undefined) return { scheme: 'iid' }
  if (scheme === 'dirichlet') {
    const alpha = Number(arg ?? '0.5')
    if (!(alpha > 0) || !Number.isFinite(alpha)) throw new InvalidParametersError(`partition '${s}': alpha must be > 0`)
    return { scheme: 'dirichlet', alpha, minSize: 32 }
  }
  if (scheme === 'shards') {
    const k = Number(arg ?? '2')
    if (!Number.isInteger(k) || k < 1) throw new InvalidParametersError(`partition '${s}': shards per peer must be an integer >= 1`)
    return { scheme: 'shards', shardsPerPart: k }
  }
  throw new InvalidParametersError(`partition must be iid, dirichlet:ALPHA or shards:K, got '${s}'`)
}

/** Defaults, then merge, then validate; throws InvalidParametersError naming the bad field. */
export function resolveExperiment(partial: Partial<ExperimentConfig>): ExperimentConfig {
  const c: ExperimentConfig = { ...DEFAULTS, ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) } as ExperimentConfig
  const bad = (m: string): never => { throw new InvalidParametersError(m) }
  const int = (name: keyof ExperimentConfig, lo: number, hi: number): void => {
    const v = c[name] as unknown
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) bad(`${name} must be an integer in [${lo}, ${hi}], got ${String(v)}`)
  }
  const num = (name: keyof ExperimentConfig, lo: number, hi: number, openLo = false): void => {
    const v = c[name] as unknown
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi || (openLo && v === lo)) bad(`${name} must be a number in ${openLo ? '(' : '['}${lo}, ${hi}], got ${String(v)}`)
  }
  if (c.dataset !== 'mnist' && c.dataset !== 'fashion-mnist') bad(`dataset must be mnist or fashion-mnist, got '${String(c.dataset)}'`)
  parsePartition(c.partition)
  if (!['softmax', 'mlp', 'cnn'].includes(c.model)) bad(`model must be softmax, mlp or cnn, got '${String(c.model)}'`)
  int('peers', 2, 1000)
  int('byzantine', 0, c.peers - 1)
  if (!ALL_ATTACKS.includes(c.attack)) bad(`attack must be one of ${ALL_ATTACKS.join(', ')}, got '${c.attack}'`)
  if (c.attack !== 'none' && c.byzantine === 0) bad(`attack '${c.attack}' needs --byzantine > 0`)
  int('rounds', 1, 100_000)
  int('localSteps', 1, 1_000_000)
  num('localEpochs', 0, 1000)
  int('batchSize', 1, 65536)
  num('lr', 0, 100, true)
  num('momentum', 0, 0.999)
  if (!['sgd', 'momentum', 'adam'].includes(c.optimizer)) bad(`optimizer must be sgd, momentum or adam, got '${String(c.optimizer)}'`)
  if (typeof c.fullBudget !== 'boolean') bad('fullBudget must be a boolean')
  int('committee', 1, Math.min(256, c.peers))
  int('threshold', 1, c.committee)
  int('group', 1, c.peers)
  if (!ruleNames().includes(c.rule)) bad(`rule must be one of ${ruleNames().join(', ')}, got '${c.rule}'`)
  if (c.ruleParams === null || typeof c.ruleParams !== 'object') bad('ruleParams must be an object')
  if (typeof c.normCheck !== 'boolean') bad('normCheck must be a boolean')
  num('clip', 0, 1e6, true)
  num('noise', 0, 1e3)
  if (!isFeatureName(c.features)) bad(`features must be one of ${FEATURE_NAMES.join(', ')}, got '${String(c.features)}'`)
  num('samplingRate', 0, 1)
  if (c.dpSgd !== undefined && (!(c.dpSgd.clip > 0) || !(c.dpSgd.noiseMultiplier >= 0))) bad('dpSgd needs clip > 0 and noiseMultiplier >= 0')
  int('evalEvery', 1, 100_000)
  int('testExamples', 1, 1_000_000)
  int('trainExamples', 0, 10_000_000)
  int('membership', 0, 100_000)
  num('undefendedBudget', 0, 1e6)
  int('shadowModels', 0, 64)
  if (c.shadowModels > 0 && c.membership === 0) bad('shadowModels needs membership > 0 (the evaluation set)')
  if (c.attackParams === null || typeof c.attackParams !== 'object' || Array.isArray(c.attackParams)) bad('attackParams must be an object')
  num('backdoorFraction', 0, 1)
  int('backdoorTarget', 0, 9)
  int('censorTargets', 0, c.peers - c.byzantine)
  if (typeof c.reputationCommittees !== 'boolean') bad('reputationCommittees must be a boolean')
  if (c.exclusionOnCheckpoint !== undefined && typeof c.exclusionOnCheckpoint !== 'boolean') bad('exclusionOnCheckpoint must be a boolean')
  if (c.exclusion !== undefined && c.exclusion !== false) {
    if (c.exclusion === null || typeof c.exclusion !== 'object' || Array.isArray(c.exclusion)) bad('exclusion must be an object of outlier parameters')
    try { resolveOutlierParams(c.exclusion) } catch (e) { bad((e as Error).message) }
  }
  if (c.reputationCommittees && c.engine !== 'fast') bad('reputationCommittees needs the fast engine (the full engine is H\'s simulate, weight 1; a libp2p network always weighs by reputation)')
  if (c.membershipNonMembers !== 'matched' && c.membershipNonMembers !== 'test') bad(`membershipNonMembers must be matched or test, got '${String(c.membershipNonMembers)}'`)
  if (!['fast', 'full', 'libp2p'].includes(c.engine)) bad(`engine must be fast, full or libp2p, got '${String(c.engine)}'`)
  const committeeSide = (COMMITTEE_ATTACKS as readonly string[]).includes(c.attack)
  if (committeeSide && c.engine === 'fast') bad(`attack '${c.attack}' is committee-side: it needs --engine full`)
  if (committeeSide && c.byzantine > c.committee) bad(`attack '${c.attack}': at most --committee members can misbehave`)
  if ((LEADER_ATTACKS as readonly string[]).includes(c.attack) && c.engine !== 'fast') bad(`attack '${c.attack}' runs on the fast engine (H's simulate has no hook for a leader's plan; the fast path is checked against real machines)`)
  if (c.engine === 'libp2p' && !LIBP2P_ATTACKS.includes(c.attack)) bad(`--network libp2p: attack '${c.attack}' is not available (a Peer's trainer sees only its own update; available: ${LIBP2P_ATTACKS.join(', ')})`)
  if (c.engine === 'libp2p' && c.peers > 64) bad('--network libp2p: at most 64 peers (one libp2p node each, in this process)')
  if (!c.normCheck && c.engine !== 'fast') bad('--norm-check off exists only on the fast engine (the protocol always checks norms)')
  return c
}

/** A label for a run: what varies in a matrix. */
export function defaultLabel(c: ExperimentConfig): string {
  const defence = !c.normCheck ? 'undefended mean' : `${c.rule} g=${c.group}`
  return `${defence} | ${c.attack === 'none' ? 'no attack' : c.attack}`
}
