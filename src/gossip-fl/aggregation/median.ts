/**
 * Coordinate-wise median (Yin, Chen, Ramchandran, Bartlett, "Byzantine-Robust
 * Distributed Learning: Towards Optimal Statistical Rates", ICML 2018). For even
 * n it is the mean of the two middle values, as in their definition (and NumPy).
 *
 * With fewer than n/2 Byzantine inputs, every coordinate of the result lies
 * within the range of the honest inputs' values at that coordinate.
 */
import { resolveParams } from './params.ts'
import { statelessState } from './state.ts'
import { checkInputs } from './vector.ts'
import { forEachSortedBlock } from './order-statistics.ts'
import type { AggregationResult, AggregationRule, RuleState } from './types.ts'

/** The median has no parameters. */
export type MedianParams = Record<string, never>

const defaults: Readonly<MedianParams> = Object.freeze({})

export function resolveMedianParams(partial?: Partial<MedianParams>): Readonly<MedianParams> {
  return resolveParams('coordinate-median', defaults, partial, () => {})
}

export function coordinateMedian(inputs: readonly Float32Array[], state?: RuleState, params?: Partial<MedianParams>): AggregationResult {
  const next = statelessState('coordinate-median', state)
  resolveMedianParams(params)
  const { n, d } = checkInputs(inputs, 'inputs', { skipFinite: true })
  const out = new Float32Array(d)
  const lo = (n - 1) >> 1
  const hi = n >> 1
  forEachSortedBlock(inputs, lo, hi, (rows, stride, width, offset) => {
    if (lo === hi) {
      out.set(rows.subarray(0, width), offset)
    } else {
      // (x + y) / 2 of two float32 values is exact in float64; one rounding on store.
      for (let j = 0; j < width; j++) out[offset + j] = (rows[j] + rows[stride + j]) / 2
    }
  })
  return { aggregate: out, state: next }
}

export const coordinateMedianRule: AggregationRule<MedianParams> = {
  name: 'coordinate-median',
  citation: 'Yin, Chen, Ramchandran, Bartlett, ICML 2018',
  defaults,
  resolveParams: resolveMedianParams,
  aggregate: coordinateMedian
}
