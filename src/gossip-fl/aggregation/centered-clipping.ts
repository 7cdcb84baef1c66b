/**
 * Centered clipping with momentum (Karimireddy, He, Jaggi, "Learning from History
 * for Byzantine Robust Optimization", ICML 2021):
 *
 *   v_{l+1} = v_l + (1/n) Σ_i (x_i - v_l) · min(1, τ / ||x_i - v_l||),  l = 0..L-1
 *
 * started at v_0 = the previous round's output (the server momentum; zero in the
 * first round, as in the authors' code). The inputs are expected to be momentum
 * updates (workers keep momentum) or, in Tessera, the means of random groups of
 * them ("bucketing", Karimireddy, He, Jaggi, ICLR 2022). One step moves v by at
 * most τ, and f Byzantine inputs can shift it by at most 2τf/n relative to any
 * other choice of theirs; the tests check both.
 *
 * State: { rule: 'centered-clipping', center } with center = the previous output,
 * so any peer that has round r-1's aggregate can recompute round r bit for bit.
 */
import { checkInteger, checkNumber, resolveParams } from './params.ts'
import { checkCenteredClippingState } from './state.ts'
import { checkInputs } from './vector.ts'
import type { AggregationResult, AggregationRule, RuleState } from './types.ts'

export interface CenteredClippingParams {
  /** Clipping radius τ > 0 (default 10 as in common implementations; set it relative to the norm bound C). */
  readonly tau: number
  /** Clipping iterations L >= 1 (default 1: one step from the previous center, the cheapest; more approach the fixed point). */
  readonly iterations: number
}

const defaults: Readonly<CenteredClippingParams> = Object.freeze({ tau: 10, iterations: 1 })

export function resolveCenteredClippingParams(partial?: Partial<CenteredClippingParams>): Readonly<CenteredClippingParams> {
  return resolveParams('centered-clipping', defaults, partial, (p) => {
    checkNumber('centered-clipping.tau', p.tau, { min: 0, exclusiveMin: true })
    checkInteger('centered-clipping.iterations', p.iterations, 1, 10000)
  })
}

export function centeredClipping(inputs: readonly Float32Array[], state?: RuleState, params?: Partial<CenteredClippingParams>): AggregationResult {
  const p = resolveCenteredClippingParams(params)
  const { n, d } = checkInputs(inputs)
  const prev = checkCenteredClippingState(state, d)
  const v = new Float64Array(d)
  if (prev !== undefined) for (let j = 0; j < d; j++) v[j] = prev.center[j]
  const factor = new Float64Array(n)
  const acc = new Float64Array(d)
  for (let l = 0; l < p.iterations; l++) {
    for (let i = 0; i < n; i++) {
      const x = inputs[i]
      let s = 0
      for (let j = 0; j < d; j++) {
        const t = x[j] - v[j]
        s += t * t
      }
      const norm = Math.sqrt(s)
      factor[i] = norm <= p.tau ? 1 : p.tau / norm
    }
    acc.fill(0)
    for (let i = 0; i < n; i++) {
      const x = inputs[i]
      const c = factor[i]
      for (let j = 0; j < d; j++) acc[j] += c * (x[j] - v[j])
    }
    for (let j = 0; j < d; j++) v[j] += acc[j] / n
  }
  const out = new Float32Array(d)
  for (let j = 0; j < d; j++) out[j] = v[j]
  return { aggregate: out, state: { rule: 'centered-clipping', center: out.slice() }, iterations: p.iterations }
}

export const centeredClippingRule: AggregationRule<CenteredClippingParams> = {
  name: 'centered-clipping',
  citation: 'Karimireddy, He, Jaggi, ICML 2021 (centered clipping with momentum)',
  defaults,
  resolveParams: resolveCenteredClippingParams,
  aggregate: centeredClipping
}
