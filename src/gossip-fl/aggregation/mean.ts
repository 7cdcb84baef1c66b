/**
 * Arithmetic mean: the undefended baseline of federated averaging (McMahan et al.,
 * "Communication-Efficient Learning of Deep Networks from Decentralized Data",
 * AISTATS 2017). One Byzantine input can move it arbitrarily far.
 */
import { resolveParams } from './params.ts'
import { statelessState } from './state.ts'
import { meanOf } from './vector.ts'
import type { AggregationResult, AggregationRule, RuleState } from './types.ts'

/** The mean has no parameters. */
export type MeanParams = Record<string, never>

const defaults: Readonly<MeanParams> = Object.freeze({})

export function resolveMeanParams(partial?: Partial<MeanParams>): Readonly<MeanParams> {
  return resolveParams('mean', defaults, partial, () => {})
}

/** Coordinate-wise mean; float64 sums over the inputs in index order. */
export function mean(inputs: readonly Float32Array[], state?: RuleState, params?: Partial<MeanParams>): AggregationResult {
  const next = statelessState('mean', state)
  resolveMeanParams(params)
  const out = meanOf(inputs)
  return { aggregate: out, state: next }
}

export const meanRule: AggregationRule<MeanParams> = {
  name: 'mean',
  citation: 'McMahan et al., AISTATS 2017 (FedAvg)',
  defaults,
  resolveParams: resolveMeanParams,
  aggregate: mean
}
