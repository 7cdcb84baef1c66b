/**
 * Inner Product Manipulation (Xie, Koyejo, Gupta, "Fall of Empires: Breaking
 * Byzantine-tolerant SGD by Inner Product Manipulation", UAI 2019): every
 * attacker sends -ε · mean(honest), so that the aggregate's inner product with
 * the true mean becomes negative while each Byzantine vector stays small (ε = 0.1
 * defeats median/Krum-type rules, large ε the mean). The inner product of the
 * output with the honest mean is -ε ||mean||^2 < 0, and clipping or rescaling to
 * the norm budget keeps its sign.
 */
import { checkNumber, resolveParams } from '../aggregation/params.ts'
import { meanOf, scale } from '../aggregation/vector.ts'
import { applyNormBudget, checkAttackInput, copies, normBudgetDefaults, validateNormBudget } from './common.ts'
import type { Attack, AttackInput, NormBudgetParams } from './types.ts'

export interface IpmParams extends NormBudgetParams {
  /** ε > 0. */
  readonly epsilon: number
}

const defaults: Readonly<IpmParams> = Object.freeze({ ...normBudgetDefaults, epsilon: 0.1 })

export function resolveIpmParams(partial?: Partial<IpmParams>): Readonly<IpmParams> {
  return resolveParams('ipm', defaults, partial, (p) => {
    validateNormBudget('ipm', p)
    checkNumber('ipm.epsilon', p.epsilon, { min: 0, exclusiveMin: true })
  })
}

export function ipm(input: AttackInput, params?: Partial<IpmParams>): Float32Array[] {
  const p = resolveIpmParams(params)
  const { count } = checkAttackInput('ipm', input)
  return copies(applyNormBudget(scale(meanOf(input.honest), -p.epsilon), p), count)
}

export const ipmAttack: Attack<IpmParams> = {
  name: 'ipm',
  citation: 'Xie, Koyejo, Gupta, UAI 2019',
  defaults,
  resolveParams: resolveIpmParams,
  craft: (input, params) => ipm(input, params)
}
