/**
 * Shadow-model membership inference against a harness run (Shokri, Stronati,
 * Song, Shmatikov, IEEE S&P 2017), beside the loss-threshold attack (Yeom et
 * al., CSF 2018, membership.ts).
 *
 * The attacker holds a pool of data from the target's distribution, disjoint
 * from the target's members and from the evaluation non-members (here: test
 * images the harness neither evaluates membership on nor uses as non-members).
 * It trains `k` shadow models of the target's architecture, each on its own
 * "in" half of a disjoint slice of the pool (the "out" half held back), with
 * as many passes over its data as the target's members saw (so shadows overfit
 * about as much as the target), then trains the attack model of
 * src/model/privacy/shadow.ts on (confidence vector, in/out) of every shadow,
 * and scores the target's members and non-members.
 *
 * Cheap by design (issue #5): dense models only (softmax, MLP), few shadows,
 * logistic-regression attack model.
 */
import { InvalidParametersError } from '../../util/errors.ts'
import { seededRng } from '../../util/rng.ts'
import { subset, type Dataset } from '../../model/dataset.ts'
import { initialWeights, type ModelSpec } from '../../model/spec.ts'
import { trainLocal } from '../../model/train.ts'
import { attackFeatures, trainAttackModel, evaluateShadowAttack, type AttackModel, type ShadowReport } from '../../model/privacy/shadow.ts'
import { perExampleProbabilities } from './membership.ts'

export interface ShadowOptions {
  shadows: number
  /** Examples in (and out of) each shadow's training set. */
  perShadow: number
  /** Passes over a shadow's training set (match the target's exposure of its members). */
  epochs: number
  batchSize: number
  lr: number
  seed: string
  /** Train the shadows with DP-SGD too (the attacker knows the training algorithm, Shokri et al. section V-B). */
  dp?: { clip: number, noiseMultiplier: number }
}

function features(spec: ModelSpec, w: Float32Array, d: Dataset): Float64Array {
  const { probs, classes } = perExampleProbabilities(spec, w, d)
  return attackFeatures(probs, d.y.subarray(0, d.n), classes)
}

function concat(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

/** Train the shadows on slices of `pool` and the attack model on their in/out confidence vectors. */
export async function trainShadowAttack(spec: ModelSpec, pool: Dataset, o: ShadowOptions): Promise<AttackModel> {
  if (spec.arch === 'cnn') throw new InvalidParametersError('shadow-model membership inference: dense models only (softmax, mlp)')
  if (!Number.isInteger(o.shadows) || o.shadows < 1 || o.shadows > 64) throw new InvalidParametersError(`shadows must be an integer in [1, 64], got ${String(o.shadows)}`)
  if (!Number.isInteger(o.perShadow) || o.perShadow < 1) throw new InvalidParametersError(`perShadow must be an integer >= 1, got ${String(o.perShadow)}`)
  if (2 * o.shadows * o.perShadow > pool.n) throw new InvalidParametersError(`the shadow pool has ${pool.n} examples; ${o.shadows} shadows of ${o.perShadow} in + ${o.perShadow} out need ${2 * o.shadows * o.perShadow}`)
  const ins: Float64Array[] = []
  const outs: Float64Array[] = []
  for (let k = 0; k < o.shadows; k++) {
    const base = 2 * k * o.perShadow
    const inside = subset(pool, Array.from({ length: o.perShadow }, (_, i) => base + i))
    const outside = subset(pool, Array.from({ length: o.perShadow }, (_, i) => base + o.perShadow + i))
    const init = initialWeights(spec, seededRng(`${o.seed}/shadow/${k}/init`))
    const trained = await trainLocal(spec, init, inside, { epochs: o.epochs, batchSize: Math.min(o.batchSize, inside.n), lr: o.lr, seed: `${o.seed}/shadow/${k}`, dp: o.dp })
    ins.push(features(spec, trained.weights, inside))
    outs.push(features(spec, trained.weights, outside))
  }
  return trainAttackModel(concat(ins), concat(outs), spec.classes + 1)
}

/** The attack model against one target model: AUC and advantages on its members and non-members. */
export function shadowAttackOn(attack: AttackModel, spec: ModelSpec, target: Float32Array, members: Dataset, nonMembers: Dataset): ShadowReport {
  return evaluateShadowAttack(attack, features(spec, target, members), features(spec, target, nonMembers))
}

export type { ShadowReport }
