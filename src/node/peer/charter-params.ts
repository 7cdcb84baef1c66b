/**
 * From the network charter (the genesis body, src/ledger/charter.ts) to what a
 * peer runs: the round parameters (src/gossip-fl/round/params.ts), the model
 * spec (src/model/spec.ts) and the local training plan. Pure.
 *
 * Model arch names: 'softmax' | 'mlp' | 'cnn' (C's mnistSpec), or such a name
 * followed by '-' and a description ('mlp-784-128-10'), read as the name. The
 * model's input shape is the charter's `model.inputShape` (one raw example) mapped
 * by the charter's feature map (`training.features`; 'none' leaves it as is).
 */
import { checkCharterRule, type Charter, type LocalOptimizer } from '../../ledger/charter.ts'
import { resolveRoundParams, type RoundParams } from '../../gossip-fl/round/params.ts'
import { deriveLayout, mnistSpec, type Arch, type ModelSpec } from '../../model/spec.ts'
import { applyFeatures, type FeatureName } from '../../model/features/index.ts'
import { makeDataset } from '../../model/dataset.ts'
import { TesseraError } from '../../util/errors.ts'
import { UnsupportedCharterError } from './errors.ts'

/** A `tessera peer` flag sets a training field that the network's charter fixes to another value. */
export class CharterConflictError extends TesseraError {
  constructor (message: string) {
    super(message)
    this.name = 'CharterConflictError'
  }
}

export interface TrainingPlan {
  epochs: number
  batchSize: number
  lr: number
  optimizer: LocalOptimizer
  /** momentum coefficient of the 'momentum' optimizer */
  localMomentum: number
  /** local optimizer steps per round (charter.training.epochs is an upper bound) */
  maxSteps: number
  /** worker momentum beta: send m = beta m + (1 - beta) update */
  workerMomentum: number
  /** rescale the update to the clip norm C */
  fullBudget: boolean
  features: FeatureName
}

/** What a peer's flags may ask for; each is honoured only where the charter leaves freedom (a v1 charter). */
export interface TrainingFlags {
  epochs?: number
  optimizer?: LocalOptimizer
  localMomentum?: number
  steps?: number
  workerMomentum?: number
  fullBudget?: boolean
  features?: FeatureName
}

/** Flag name of each training field (for messages). */
const FLAG: Record<keyof TrainingFlags, string> = {
  epochs: '--epochs', optimizer: '--optimizer', localMomentum: '--local-momentum', steps: '--steps', workerMomentum: '--momentum', fullBudget: '--full-budget', features: '--features'
}

export function charterArch (c: Charter): Arch {
  const name = c.model.arch.split('-')[0]!
  if (name !== 'softmax' && name !== 'mlp' && name !== 'cnn') throw new UnsupportedCharterError(`model arch '${c.model.arch}' is not one of softmax, mlp, cnn`)
  return name
}

/**
 * The shape of one example after the feature map `features` (no data needed: the map is applied
 * to one blank example of `inputShape`, so the shape is the feature code's own, never a copy).
 */
export function featureShape (features: FeatureName, inputShape: readonly number[], classes: number): number[] {
  if (features === 'none') return [...inputShape]
  const n = inputShape.reduce((a, b) => a * b, 1)
  try {
    return [...applyFeatures(features, makeDataset(new Float32Array(n), new Uint8Array(1), inputShape, Math.max(2, Math.min(256, classes)))).shape]
  } catch (err) {
    throw new UnsupportedCharterError(`feature map '${features}' does not apply to examples of shape ${JSON.stringify(inputShape)}: ${(err as Error).message}`)
  }
}

/** The model every peer of the network trains: arch and classes from the charter, input = features of the charter's input shape. */
export function charterModelSpec (c: Charter): ModelSpec {
  const base = mnistSpec(charterArch(c))
  if (c.model.classes !== base.classes) throw new UnsupportedCharterError(`the charter has ${c.model.classes} classes; the ${base.arch} spec has ${base.classes}`)
  const spec: ModelSpec = { ...base, inputShape: featureShape(c.training.features, c.model.inputShape, c.model.classes) }
  try {
    deriveLayout(spec)
  } catch (err) {
    throw new UnsupportedCharterError(`the charter's model (${c.model.arch} on ${JSON.stringify(spec.inputShape)}${c.training.features !== 'none' ? `, features ${c.training.features}` : ''}) cannot be built: ${(err as Error).message}`)
  }
  return spec
}

/**
 * Round parameters from the charter. `maxRetries` and the fixed-point precision
 * are not charter fields: defaults. The committee size is capped by the
 * number of candidates (as E's LedgerState does: min(m, candidates)). A rule or
 * rule parameters this peer cannot run are refused here (UnsupportedCharterError)
 * rather than in every round's aggregation, where the failure stalls the network
 * silently.
 */
export function charterRoundParams (c: Charter, candidates?: number, maxRetries = 3): RoundParams {
  try {
    checkCharterRule(c)
  } catch (err) {
    throw new UnsupportedCharterError((err as Error).message)
  }
  const m = candidates === undefined ? c.committee.m : Math.min(c.committee.m, candidates)
  return resolveRoundParams({
    committeeSize: m,
    threshold: c.committee.t,
    groupSize: c.committee.g,
    clipNorm: c.dp.clipNorm,
    noiseMultiplier: c.dp.noiseMultiplier,
    rule: c.aggregation.rule,
    ruleParams: { ...c.aggregation.params },
    maxRetries,
    deadlines: {
      shareMs: c.deadlines.share,
      receiptMs: c.deadlines.receipt,
      planMs: c.deadlines.plan,
      partialMs: c.deadlines.partial,
      checkpointMs: c.deadlines.checkpoint
    }
  })
}

/**
 * Local training from the charter. A version 2 charter fixes every field: a flag
 * that asks for another value is a CharterConflictError (a flag equal to the
 * charter's value is accepted). A version 1 charter fixes epochs, batch size and
 * learning rate only; the flags set the rest, over the v1 defaults (V1_TRAINING),
 * as `tessera peer` did before the charter had those fields.
 */
export function charterTraining (c: Charter, flags: TrainingFlags = {}): TrainingPlan {
  const t = c.training
  const fixed = c.version >= 2
  const pick = <K extends keyof TrainingFlags>(k: K, charterValue: NonNullable<TrainingFlags[K]>): NonNullable<TrainingFlags[K]> => {
    const f = flags[k]
    if (f === undefined) return charterValue
    if (!fixed) return f as NonNullable<TrainingFlags[K]>
    if (f !== charterValue) throw new CharterConflictError(`${FLAG[k]} ${String(f)}: the network's charter fixes training.${k === 'epochs' ? 'epochs' : k} = ${String(charterValue)} for every peer (omit the flag)`)
    return charterValue
  }
  return {
    epochs: pick('epochs', t.epochs),
    batchSize: t.batchSize,
    lr: t.learningRate,
    optimizer: pick('optimizer', t.optimizer),
    localMomentum: pick('localMomentum', t.localMomentum),
    maxSteps: pick('steps', t.steps),
    workerMomentum: pick('workerMomentum', t.workerMomentum),
    fullBudget: pick('fullBudget', t.fullBudget),
    features: pick('features', t.features)
  }
}
