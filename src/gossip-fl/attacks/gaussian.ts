/**
 * Gaussian (random) updates: each Byzantine update is drawn from N(μ, σ² I),
 * μ = 0 or the honest mean: the Gaussian Byzantine workers of Blanchard, El
 * Mhamdi, Guerraoui, Stainer, NeurIPS 2017 (whose experiments, as we recall them,
 * use σ = 200, our default), also used by Xie, Koyejo, Gupta, "Generalized
 * Byzantine-tolerant SGD", arXiv:1802.10116, 2018. Under Tessera's norm check
 * the bound C, not σ, sets the damage.
 */
import { gaussian as normal, type Rng } from '../../util/rng.ts'
import { checkNumber, checkOneOf, resolveParams } from '../aggregation/params.ts'
import { meanOf } from '../aggregation/vector.ts'
import { applyNormBudget, checkAttackInput, normBudgetDefaults, validateNormBudget } from './common.ts'
import type { Attack, AttackInput, NormBudgetParams } from './types.ts'

export interface GaussianParams extends NormBudgetParams {
  readonly center: 'zero' | 'honest-mean'
  /** σ >= 0. */
  readonly std: number
}

const defaults: Readonly<GaussianParams> = Object.freeze({ ...normBudgetDefaults, center: 'zero', std: 200 })

export function resolveGaussianParams(partial?: Partial<GaussianParams>): Readonly<GaussianParams> {
  return resolveParams('gaussian', defaults, partial, (p) => {
    validateNormBudget('gaussian', p)
    checkOneOf('gaussian.center', p.center, ['zero', 'honest-mean'] as const)
    checkNumber('gaussian.std', p.std, { min: 0 })
  })
}

export function gaussianAttack(input: AttackInput, params: Partial<GaussianParams> | undefined, rng: Rng): Float32Array[] {
  const p = resolveGaussianParams(params)
  const { d, count } = checkAttackInput('gaussian', input)
  const mu = p.center === 'honest-mean' ? meanOf(input.honest) : new Float32Array(d)
  const out: Float32Array[] = []
  for (let k = 0; k < count; k++) {
    const v = new Float32Array(d)
    for (let j = 0; j < d; j++) v[j] = mu[j] + p.std * normal(rng)
    out.push(applyNormBudget(v, p))
  }
  return out
}

export const gaussianNoiseAttack: Attack<GaussianParams> = {
  name: 'gaussian',
  citation: 'Blanchard et al., NeurIPS 2017; Xie, Koyejo, Gupta, arXiv:1802.10116',
  defaults,
  resolveParams: resolveGaussianParams,
  craft: gaussianAttack
}
