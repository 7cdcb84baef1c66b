/**
 * The charter's aggregation rule by name, from B's registry
 * (src/gossip-fl/aggregation/registry.ts). Kept behind this one function so the
 * round does not care how B registers rules.
 */
import type { AggregationRule, RuleState, AggregationResult } from '../aggregation/types.ts'
import { getRule, ruleNames as registryNames } from '../aggregation/registry.ts'

export type { RuleState, AggregationResult }

/** The rule named by the charter; B's UnknownStrategyError for an unknown name. */
export function ruleByName(name: string): AggregationRule<object> {
  return getRule(name)
}

export function ruleNames(): string[] {
  return registryNames()
}
