/**
 * From the network charter (the genesis body, src/ledger/charter.ts) to what a
 * peer runs: the round parameters (src/gossip-fl/round/params.ts), the model
 * spec (src/model/spec.ts) and the local training options. Pure.
 *
 * Model arch names: 'softmax' | 'mlp' | 'cnn' (C's mnistSpec), or such a name
 * followed by '-' and a description ('mlp-784-128-10'), read as the name.
 */
import type { Charter } from '../../ledger/charter.ts'
import { resolveRoundParams, type RoundParams } from '../../gossip-fl/round/params.ts'
import { mnistSpec, type Arch, type ModelSpec } from '../../model/spec.ts'
import { UnsupportedCharterError } from './errors.ts'

export interface TrainingPlan {
  epochs: number
  batchSize: number
  lr: number
  /** local SGD steps per round (charter.training.epochs is an upper bound) */
  maxSteps: number | undefined
}

export function charterArch (c: Charter): Arch {
  const name = c.model.arch.split('-')[0]!
  if (name !== 'softmax' && name !== 'mlp' && name !== 'cnn') throw new UnsupportedCharterError(`model arch '${c.model.arch}' is not one of softmax, mlp, cnn`)
  return name
}

export function charterModelSpec (c: Charter): ModelSpec {
  const spec = mnistSpec(charterArch(c))
  if (c.model.classes !== spec.classes) throw new UnsupportedCharterError(`the charter has ${c.model.classes} classes; the ${spec.arch} spec has ${spec.classes}`)
  return spec
}

/**
 * Round parameters from the charter. `maxRetries` and the fixed-point precision
 * are not charter fields: defaults. The committee size is capped by the
 * number of candidates (as E's LedgerState does: min(m, candidates)).
 */
export function charterRoundParams (c: Charter, candidates?: number, maxRetries = 3): RoundParams {
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
 * Local training from the charter. The charter has no step budget field; a
 * peer's `maxSteps` option (one per network in practice) bounds the work per
 * round so that training fits the share deadline.
 */
export function charterTraining (c: Charter, maxSteps?: number): TrainingPlan {
  return { epochs: c.training.epochs, batchSize: c.training.batchSize, lr: c.training.learningRate, maxSteps }
}
