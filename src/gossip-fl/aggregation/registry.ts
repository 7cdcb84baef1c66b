/**
 * The registry of aggregation rules by name (House style 6). The charter names a
 * rule and its parameters; every peer looks it up here, so adding a rule means
 * adding one file and one line below.
 */
import { UnknownStrategyError } from './errors.ts'
import { centeredClippingRule, type CenteredClippingParams } from './centered-clipping.ts'
import { geometricMedianRule, type GeometricMedianParams } from './geometric-median.ts'
import { krumRule, multiKrumRule, type KrumParams, type MultiKrumParams } from './krum.ts'
import { meanRule, type MeanParams } from './mean.ts'
import { coordinateMedianRule, type MedianParams } from './median.ts'
import { trimmedMeanRule, type TrimmedMeanParams } from './trimmed-mean.ts'
import type { AggregationResult, AggregationRule, RuleName, RuleState } from './types.ts'

export interface RuleParamsByName {
  'mean': MeanParams
  'coordinate-median': MedianParams
  'trimmed-mean': TrimmedMeanParams
  'krum': KrumParams
  'multi-krum': MultiKrumParams
  'geometric-median': GeometricMedianParams
  'centered-clipping': CenteredClippingParams
}

const rules: { readonly [N in RuleName]: AggregationRule<RuleParamsByName[N]> } = Object.freeze({
  'mean': meanRule,
  'coordinate-median': coordinateMedianRule,
  'trimmed-mean': trimmedMeanRule,
  'krum': krumRule,
  'multi-krum': multiKrumRule,
  'geometric-median': geometricMedianRule,
  'centered-clipping': centeredClippingRule
})

/** Names of all registered rules. */
export function ruleNames(): RuleName[] {
  return Object.keys(rules) as RuleName[]
}

export function isRuleName(name: unknown): name is RuleName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(rules, name)
}

/** The rule registered under `name`; UnknownStrategyError otherwise. */
export function getRule<N extends RuleName>(name: N): AggregationRule<RuleParamsByName[N]>
export function getRule(name: string): AggregationRule<object>
export function getRule(name: string): AggregationRule<object> {
  if (!isRuleName(name)) throw new UnknownStrategyError('aggregation rule', String(name), ruleNames())
  return rules[name] as AggregationRule<object>
}

/** Look up `name` and aggregate; convenience for callers holding a charter's (name, params). */
export function aggregate<N extends RuleName>(
  name: N,
  inputs: readonly Float32Array[],
  state: RuleState | undefined,
  params?: Partial<RuleParamsByName[N]>
): AggregationResult {
  return getRule(name).aggregate(inputs, state, params)
}
