/**
 * Per-input distance to the aggregate, for reputation: a group whose mean lies far
 * from the round's aggregate earns a penalty for its members, and random
 * regrouping every round lets the evidence single out a persistent attacker
 * (DESIGN.md, Reputation). Pure and deterministic like the rules.
 */
import { AggregationInputError } from './errors.ts'
import { checkFinite, checkInputs } from './vector.ts'

/** ||inputs[i] - aggregate|| for every i (float64 sums in index order). */
export function distancesToAggregate(inputs: readonly Float32Array[], aggregate: Float32Array): Float64Array {
  const { n, d } = checkInputs(inputs)
  if (!(aggregate instanceof Float32Array)) throw new AggregationInputError('aggregate is not a Float32Array')
  if (aggregate.length !== d) throw new AggregationInputError(`aggregate has length ${aggregate.length}, inputs have ${d}`)
  checkFinite(aggregate, 'aggregate')
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const x = inputs[i]
    let s = 0
    for (let j = 0; j < d; j++) {
      const t = x[j] - aggregate[j]
      s += t * t
    }
    out[i] = Math.sqrt(s)
  }
  return out
}

/**
 * Distances divided by their median (lower median for even n), a scale-free
 * outlyingness score: about 1 for typical inputs, large for far ones. When the
 * median distance is 0 (most inputs equal the aggregate), inputs at distance 0
 * score 0 and any other scores +Infinity.
 */
export function relativeDistancesToAggregate(inputs: readonly Float32Array[], aggregate: Float32Array): Float64Array {
  const dist = distancesToAggregate(inputs, aggregate)
  const sorted = dist.slice().sort()
  const med = sorted[(sorted.length - 1) >> 1]
  const out = new Float64Array(dist.length)
  for (let i = 0; i < dist.length; i++) out[i] = med > 0 ? dist[i] / med : (dist[i] === 0 ? 0 : Infinity)
  return out
}

/**
 * <x_i, aggregate> / ||aggregate|| for every input (float64, index order): each input's
 * component along the aggregate's direction (all 0 for a zero aggregate). The per-group
 * evidence of src/reputation/outliers.ts. Why a projection and not a distance: with every
 * update at the norm bound C, a group holding an honest update h and an IPM update -C u
 * (u the unit honest mean) has mean (h - C u) / 2, of norm C sqrt((1 - a) / 2) for
 * a = cos(h, u): SHORTER than an honest pair's C sqrt((1 + cos) / 2), so nearer a small
 * aggregate (measured: the distance test never flagged an IPM group after round 3). Its
 * projection, C (a - 1) / 2, is negative whoever the partner is.
 */
export function projectionsOnAggregate(inputs: readonly Float32Array[], aggregate: Float32Array): Float64Array {
  const { n, d } = checkInputs(inputs)
  if (!(aggregate instanceof Float32Array)) throw new AggregationInputError('aggregate is not a Float32Array')
  if (aggregate.length !== d) throw new AggregationInputError(`aggregate has length ${aggregate.length}, inputs have ${d}`)
  checkFinite(aggregate, 'aggregate')
  let a2 = 0
  for (let j = 0; j < d; j++) a2 += aggregate[j]! * aggregate[j]!
  const norm = Math.sqrt(a2)
  const out = new Float64Array(n)
  if (norm === 0) return out
  for (let i = 0; i < n; i++) {
    const x = inputs[i]!
    let s = 0
    for (let j = 0; j < d; j++) s += x[j]! * aggregate[j]!
    out[i] = s / norm
  }
  return out
}
