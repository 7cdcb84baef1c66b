/**
 * Free riding: take the model without contributing work. 'zero' sends a zero
 * update; 'stale' re-sends an old update (input.previous, e.g. the previous
 * round's aggregate). `noiseStd` > 0 adds Gaussian noise to disguise the rider
 * ("disguised free-riders": Lin, Du, Liu, "Free-riders in Federated Learning:
 * Attacks and Defenses", arXiv:1911.12560, 2019; Fraboni, Vidal, Lorenzi,
 * "Free-rider Attacks on Model Aggregation in Federated Learning", AISTATS 2021).
 * A zero update has no direction, so useFullBudget leaves it at zero.
 */
import { gaussian as normal, type Rng } from '../../util/rng.ts'
import { checkNumber, checkOneOf, resolveParams } from '../aggregation/params.ts'
import { AttackInputError } from './errors.ts'
import { applyNormBudget, checkAttackInput, normBudgetDefaults, validateNormBudget } from './common.ts'
import type { Attack, AttackInput, NormBudgetParams } from './types.ts'

export interface FreeRidingParams extends NormBudgetParams {
  readonly mode: 'zero' | 'stale'
  /** Standard deviation of disguising noise (0 = none). */
  readonly noiseStd: number
}

const defaults: Readonly<FreeRidingParams> = Object.freeze({ ...normBudgetDefaults, mode: 'zero', noiseStd: 0 })

export function resolveFreeRidingParams(partial?: Partial<FreeRidingParams>): Readonly<FreeRidingParams> {
  return resolveParams('free-riding', defaults, partial, (p) => {
    validateNormBudget('free-riding', p)
    checkOneOf('free-riding.mode', p.mode, ['zero', 'stale'] as const)
    checkNumber('free-riding.noiseStd', p.noiseStd, { min: 0 })
  })
}

export function freeRiding(input: AttackInput, params: Partial<FreeRidingParams> | undefined, rng: Rng): Float32Array[] {
  const p = resolveFreeRidingParams(params)
  const { d, count } = checkAttackInput('free-riding', input)
  let base: Float32Array
  if (p.mode === 'stale') {
    if (input.previous === undefined) throw new AttackInputError('free-riding: mode stale needs input.previous')
    base = input.previous
  } else {
    base = new Float32Array(d)
  }
  const out: Float32Array[] = []
  for (let k = 0; k < count; k++) {
    const v = base.slice()
    if (p.noiseStd > 0) for (let j = 0; j < d; j++) v[j] += p.noiseStd * normal(rng)
    out.push(applyNormBudget(v, p))
  }
  return out
}

export const freeRidingAttack: Attack<FreeRidingParams> = {
  name: 'free-riding',
  citation: 'Lin, Du, Liu, arXiv:1911.12560; Fraboni, Vidal, Lorenzi, AISTATS 2021',
  defaults,
  resolveParams: resolveFreeRidingParams,
  craft: freeRiding
}
