/**
 * The network charter: the body of the genesis entry (DESIGN.md, "The network
 * charter"). `makeCharter` merges caller values over defaults and validates
 * (House style 7); `parseCharter` validates a decoded genesis body.
 *
 * Versions. A version 1 charter (no `version` key: every genesis written before
 * 2026-11-23) fixes only epochs, batch size and learning rate of local training;
 * how peers train (optimizer, steps, worker momentum, full budget, feature map)
 * was each peer's flags, so two peers of one network could train differently.
 * Version 2 (`version: 2`) fixes all of them in `training`. A v1 charter still
 * loads: `parseCharter` fills the v2 fields with what a peer did by default
 * before (`V1_TRAINING`: SGD, 50 steps, no worker momentum, no rescaling, raw
 * pixels) and reports `version: 1`, and a peer of a v1 network may still set
 * them by flag (src/node/peer/charter-params.ts). `makeCharter` writes version 2.
 * Version 3 adds `exclusion`, the persistent-outlier exclusion (src/reputation/outliers.ts)
 * made binding by the ledger: its checkpoints carry each group's projection on the aggregate
 * and LedgerState derives who is excluded from each round. v1 and v2 charters load with
 * exclusion off (their checkpoints never carried projections); `makeCharter` writes v3 with
 * the outliers.ts defaults, enabled only when asked (`exclusion: { enabled: true }`);
 * `tessera init` asks by default, so new networks have it.
 * A genesis of a later version is refused (`malformed`, "unsupported version").
 */
import { InvalidParametersError } from '../util/errors.ts'
import { LedgerVerificationError } from './errors.ts'
import { resolveReputationParams } from '../reputation/index.ts'
import { DEFAULT_OUTLIER_PARAMS, resolveOutlierParams, type OutlierParams } from '../reputation/outliers.ts'
import * as s from './schema.ts'
import { getRule } from '../gossip-fl/aggregation/registry.ts'
import { FEATURE_NAMES, type FeatureName } from '../model/features/index.ts'

/** The charter schema version `makeCharter` writes; `parseCharter` reads 1, 2 and 3. */
export const CHARTER_VERSION = 3

/**
 * Persistent-outlier exclusion (version 3): when `enabled`, contributors whose mean own
 * projection on the aggregate over their last `window` planned rounds is conclusively
 * negative (t < -tCritical after >= minObservations rounds) are refused from every later
 * plan (src/reputation/outliers.ts; the ledger derives the set, docs/architecture/reputation.md).
 */
export interface CharterExclusion extends OutlierParams { enabled: boolean }

/** What a v1 / v2 charter means: no exclusion (their checkpoints carry no projections). */
export const NO_EXCLUSION: Readonly<CharterExclusion> = Object.freeze({ enabled: false, ...DEFAULT_OUTLIER_PARAMS })

export const LOCAL_OPTIMIZERS = ['sgd', 'momentum', 'adam'] as const
export type LocalOptimizer = typeof LOCAL_OPTIMIZERS[number]

/**
 * Local training, the same for every peer of the network. The first three are
 * version 1's; the rest are version 2's (for a v1 charter, `V1_TRAINING`).
 */
export interface CharterTraining {
  /** upper bound on local epochs per round */
  epochs: number
  batchSize: number
  learningRate: number
  /** local optimizer, fresh each round (src/model/train.ts) */
  optimizer: LocalOptimizer
  /** momentum coefficient of the 'momentum' optimizer (unused by the others) */
  localMomentum: number
  /** local optimizer steps per round (the share deadline must cover them) */
  steps: number
  /**
   * worker momentum beta: each peer sends m = beta m + (1 - beta) (w' - w) (Karimireddy,
   * He, Jaggi, ICML 2021, the workers' side of centered clipping with momentum); 0 = off
   */
  workerMomentum: number
  /**
   * honest updates rescaled to exactly the clip norm C ("full budget": an honest peer
   * weighs what a full-budget attacker does; docs/architecture/main-job.md)
   */
  fullBudget: boolean
  /** fixed, data-independent feature map applied by each peer to its own data (src/model/features) */
  features: FeatureName
}

/** What a peer did before the charter fixed it (the v1 `tessera peer` flag defaults). */
export const V1_TRAINING: Readonly<Omit<CharterTraining, 'epochs' | 'batchSize' | 'learningRate'>> = Object.freeze({
  optimizer: 'sgd', localMomentum: 0.9, steps: 50, workerMomentum: 0, fullBudget: false, features: 'none'
})

export type AdmissionPolicy =
  /** Anyone joins with a self-signed join entry. `founders` run round 1 (empty = the genesis author). */
  | { mode: 'open', founders: Uint8Array[] }
  /** A peer is admitted once `k` distinct founders have signed an admit entry for it. */
  | { mode: 'consortium', founders: Uint8Array[], k: number }

export interface Charter {
  /** schema version: 3 for charters `makeCharter` writes; 2 and 1 (no `version` key) for older genesis bodies */
  version: 1 | 2 | 3
  networkId: string
  /** `inputShape`: one raw example's shape (the data's); the model's input is `training.features` of it */
  model: { arch: string, inputShape: number[], classes: number }
  training: CharterTraining
  dp: { clipNorm: number, noiseMultiplier: number, delta: number, epsilonBudget: number }
  /** Committee size m, Shamir threshold t, group size g. */
  committee: { m: number, t: number, g: number }
  aggregation: { rule: string, params: Record<string, number | string | boolean> }
  /** Milliseconds allowed for each phase of a round. */
  deadlines: { share: number, receipt: number, plan: number, partial: number, checkpoint: number }
  admission: AdmissionPolicy
  watermark: { required: boolean, schemes: string[] }
  /** Parameters handed to the reputation function (src/reputation), by name. */
  reputation: Record<string, number>
  /** Persistent-outlier exclusion (version 3; v1 / v2: NO_EXCLUSION). */
  exclusion: CharterExclusion
}

/** Hard caps that keep decoding and verification finite whatever a charter says. */
export const LIMITS = {
  maxEnvelopeBytes: 1 << 20,
  maxCommittee: 256,
  maxFounders: 256,
  maxListLength: 10_000,
  maxGroups: 10_000
} as const

export function defaultCharter(): Charter {
  return {
    networkId: 'tessera-mnist',
    model: { arch: 'mlp-784-100-10', inputShape: [28, 28, 1], classes: 10 },
    version: CHARTER_VERSION,
    // Training, clip, g and the rule's parameters: the robustness table's default defence and npm
    // start's recipe (docs/results/robustness/README.md, docs/architecture/main-job.md): local Adam,
    // 60 steps of batch 64 at lr 0.003, worker momentum 0.5, honest updates rescaled to C = 8.
    training: { epochs: 1, batchSize: 64, learningRate: 0.003, optimizer: 'adam', localMomentum: 0.9, steps: 60, workerMomentum: 0.5, fullBudget: true, features: 'none' },
    dp: { clipNorm: 8, noiseMultiplier: 1, delta: 1e-5, epsilonBudget: 8 },
    committee: { m: 5, t: 3, g: 2 },
    // The coordinate-wise median over group means of g = 2 (with exclusion, which `tessera init` turns
    // on), chosen from the robustness table (docs/results/robustness/charter-default/): it
    // ties centered clipping (the default until session 8) within 0.3 point under every attack at
    // rounds 20-30 and also removes model replacement's backdoor (3-5% trigger success at g = 2,
    // against 100% under centered clipping). It loses that defence at g = 3, so g stays 2.
    aggregation: { rule: 'coordinate-median', params: {} },
    deadlines: { share: 30_000, receipt: 10_000, plan: 10_000, partial: 20_000, checkpoint: 20_000 },
    admission: { mode: 'open', founders: [] },
    watermark: { required: false, schemes: ['trigger-set', 'weight-signature'] },
    reputation: {},
    // Off in the library default, so ledgers built by hand (test fixtures: checkpoints without the
    // evidence) stay valid; `tessera init`, which creates real networks, turns it on by default.
    exclusion: { enabled: false, ...DEFAULT_OUTLIER_PARAMS }
  }
}

/**
 * A charter's parameters for `rule` when none are given. Centered clipping: tau = the clip norm C
 * and 3 iterations, the robustness table's setting (Karimireddy, He, Jaggi, ICML 2021, use tau of
 * the order of the honest updates' norm, which full-budget updates fix at C); the rule's own
 * defaults (tau 10, 1 iteration) are for unscaled updates. Every other rule: its own defaults ({}).
 */
export function defaultRuleParams (rule: string, clipNorm: number): Record<string, number> {
  return rule === 'centered-clipping' ? { tau: clipNorm, iterations: 3 } : {}
}

export type CharterInput = Partial<Omit<Charter, 'version' | 'model' | 'training' | 'dp' | 'committee' | 'aggregation' | 'deadlines' | 'watermark' | 'exclusion'>> & {
  exclusion?: Partial<CharterExclusion>
  /** only CHARTER_VERSION (makeCharter writes the current version) */
  version?: number
  model?: Partial<Charter['model']>
  training?: Partial<Charter['training']>
  dp?: Partial<Charter['dp']>
  committee?: Partial<Charter['committee']>
  aggregation?: Partial<Charter['aggregation']>
  deadlines?: Partial<Charter['deadlines']>
  watermark?: Partial<Charter['watermark']>
}

/** Defaults, then merge, then validate; throws InvalidParametersError naming the field. */
export function makeCharter(input: CharterInput = {}): Charter {
  const d = defaultCharter()
  if (input.version !== undefined && input.version !== CHARTER_VERSION) throw new InvalidParametersError(`charter.version: makeCharter writes version ${CHARTER_VERSION}, got ${String(input.version)}`)
  const c: Charter = {
    version: CHARTER_VERSION,
    networkId: input.networkId ?? d.networkId,
    model: { ...d.model, ...input.model },
    training: { ...d.training, ...input.training },
    dp: { ...d.dp, ...input.dp },
    committee: { ...d.committee, ...input.committee },
    // A rule without params gets the charter's defaults for that rule (defaultRuleParams).
    aggregation: {
      rule: input.aggregation?.rule ?? d.aggregation.rule,
      params: input.aggregation?.params ?? defaultRuleParams(input.aggregation?.rule ?? d.aggregation.rule, input.dp?.clipNorm ?? d.dp.clipNorm)
    },
    deadlines: { ...d.deadlines, ...input.deadlines },
    admission: input.admission ?? d.admission,
    watermark: { ...d.watermark, ...input.watermark },
    reputation: input.reputation ?? d.reputation,
    exclusion: { ...d.exclusion, ...Object.fromEntries(Object.entries(input.exclusion ?? {}).filter(([, x]) => x !== undefined)) }
  }
  let parsed: Charter
  try {
    parsed = parseCharter(c)
  } catch (err) {
    if (err instanceof LedgerVerificationError) throw new InvalidParametersError(`charter ${err.message.replace(/^\[malformed\] /, '')}`)
    throw err
  }
  checkCharterRule(parsed)
  return parsed
}

const founderKey = (v: unknown, p: string): Uint8Array => s.bytes(v, p, 32)

/** Validate a decoded charter (the genesis body); throws LedgerVerificationError('malformed'). */
export function parseCharter(v: unknown, path = 'charter'): Charter {
  const o = s.obj(v, path, ['networkId', 'model', 'training', 'dp', 'committee', 'aggregation', 'deadlines', 'admission', 'watermark', 'reputation'], ['version', 'exclusion'])
  // No `version` key: a version 1 charter. `version: 1` is not written by anyone: refused, so
  // that each charter has one encoding.
  const version = o.version === undefined ? 1 : s.int(o.version, `${path}.version`, 2, CHARTER_VERSION) as 2 | 3
  // `exclusion` exists from version 3 on, and there it is required (one encoding per charter).
  if (version < 3 && o.exclusion !== undefined) s.fail(`${path}.exclusion`, `unexpected field in a version ${version} charter`)
  if (version >= 3 && o.exclusion === undefined) s.fail(`${path}.exclusion`, 'missing')
  let exclusion: CharterExclusion = { ...NO_EXCLUSION }
  if (version >= 3) {
    const ex = s.obj(o.exclusion, `${path}.exclusion`, ['enabled', 'window', 'minObservations', 'tCritical'])
    const enabled = s.bool(ex.enabled, `${path}.exclusion.enabled`)
    const window = s.int(ex.window, `${path}.exclusion.window`, 0, 1 << 30)
    const minObservations = s.int(ex.minObservations, `${path}.exclusion.minObservations`, 0, 1 << 30)
    const tCritical = s.num(ex.tCritical, `${path}.exclusion.tCritical`)
    try {
      resolveOutlierParams({ window, minObservations, tCritical })
    } catch (err) {
      s.fail(`${path}.exclusion`, (err as Error).message)
    }
    exclusion = { enabled, window, minObservations, tCritical }
  }
  const model = s.obj(o.model, `${path}.model`, ['arch', 'inputShape', 'classes'])
  const v1Keys = ['epochs', 'batchSize', 'learningRate']
  const training = s.obj(o.training, `${path}.training`, version === 1 ? v1Keys : [...v1Keys, ...Object.keys(V1_TRAINING)])
  const dp = s.obj(o.dp, `${path}.dp`, ['clipNorm', 'noiseMultiplier', 'delta', 'epsilonBudget'])
  const com = s.obj(o.committee, `${path}.committee`, ['m', 't', 'g'])
  const agg = s.obj(o.aggregation, `${path}.aggregation`, ['rule', 'params'])
  const dl = s.obj(o.deadlines, `${path}.deadlines`, ['share', 'receipt', 'plan', 'partial', 'checkpoint'])
  const adm = s.obj(o.admission, `${path}.admission`, ['mode', 'founders'], ['k'])
  const wm = s.obj(o.watermark, `${path}.watermark`, ['required', 'schemes'])
  const m = s.int(com.m, `${path}.committee.m`, 1, LIMITS.maxCommittee)
  const t = s.int(com.t, `${path}.committee.t`, 1, m)
  const g = s.int(com.g, `${path}.committee.g`, 1, LIMITS.maxListLength)
  const mode = s.oneOf(adm.mode, `${path}.admission.mode`, ['open', 'consortium'] as const)
  const founders = s.list(adm.founders, `${path}.admission.founders`, LIMITS.maxFounders, founderKey)
  const seen = new Set(founders.map((f) => f.join(',')))
  if (seen.size !== founders.length) s.fail(`${path}.admission.founders`, 'duplicate key')
  let admission: AdmissionPolicy
  if (mode === 'consortium') {
    if (founders.length === 0) s.fail(`${path}.admission.founders`, 'a consortium needs founders')
    admission = { mode, founders, k: s.int(adm.k, `${path}.admission.k`, 1, founders.length) }
  } else {
    if (adm.k !== undefined) s.fail(`${path}.admission.k`, 'only for consortium mode')
    admission = { mode, founders }
  }
  const paramsObj = s.obj(agg.params, `${path}.aggregation.params`, [], Object.keys(agg.params as object ?? {}))
  const params: Record<string, number | string | boolean> = {}
  for (const [k, val] of Object.entries(paramsObj)) {
    if (typeof val === 'string') params[k] = s.str(val, `${path}.aggregation.params.${k}`)
    else if (typeof val === 'boolean') params[k] = val
    else params[k] = s.num(val, `${path}.aggregation.params.${k}`)
  }
  const repObj = s.obj(o.reputation, `${path}.reputation`, [], Object.keys(o.reputation as object ?? {}))
  const reputation: Record<string, number> = {}
  for (const [k, val] of Object.entries(repObj)) reputation[k] = s.num(val, `${path}.reputation.${k}`)
  if ('round' in reputation) s.fail(`${path}.reputation.round`, 'is set per round by the ledger')
  try {
    resolveReputationParams(reputation)
  } catch (err) {
    s.fail(`${path}.reputation`, (err as Error).message)
  }
  const dim = (x: unknown, p: string): number => s.int(x, p, 1, 1 << 24)
  const ms = (x: unknown, p: string): number => s.int(x, p, 1, 24 * 3600 * 1000)
  const unit = (x: unknown, p: string): number => {
    const b = s.num(x, p, 0, 1)
    if (b >= 1) s.fail(p, 'must be below 1')
    return b
  }
  const recipe: Omit<CharterTraining, 'epochs' | 'batchSize' | 'learningRate'> = version === 1
    ? { ...V1_TRAINING }
    : {
        optimizer: s.oneOf(training.optimizer, `${path}.training.optimizer`, LOCAL_OPTIMIZERS),
        localMomentum: unit(training.localMomentum, `${path}.training.localMomentum`),
        steps: s.int(training.steps, `${path}.training.steps`, 1, 1_000_000),
        workerMomentum: unit(training.workerMomentum, `${path}.training.workerMomentum`),
        fullBudget: s.bool(training.fullBudget, `${path}.training.fullBudget`),
        features: s.oneOf(training.features, `${path}.training.features`, FEATURE_NAMES)
      }
  return {
    version,
    networkId: s.str(o.networkId, `${path}.networkId`, 128, 1),
    model: {
      arch: s.str(model.arch, `${path}.model.arch`, 256, 1),
      inputShape: s.list(model.inputShape, `${path}.model.inputShape`, 8, dim, 1),
      classes: s.int(model.classes, `${path}.model.classes`, 2, 1 << 20)
    },
    training: {
      epochs: s.int(training.epochs, `${path}.training.epochs`, 1, 10_000),
      batchSize: s.int(training.batchSize, `${path}.training.batchSize`, 1, 1 << 20),
      learningRate: s.num(training.learningRate, `${path}.training.learningRate`, Number.MIN_VALUE, 1e3),
      ...recipe
    },
    dp: {
      clipNorm: s.num(dp.clipNorm, `${path}.dp.clipNorm`, Number.MIN_VALUE, 1e9),
      noiseMultiplier: s.num(dp.noiseMultiplier, `${path}.dp.noiseMultiplier`, 0, 1e6),
      delta: s.num(dp.delta, `${path}.dp.delta`, 0, 1),
      epsilonBudget: s.num(dp.epsilonBudget, `${path}.dp.epsilonBudget`, Number.MIN_VALUE, 1e9)
    },
    committee: { m, t, g },
    aggregation: { rule: s.str(agg.rule, `${path}.aggregation.rule`, 64, 1), params },
    deadlines: {
      share: ms(dl.share, `${path}.deadlines.share`),
      receipt: ms(dl.receipt, `${path}.deadlines.receipt`),
      plan: ms(dl.plan, `${path}.deadlines.plan`),
      partial: ms(dl.partial, `${path}.deadlines.partial`),
      checkpoint: ms(dl.checkpoint, `${path}.deadlines.checkpoint`)
    },
    admission,
    watermark: {
      required: s.bool(wm.required, `${path}.watermark.required`),
      schemes: s.list(wm.schemes, `${path}.watermark.schemes`, 16, (x, p) => s.str(x, p, 64, 1))
    },
    reputation,
    exclusion
  }
}

/**
 * The charter's aggregation rule and its parameters, resolved by the rule itself
 * (src/gossip-fl/aggregation: defaults, merge, validate; unknown keys refused).
 * A charter whose rule cannot run is a network in which no round can ever finish:
 * every member's aggregation throws, the round machine retries, and the network
 * stalls with no error anyone sees (the `momentum` key that 45752c0's defaults put
 * in centered clipping's params did exactly that). `makeCharter` (so `tessera
 * init`) refuses it; a peer refuses such a genesis at start
 * (src/node/peer/charter-params.ts). Throws InvalidParametersError naming the rule.
 */
export function checkCharterRule(c: Pick<Charter, 'aggregation'>): void {
  let rule
  try {
    rule = getRule(c.aggregation.rule)
  } catch (err) {
    throw new InvalidParametersError(`charter.aggregation.rule: ${(err as Error).message}`)
  }
  try {
    rule.resolveParams(c.aggregation.params)
  } catch (err) {
    throw new InvalidParametersError(`charter.aggregation.params: ${(err as Error).message}`)
  }
}
