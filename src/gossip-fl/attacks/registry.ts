/**
 * The registry of update-side attacks by name, for the researchers' harness
 * (issue #5): `runAttack('ipm', input, { epsilon: 0.5, normBound: C, useFullBudget: true }, rng)`.
 * Label flipping acts on data, not updates; it lives in label-flip.ts.
 */
import type { Rng } from '../../util/rng.ts'
import { UnknownStrategyError } from '../aggregation/errors.ts'
import { alieAttack, type AlieParams } from './alie.ts'
import { freeRidingAttack, type FreeRidingParams } from './free-riding.ts'
import { gaussianNoiseAttack, type GaussianParams } from './gaussian.ts'
import { ipmAttack, type IpmParams } from './ipm.ts'
import { minMaxAttack, minSumAttack, type MinMaxParams, type MinSumParams } from './min-max.ts'
import { modelReplacementAttack, type ModelReplacementParams } from './model-replacement.ts'
import { signFlipAttack, type SignFlipParams } from './sign-flip.ts'
import type { Attack, AttackInput, AttackName, NormBudgetParams } from './types.ts'

export interface AttackParamsByName {
  'sign-flip': SignFlipParams
  'gaussian': GaussianParams
  'alie': AlieParams
  'ipm': IpmParams
  'min-max': MinMaxParams
  'min-sum': MinSumParams
  'model-replacement': ModelReplacementParams
  'free-riding': FreeRidingParams
}

const attacks: { readonly [N in AttackName]: Attack<AttackParamsByName[N]> } = Object.freeze({
  'sign-flip': signFlipAttack,
  'gaussian': gaussianNoiseAttack,
  'alie': alieAttack,
  'ipm': ipmAttack,
  'min-max': minMaxAttack,
  'min-sum': minSumAttack,
  'model-replacement': modelReplacementAttack,
  'free-riding': freeRidingAttack
})

export function attackNames(): AttackName[] {
  return Object.keys(attacks) as AttackName[]
}

export function isAttackName(name: unknown): name is AttackName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(attacks, name)
}

export function getAttack<N extends AttackName>(name: N): Attack<AttackParamsByName[N]>
export function getAttack(name: string): Attack<NormBudgetParams>
export function getAttack(name: string): Attack<NormBudgetParams> {
  if (!isAttackName(name)) throw new UnknownStrategyError('attack', String(name), attackNames())
  return attacks[name] as Attack<NormBudgetParams>
}

/** Look up `name` and craft `input.count` Byzantine updates. */
export function runAttack<N extends AttackName>(name: N, input: AttackInput, params: Partial<AttackParamsByName[N]> | undefined, rng: Rng): Float32Array[] {
  return getAttack(name).craft(input, params, rng)
}
