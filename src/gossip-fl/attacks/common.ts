/**
 * Helpers shared by the attacks: input checks, the norm budget, honest statistics.
 */
import { InvalidParametersError } from '../../util/errors.ts'
import { checkFinite, checkInputs, clipToNorm, scaleToNorm, MAX_INPUTS } from '../aggregation/vector.ts'
import { checkBoolean, checkNumber } from '../aggregation/params.ts'
import { AttackInputError } from './errors.ts'
import type { AttackInput, NormBudgetParams } from './types.ts'

export const normBudgetDefaults: NormBudgetParams = Object.freeze({ normBound: null, useFullBudget: false })

export function validateNormBudget(what: string, p: NormBudgetParams): void {
  if (p.normBound !== null) checkNumber(`${what}.normBound`, p.normBound, { min: 0 })
  checkBoolean(`${what}.useFullBudget`, p.useFullBudget)
  if (p.useFullBudget && p.normBound === null) throw new InvalidParametersError(`${what}.useFullBudget needs a normBound`)
}

/** Clip to C, or rescale to exactly C with useFullBudget; identity without a bound. */
export function applyNormBudget(v: Float32Array, p: NormBudgetParams): Float32Array {
  if (p.normBound === null) return v
  return p.useFullBudget ? scaleToNorm(v, p.normBound) : clipToNorm(v, p.normBound)
}

/** Validate the attack input; returns h (honest count), d (dimension), count. */
export function checkAttackInput(what: string, input: AttackInput): { h: number, d: number, count: number } {
  if (typeof input !== 'object' || input === null) throw new AttackInputError(`${what}: input must be an object`)
  let h: number
  let d: number
  try {
    ({ n: h, d } = checkInputs(input.honest, 'honest'))
  } catch (err) {
    throw new AttackInputError(`${what}: ${(err as Error).message}`)
  }
  const count = input.count
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > MAX_INPUTS) {
    throw new AttackInputError(`${what}: count must be an integer in [0, ${MAX_INPUTS}], got ${String(count)}`)
  }
  if (input.own !== undefined) {
    try {
      const { d: od } = checkInputs(input.own, 'own')
      if (od !== d) throw new AttackInputError(`own vectors have length ${od}, honest ones ${d}`)
    } catch (err) {
      throw new AttackInputError(`${what}: ${(err as Error).message}`)
    }
  }
  if (input.previous !== undefined) {
    if (!(input.previous instanceof Float32Array) || input.previous.length !== d) {
      throw new AttackInputError(`${what}: previous must be a Float32Array of length ${d}`)
    }
    try {
      checkFinite(input.previous, 'previous')
    } catch (err) {
      throw new AttackInputError(`${what}: ${(err as Error).message}`)
    }
  }
  return { h, d, count }
}

/** The attacker's own vectors, required by some attacks. */
export function requireOwn(what: string, input: AttackInput): readonly Float32Array[] {
  if (input.own === undefined) throw new AttackInputError(`${what}: needs input.own (the attackers' own updates)`)
  return input.own
}

/** Coordinate-wise mean (float64, index order) and sample standard deviation (n - 1; 0 when n = 1). */
export function meanAndStd(xs: readonly Float32Array[]): { mean: Float64Array, std: Float64Array } {
  const n = xs.length
  const d = xs[0].length
  const mean = new Float64Array(d)
  for (const x of xs) for (let j = 0; j < d; j++) mean[j] += x[j]
  for (let j = 0; j < d; j++) mean[j] /= n
  const std = new Float64Array(d)
  if (n > 1) {
    for (const x of xs) {
      for (let j = 0; j < d; j++) {
        const t = x[j] - mean[j]
        std[j] += t * t
      }
    }
    for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j] / (n - 1))
  }
  return { mean, std }
}

/** `count` copies of v (independent arrays, so callers may mutate them). */
export function copies(v: Float32Array, count: number): Float32Array[] {
  const out: Float32Array[] = []
  for (let k = 0; k < count; k++) out.push(v.slice())
  return out
}
