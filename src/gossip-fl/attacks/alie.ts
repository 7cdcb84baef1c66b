/**
 * A Little Is Enough (Baruch, Baruch, Goldberg, "A Little Is Enough: Circumventing
 * Defenses For Distributed Learning", NeurIPS 2019).
 *
 * Every attacker sends μ_j - z σ_j at each coordinate j, μ and σ the coordinate
 * mean and (sample) standard deviation of the honest updates (the paper allows
 * any point of [μ - zσ, μ + zσ]; the minus side is the usual choice in
 * reimplementations, and `z` may be set explicitly). The shift is small
 * enough to stay inside the spread that median- and Krum-type rules accept, but
 * consistent across coordinates and rounds. z defaults to the paper's z_max:
 *
 *   s = floor(n/2 + 1) - f,   z_max = Φ^{-1}((n - s) / n)
 *
 * with n all participants (honest + attackers) and f = count attackers.
 */
import { InvalidParametersError } from '../../util/errors.ts'
import { checkInteger, checkNumber, resolveParams } from '../aggregation/params.ts'
import { applyNormBudget, checkAttackInput, copies, meanAndStd, normBudgetDefaults, validateNormBudget } from './common.ts'
import { inverseNormalCdf } from './normal.ts'
import type { Attack, AttackInput, NormBudgetParams } from './types.ts'

export interface AlieParams extends NormBudgetParams {
  /** z, or null for z_max(n, f). */
  readonly z: number | null
  /** n used for z_max, or null for honest.length + count. */
  readonly n: number | null
}

const defaults: Readonly<AlieParams> = Object.freeze({ ...normBudgetDefaults, z: null, n: null })

export function resolveAlieParams(partial?: Partial<AlieParams>): Readonly<AlieParams> {
  return resolveParams('alie', defaults, partial, (p) => {
    validateNormBudget('alie', p)
    if (p.z !== null) checkNumber('alie.z', p.z, { min: 0 })
    if (p.n !== null) checkInteger('alie.n', p.n, 1)
  })
}

/** Baruch et al.'s z_max for n participants of which f are attackers. */
export function alieZMax(n: number, f: number): number {
  checkInteger('alie n', n, 1)
  checkInteger('alie f', f, 0, n)
  const s = Math.floor(n / 2 + 1) - f
  const q = (n - s) / n
  if (!(q > 0 && q < 1)) throw new InvalidParametersError(`alie: z_max undefined for n = ${n}, f = ${f} (s = ${s})`)
  return inverseNormalCdf(q)
}

export function alie(input: AttackInput, params?: Partial<AlieParams>): Float32Array[] {
  const p = resolveAlieParams(params)
  const { h, d, count } = checkAttackInput('alie', input)
  if (count === 0) return []
  const z = p.z ?? alieZMax(p.n ?? h + count, count)
  const { mean, std } = meanAndStd(input.honest)
  const v = new Float32Array(d)
  for (let j = 0; j < d; j++) v[j] = mean[j] - z * std[j]
  return copies(applyNormBudget(v, p), count)
}

export const alieAttack: Attack<AlieParams> = {
  name: 'alie',
  citation: 'Baruch, Baruch, Goldberg, NeurIPS 2019',
  defaults,
  resolveParams: resolveAlieParams,
  craft: (input, params) => alie(input, params)
}
