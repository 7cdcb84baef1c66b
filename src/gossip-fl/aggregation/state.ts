/**
 * Checks on the state a caller hands back to a rule. A state from another rule,
 * or a center of the wrong length or with non-finite entries, is a RuleStateError:
 * recomputing an aggregate from a wrong state would silently diverge from peers.
 */
import { RuleStateError } from './errors.ts'
import type { CenteredClippingState, RuleState, StatelessRuleName, StatelessRuleState } from './types.ts'

/** Accept `undefined` or the rule's own stateless state; return the state to hand back. */
export function statelessState(rule: StatelessRuleName, state: RuleState | undefined): StatelessRuleState {
  if (state !== undefined) {
    if (typeof state !== 'object' || state === null || state.rule !== rule) {
      throw new RuleStateError(`state of rule '${describe(state)}' passed to '${rule}'`)
    }
  }
  return { rule }
}

/** Validate a centered-clipping state against the input dimension d. */
export function checkCenteredClippingState(state: RuleState | undefined, d: number): CenteredClippingState | undefined {
  if (state === undefined) return undefined
  if (typeof state !== 'object' || state === null || state.rule !== 'centered-clipping') {
    throw new RuleStateError(`state of rule '${describe(state)}' passed to 'centered-clipping'`)
  }
  const center = (state as { center?: unknown }).center
  if (!(center instanceof Float32Array)) throw new RuleStateError('centered-clipping state.center must be a Float32Array')
  if (center.length !== d) throw new RuleStateError(`centered-clipping state.center has length ${center.length}, inputs have ${d}`)
  for (let j = 0; j < d; j++) {
    const x = center[j]
    if (x - x !== 0) throw new RuleStateError(`centered-clipping state.center[${j}] is not finite`)
  }
  return state
}

function describe(state: unknown): string {
  if (typeof state === 'object' && state !== null && typeof (state as { rule?: unknown }).rule === 'string') {
    return (state as { rule: string }).rule
  }
  return String(state)
}
