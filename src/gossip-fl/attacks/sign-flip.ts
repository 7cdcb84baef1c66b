/**
 * Sign flipping: send the negated update. With base 'own' each attacker negates
 * its own honestly computed update (the "sign-flipping" attack of Li, Xu, Chen,
 * Giannakis, Ling, "RSA: Byzantine-Robust Stochastic Aggregation Methods for
 * Distributed Learning from Heterogeneous Datasets", AAAI 2019; "bit flipping" in
 * Allen-Zhu, Ebrahimian, Li, Yuan, ICLR 2021). With base 'mean' the attackers
 * negate the honest mean (omniscient variant). `scale` multiplies the flip.
 */
import { checkNumber, checkOneOf, resolveParams } from '../aggregation/params.ts'
import { applyNormBudget, checkAttackInput, normBudgetDefaults, requireOwn, validateNormBudget } from './common.ts'
import { meanOf, scale } from '../aggregation/vector.ts'
import type { Attack, AttackInput, NormBudgetParams } from './types.ts'

export interface SignFlipParams extends NormBudgetParams {
  readonly base: 'mean' | 'own'
  /** Magnitude of the flip (> 0): output = -scale * base. */
  readonly scale: number
}

const defaults: Readonly<SignFlipParams> = Object.freeze({ ...normBudgetDefaults, base: 'mean', scale: 1 })

export function resolveSignFlipParams(partial?: Partial<SignFlipParams>): Readonly<SignFlipParams> {
  return resolveParams('sign-flip', defaults, partial, (p) => {
    validateNormBudget('sign-flip', p)
    checkOneOf('sign-flip.base', p.base, ['mean', 'own'] as const)
    checkNumber('sign-flip.scale', p.scale, { min: 0, exclusiveMin: true })
  })
}

export function signFlip(input: AttackInput, params?: Partial<SignFlipParams>): Float32Array[] {
  const p = resolveSignFlipParams(params)
  const { count } = checkAttackInput('sign-flip', input)
  const out: Float32Array[] = []
  if (p.base === 'mean') {
    const flipped = applyNormBudget(scale(meanOf(input.honest), -p.scale), p)
    for (let k = 0; k < count; k++) out.push(flipped.slice())
  } else {
    const own = requireOwn('sign-flip', input)
    for (let k = 0; k < count; k++) out.push(applyNormBudget(scale(own[k % own.length], -p.scale), p))
  }
  return out
}

export const signFlipAttack: Attack<SignFlipParams> = {
  name: 'sign-flip',
  citation: 'Li et al., AAAI 2019 (RSA); Allen-Zhu et al., ICLR 2021',
  defaults,
  resolveParams: resolveSignFlipParams,
  craft: (input, params) => signFlip(input, params)
}
