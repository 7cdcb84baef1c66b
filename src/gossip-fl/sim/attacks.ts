/**
 * Byzantine contributor updates for the simulator, from B's attack library
 * (src/gossip-fl/attacks). Attacks are applied to the attacker's update before
 * the round machine clips it, with `useFullBudget` at the clip norm C, so an
 * attacker uses exactly the whole norm budget, as in DESIGN.md's reference
 * simulation. Attackers are omniscient: they see this round's honest updates.
 */
import type { Rng } from '../../util/rng.ts'
import { attackNames, getAttack } from '../attacks/registry.ts'

/** Crafts `count` Byzantine updates from the attackers' own and the honest updates. */
export type AttackFn = (own: readonly Float32Array[], honest: readonly Float32Array[], count: number, rng: Rng) => Float32Array[]

export const ATTACKS: readonly string[] = attackNames()

/** B's attack `name`, spending the whole norm budget C; B's UnknownStrategyError for an unknown name. */
export function attackByName(name: string, clipNorm: number, params: Record<string, unknown> = {}): AttackFn {
  const attack = getAttack(name)
  return (own, honest, count, rng) => attack.craft({ honest, count, own }, { normBound: clipNorm, useFullBudget: true, ...params }, rng)
}
