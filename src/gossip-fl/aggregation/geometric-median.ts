/**
 * Geometric median by the smoothed Weiszfeld algorithm, as in RFA (Pillutla,
 * Kakade, Harchaoui, "Robust Aggregation for Federated Learning", IEEE Trans.
 * Signal Processing 70, 2022; smoothed Weiszfeld with uniform weights):
 *
 *   v_0 = mean(w_i);  β_i = 1 / max(ν, ||v_k - w_i||);  v_{k+1} = Σ β_i w_i / Σ β_i
 *
 * stopping when |g(v_k) - g(v_{k+1})| <= tol · g(v_{k+1}), g(v) = Σ ||v - w_i||,
 * or after maxIterations. The smoothing ν keeps the step defined when v lands on
 * an input. The geometric median has breakdown point 1/2: with f < n/2 outliers it
 * stays within a bounded distance of the honest inputs (Minsker, Bernoulli 2015,
 * Lemma 2.1), which the tests check.
 *
 * Determinism: v is kept in float64 during the iterations, distances and weighted
 * sums accumulate in index order, and only + - * / sqrt are used.
 */
import { checkInteger, checkNumber, resolveParams } from './params.ts'
import { statelessState } from './state.ts'
import { checkInputs } from './vector.ts'
import type { AggregationResult, AggregationRule, RuleState } from './types.ts'

export interface GeometricMedianParams {
  /** Upper bound on Weiszfeld iterations (RFA reports that a few suffice). */
  readonly maxIterations: number
  /** Smoothing ν in [1e-12, 1e12] (RFA's ν): distances below ν count as ν. */
  readonly smoothing: number
  /** Relative decrease of the objective below which iteration stops (0 = run all). */
  readonly tolerance: number
}

const defaults: Readonly<GeometricMedianParams> = Object.freeze({ maxIterations: 10, smoothing: 1e-6, tolerance: 1e-6 })

export function resolveGeometricMedianParams(partial?: Partial<GeometricMedianParams>): Readonly<GeometricMedianParams> {
  return resolveParams('geometric-median', defaults, partial, (p) => {
    checkInteger('geometric-median.maxIterations', p.maxIterations, 1, 10000)
    // Bounded so that 1/ν and sums of such weights stay finite and normal: a
    // subnormal ν would make a weight Infinity and the aggregate NaN.
    checkNumber('geometric-median.smoothing', p.smoothing, { min: 1e-12, max: 1e12 })
    checkNumber('geometric-median.tolerance', p.tolerance, { min: 0 })
  })
}

/** ||v - w||, v in float64 and w in float32, accumulated in index order. */
function dist64(v: Float64Array, w: Float32Array): number {
  let s = 0
  for (let j = 0; j < v.length; j++) {
    const t = v[j] - w[j]
    s += t * t
  }
  return Math.sqrt(s)
}

export function geometricMedian(inputs: readonly Float32Array[], state?: RuleState, params?: Partial<GeometricMedianParams>): AggregationResult {
  const next = statelessState('geometric-median', state)
  const p = resolveGeometricMedianParams(params)
  const { n, d } = checkInputs(inputs)
  let v = new Float64Array(d)
  for (let i = 0; i < n; i++) {
    const w = inputs[i]
    for (let j = 0; j < d; j++) v[j] += w[j]
  }
  for (let j = 0; j < d; j++) v[j] /= n
  const dist = new Float64Array(n)
  let objective = 0
  for (let i = 0; i < n; i++) {
    dist[i] = dist64(v, inputs[i])
    objective += dist[i]
  }
  const beta = new Float64Array(n)
  let iterations = 0
  while (iterations < p.maxIterations) {
    let total = 0
    for (let i = 0; i < n; i++) {
      beta[i] = 1 / Math.max(p.smoothing, dist[i])
      total += beta[i]
    }
    const nv = new Float64Array(d)
    for (let i = 0; i < n; i++) {
      const c = beta[i] / total
      const w = inputs[i]
      for (let j = 0; j < d; j++) nv[j] += c * w[j]
    }
    v = nv
    iterations++
    // The next step's distances are the new objective's terms: computed once.
    const previous = objective
    objective = 0
    for (let i = 0; i < n; i++) {
      dist[i] = dist64(v, inputs[i])
      objective += dist[i]
    }
    // tolerance 0 runs every iteration: with a far outlier the objective can stop
    // changing in float64 while v still creeps toward the median.
    if (p.tolerance > 0 && Math.abs(previous - objective) <= p.tolerance * objective) break
  }
  const out = new Float32Array(d)
  for (let j = 0; j < d; j++) out[j] = v[j]
  return { aggregate: out, state: next, iterations }
}

export const geometricMedianRule: AggregationRule<GeometricMedianParams> = {
  name: 'geometric-median',
  citation: 'Pillutla, Kakade, Harchaoui, IEEE TSP 2022 (RFA, smoothed Weiszfeld)',
  defaults,
  resolveParams: resolveGeometricMedianParams,
  aggregate: geometricMedian
}
