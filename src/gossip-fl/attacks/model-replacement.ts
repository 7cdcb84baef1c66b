/**
 * Scaled model replacement (Bagdasaryan, Veit, Hua, Estrin, Shmatikov, "How To
 * Backdoor Federated Learning", AISTATS 2020): the attacker trains a
 * backdoored model X and submits γ(X - G^t), γ = n/η, so that averaging replaces
 * the global model by X. Here the input is the attacker-trained update X - G^t
 * (input.own) and the output is scale · own, scale defaulting to n = honest +
 * attackers (server learning rate η = 1).
 *
 * Tessera's norm check refuses over-norm updates, so under a bound the attack
 * degrades to the paper's "constrain-and-scale": clip to C, or with
 * useFullBudget rescale to exactly C.
 */
import { checkNumber, resolveParams } from '../aggregation/params.ts'
import { scale } from '../aggregation/vector.ts'
import { applyNormBudget, checkAttackInput, normBudgetDefaults, requireOwn, validateNormBudget } from './common.ts'
import type { Attack, AttackInput, NormBudgetParams } from './types.ts'

export interface ModelReplacementParams extends NormBudgetParams {
  /** γ > 0, or null for n = honest.length + count. */
  readonly scale: number | null
}

const defaults: Readonly<ModelReplacementParams> = Object.freeze({ ...normBudgetDefaults, scale: null })

export function resolveModelReplacementParams(partial?: Partial<ModelReplacementParams>): Readonly<ModelReplacementParams> {
  return resolveParams('model-replacement', defaults, partial, (p) => {
    validateNormBudget('model-replacement', p)
    if (p.scale !== null) checkNumber('model-replacement.scale', p.scale, { min: 0, exclusiveMin: true })
  })
}

export function modelReplacement(input: AttackInput, params?: Partial<ModelReplacementParams>): Float32Array[] {
  const p = resolveModelReplacementParams(params)
  const { h, count } = checkAttackInput('model-replacement', input)
  const own = requireOwn('model-replacement', input)
  const gamma = p.scale ?? h + count
  const out: Float32Array[] = []
  for (let k = 0; k < count; k++) out.push(applyNormBudget(scale(own[k % own.length], gamma), p))
  return out
}

export const modelReplacementAttack: Attack<ModelReplacementParams> = {
  name: 'model-replacement',
  citation: 'Bagdasaryan, Veit, Hua, Estrin, Shmatikov, AISTATS 2020',
  defaults,
  resolveParams: resolveModelReplacementParams,
  craft: (input, params) => modelReplacement(input, params)
}
