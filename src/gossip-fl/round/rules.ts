/**
 * Look up the charter's aggregation rule by name in B's strategies
 * (src/gossip-fl/aggregation). Kept behind this one function so the round does
 * not care how B registers rules.
 */
import type { AggregationRule, RuleState, AggregationResult } from '../aggregation/types.ts'
import { meanRule } from '../aggregation/mean.ts'
import { coordinateMedianRule } from '../aggregation/median.ts'
import { trimmedMeanRule } from '../aggregation/trimmed-mean.ts'
import { krumRule, multiKrumRule } from '../aggregation/krum.ts'
import { geometricMedianRule } from '../aggregation/geometric-median.ts'
import { InvalidParametersError } from '../../util/errors.ts'

export type { RuleState, AggregationResult }

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyRule = AggregationRule<any>

const RULES: ReadonlyMap<string, AnyRule> = new Map<string, AnyRule>([
  [meanRule.name, meanRule],
  [coordinateMedianRule.name, coordinateMedianRule],
  [trimmedMeanRule.name, trimmedMeanRule],
  [krumRule.name, krumRule],
  [multiKrumRule.name, multiKrumRule],
  [geometricMedianRule.name, geometricMedianRule]
])

/** The rule named by the charter; InvalidParametersError for an unknown name. */
export function ruleByName(name: string): AnyRule {
  const r = RULES.get(name)
  if (r === undefined) throw new InvalidParametersError(`unknown aggregation rule '${name}' (known: ${[...RULES.keys()].join(', ')})`)
  return r
}

export function ruleNames(): string[] {
  return [...RULES.keys()]
}
