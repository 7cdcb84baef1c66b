/**
 * Min-max and min-sum (Shejwalkar, Houmansadr, "Manipulating the Byzantine:
 * Optimizing Model Poisoning Attacks and Defenses for Federated Learning", NDSS
 * 2021, their "AGR-agnostic" attacks). All attackers send
 *
 *   mal = mean(honest) - γ · p,   p ∈ { mean/||mean|| ('unit-vector'), coordinate std ('std'), sign(mean) ('sign') }
 *
 * with γ as large as the attack's condition allows:
 *   min-max: max_i ||mal - x_i||      <= max_{i,j} ||x_i - x_j||      (no farther from any honest update than two honest ones are)
 *   min-sum: Σ_i ||mal - x_i||^2      <= max_i Σ_j ||x_i - x_j||^2    (no larger sum of squared distances than an honest update)
 * γ is found by the paper's halving search (its reference code): start at
 * γ_init, step γ_init/2 up on success and down on failure, halve the step, stop
 * when the last success and the current γ differ by less than `tolerance`.
 *
 * The norm budget is applied inside the search, so the condition holds for the
 * vector actually sent. γ = 0 (the honest mean) always satisfies both conditions
 * (the mean is in the honest convex hull and minimises the sum of squares), so the
 * guarantee holds whenever the budgeted mean does, e.g. clipping to a C that
 * bounds the honest norms (a projection onto a ball holding every honest update
 * moves no point away from them). With useFullBudget the mean may be pushed out
 * and the search then returns the budgeted mean.
 */
import { checkInteger, checkNumber, checkOneOf, resolveParams } from '../aggregation/params.ts'
import { MAX_PAIRWISE_INPUTS, pairwiseSquaredDistances } from '../aggregation/pairwise.ts'
import { AttackInputError } from './errors.ts'
import { squaredDistance } from '../aggregation/vector.ts'
import { applyNormBudget, checkAttackInput, copies, meanAndStd, normBudgetDefaults, validateNormBudget } from './common.ts'
import type { Attack, AttackInput, AttackName, NormBudgetParams } from './types.ts'

export type Perturbation = 'unit-vector' | 'std' | 'sign'

export interface MinMaxParams extends NormBudgetParams {
  readonly perturbation: Perturbation
  /** Initial γ of the search (paper's code: 10). */
  readonly gammaInit: number
  /** Stop when |γ_succ - γ| <= tolerance (paper's code: 1e-5). */
  readonly tolerance: number
  /** Hard bound on search steps. */
  readonly maxSteps: number
}

export type MinSumParams = MinMaxParams

const defaults: Readonly<MinMaxParams> = Object.freeze({
  ...normBudgetDefaults, perturbation: 'std', gammaInit: 10, tolerance: 1e-5, maxSteps: 200
})

function resolver(name: AttackName) {
  return (partial?: Partial<MinMaxParams>): Readonly<MinMaxParams> =>
    resolveParams(name, defaults, partial, (p) => {
      validateNormBudget(name, p)
      checkOneOf(`${name}.perturbation`, p.perturbation, ['unit-vector', 'std', 'sign'] as const)
      checkNumber(`${name}.gammaInit`, p.gammaInit, { min: 0, exclusiveMin: true })
      checkNumber(`${name}.tolerance`, p.tolerance, { min: 0, exclusiveMin: true })
      checkInteger(`${name}.maxSteps`, p.maxSteps, 1, 10000)
    })
}

export const resolveMinMaxParams = resolver('min-max')
export const resolveMinSumParams = resolver('min-sum')

/** The perturbation direction p of the paper. */
export function perturbationVector(kind: Perturbation, mean: Float64Array, std: Float64Array): Float64Array {
  const d = mean.length
  const out = new Float64Array(d)
  if (kind === 'std') {
    out.set(std)
  } else if (kind === 'sign') {
    for (let j = 0; j < d; j++) out[j] = mean[j] > 0 ? 1 : mean[j] < 0 ? -1 : 0
  } else {
    let s = 0
    for (let j = 0; j < d; j++) s += mean[j] * mean[j]
    const norm = Math.sqrt(s)
    if (norm > 0) for (let j = 0; j < d; j++) out[j] = mean[j] / norm
  }
  return out
}

/** Shared search; `mode` chooses the condition. Returns the budgeted malicious vector and γ. */
export function optimizedPerturbation(mode: 'min-max' | 'min-sum', input: AttackInput, p: Readonly<MinMaxParams>): { update: Float32Array, gamma: number } {
  const honest = input.honest
  const h = honest.length
  const d = honest[0].length
  const { mean, std } = meanAndStd(honest)
  const dev = perturbationVector(p.perturbation, mean, std)
  const pair = pairwiseSquaredDistances(honest)
  let threshold = 0
  if (mode === 'min-max') {
    for (let k = 0; k < pair.length; k++) threshold = Math.max(threshold, pair[k])
  } else {
    for (let i = 0; i < h; i++) {
      let s = 0
      for (let j = 0; j < h; j++) s += pair[i * h + j]
      threshold = Math.max(threshold, s)
    }
  }
  const candidate = (gamma: number): Float32Array => {
    const v = new Float32Array(d)
    for (let j = 0; j < d; j++) v[j] = mean[j] - gamma * dev[j]
    return applyNormBudget(v, p)
  }
  const feasible = (v: Float32Array): boolean => {
    if (mode === 'min-max') {
      for (const x of honest) if (squaredDistance(v, x) > threshold) return false
      return true
    }
    let s = 0
    for (const x of honest) s += squaredDistance(v, x)
    return s <= threshold
  }
  let gamma = p.gammaInit
  let step = p.gammaInit
  let succ = 0
  for (let it = 0; it < p.maxSteps && Math.abs(succ - gamma) > p.tolerance; it++) {
    if (feasible(candidate(gamma))) {
      succ = gamma
      gamma += step / 2
    } else {
      gamma -= step / 2
    }
    step /= 2
  }
  return { update: candidate(succ), gamma: succ }
}

function checkPairwiseSize(name: string, h: number): void {
  if (h > MAX_PAIRWISE_INPUTS) throw new AttackInputError(`${name}: ${h} honest updates, more than ${MAX_PAIRWISE_INPUTS}`)
}

export function minMax(input: AttackInput, params?: Partial<MinMaxParams>): Float32Array[] {
  const p = resolveMinMaxParams(params)
  const { h, count } = checkAttackInput('min-max', input)
  checkPairwiseSize('min-max', h)
  if (count === 0) return []
  return copies(optimizedPerturbation('min-max', input, p).update, count)
}

export function minSum(input: AttackInput, params?: Partial<MinSumParams>): Float32Array[] {
  const p = resolveMinSumParams(params)
  const { h, count } = checkAttackInput('min-sum', input)
  checkPairwiseSize('min-sum', h)
  if (count === 0) return []
  return copies(optimizedPerturbation('min-sum', input, p).update, count)
}

export const minMaxAttack: Attack<MinMaxParams> = {
  name: 'min-max',
  citation: 'Shejwalkar, Houmansadr, NDSS 2021 (min-max)',
  defaults,
  resolveParams: resolveMinMaxParams,
  craft: (input, params) => minMax(input, params)
}

export const minSumAttack: Attack<MinSumParams> = {
  name: 'min-sum',
  citation: 'Shejwalkar, Houmansadr, NDSS 2021 (min-sum)',
  defaults,
  resolveParams: resolveMinSumParams,
  craft: (input, params) => minSum(input, params)
}

