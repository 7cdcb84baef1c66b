/**
 * Coordinate-wise trimmed mean (Yin, Chen, Ramchandran, Bartlett, "Byzantine-Robust
 * Distributed Learning: Towards Optimal Statistical Rates", ICML 2018): at
 * every coordinate drop the b smallest and the b largest values and average the
 * remaining n - 2b. With at most b Byzantine inputs each coordinate of the result
 * lies within the honest inputs' range at that coordinate.
 *
 * b is `trimCount` if given, else floor(trimFraction * n) (β of the paper).
 */
import { InvalidParametersError } from '../../util/errors.ts'
import { AggregationInputError } from './errors.ts'
import { checkInteger, checkNumber, resolveParams } from './params.ts'
import { statelessState } from './state.ts'
import { checkInputs } from './vector.ts'
import { BLOCK, forEachSortedBlock } from './order-statistics.ts'
import type { AggregationResult, AggregationRule, RuleState } from './types.ts'

export interface TrimmedMeanParams {
  /** Fraction β in [0, 0.5) trimmed from each side; used when trimCount is null. */
  readonly trimFraction: number
  /** Number of values trimmed from each side; overrides trimFraction when not null. */
  readonly trimCount: number | null
}

const defaults: Readonly<TrimmedMeanParams> = Object.freeze({ trimFraction: 0.1, trimCount: null })

export function resolveTrimmedMeanParams(partial?: Partial<TrimmedMeanParams>): Readonly<TrimmedMeanParams> {
  return resolveParams('trimmed-mean', defaults, partial, (p) => {
    checkNumber('trimmed-mean.trimFraction', p.trimFraction, { min: 0 })
    if (p.trimFraction >= 0.5) throw new InvalidParametersError(`trimmed-mean.trimFraction must be < 0.5, got ${p.trimFraction}`)
    if (p.trimCount !== null) checkInteger('trimmed-mean.trimCount', p.trimCount, 0)
  })
}

/**
 * The per-side trim count b for n inputs. A fixed `trimCount` is an upper bound: with fewer
 * inputs than 2b + 1 (groups lost to exclusion, refusals or departures in a live network)
 * it trims floor((n - 1) / 2) per side, the median's count, instead of failing every member's
 * aggregation on every retry (docs/results/robustness/rules-ipm-r20/).
 */
export function trimCountFor(n: number, p: Readonly<TrimmedMeanParams>): number {
  if (!Number.isInteger(n) || n < 1) throw new AggregationInputError(`trimmed-mean: needs at least one input, got ${n}`)
  const b = p.trimCount ?? Math.floor(p.trimFraction * n)
  return Math.min(b, Math.floor((n - 1) / 2))
}

export function trimmedMean(inputs: readonly Float32Array[], state?: RuleState, params?: Partial<TrimmedMeanParams>): AggregationResult {
  const next = statelessState('trimmed-mean', state)
  const p = resolveTrimmedMeanParams(params)
  const { n, d } = checkInputs(inputs, 'inputs', { skipFinite: true })
  const b = trimCountFor(n, p)
  const lo = b
  const hi = n - 1 - b
  const kept = hi - lo + 1
  const out = new Float32Array(d)
  const acc = new Float64Array(Math.min(d, BLOCK))
  forEachSortedBlock(inputs, lo, hi, (rows, stride, width, offset) => {
    // Sum the kept order statistics in ascending order (float64), per coordinate.
    acc.fill(0, 0, width)
    for (let r = 0; r < kept; r++) {
      const row = r * stride
      for (let j = 0; j < width; j++) acc[j] += rows[row + j]
    }
    for (let j = 0; j < width; j++) out[offset + j] = acc[j] / kept
  })
  return { aggregate: out, state: next }
}

export const trimmedMeanRule: AggregationRule<TrimmedMeanParams> = {
  name: 'trimmed-mean',
  citation: 'Yin, Chen, Ramchandran, Bartlett, ICML 2018',
  defaults,
  resolveParams: resolveTrimmedMeanParams,
  aggregate: trimmedMean
}
