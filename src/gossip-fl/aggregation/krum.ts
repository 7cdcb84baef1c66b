/**
 * Krum and Multi-Krum (Blanchard, El Mhamdi, Guerraoui, Stainer, "Machine Learning
 * with Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS 2017).
 *
 * score(i) = sum of the squared distances from V_i to its n - f - 2 nearest
 * other vectors. Krum outputs the vector with the lowest score; Multi-Krum the
 * average of the m vectors with the lowest scores (scores computed once, as in
 * the paper). Requires n >= 2f + 3 (see krumCore for fewer inputs). Ties go to the lower index, so the choice is
 * deterministic.
 */
import { AggregationInputError } from './errors.ts'
import { checkInteger, resolveParams } from './params.ts'
import { pairwiseSquaredDistances } from './pairwise.ts'
import { statelessState } from './state.ts'
import { checkInputs } from './vector.ts'
import type { AggregationResult, AggregationRule, RuleState } from './types.ts'

export interface KrumParams {
  /** Byzantine inputs tolerated; null = the most the input count allows, floor((n - 3) / 2). */
  readonly f: number | null
}

export interface MultiKrumParams extends KrumParams {
  /** Vectors averaged; null = n - f (the paper's choice for its experiments). */
  readonly m: number | null
}

const krumDefaults: Readonly<KrumParams> = Object.freeze({ f: null })
const multiKrumDefaults: Readonly<MultiKrumParams> = Object.freeze({ f: null, m: null })

export function resolveKrumParams(partial?: Partial<KrumParams>): Readonly<KrumParams> {
  return resolveParams('krum', krumDefaults, partial, (p) => {
    if (p.f !== null) checkInteger('krum.f', p.f, 0)
  })
}

export function resolveMultiKrumParams(partial?: Partial<MultiKrumParams>): Readonly<MultiKrumParams> {
  return resolveParams('multi-krum', multiKrumDefaults, partial, (p) => {
    if (p.f !== null) checkInteger('multi-krum.f', p.f, 0)
    if (p.m !== null) checkInteger('multi-krum.m', p.m, 1)
  })
}

/**
 * Krum scores of the inputs (lower is more central), for n >= 2f + 3. Exposed for
 * diagnostics and for attack studies (e.g. whether a crafted update would be picked).
 */
export function krumScores(inputs: readonly Float32Array[], f: number): Float64Array {
  const { n } = checkInputs(inputs)
  checkInteger('krum.f', f, 0)
  if (n < 2 * f + 3) throw new AggregationInputError(`krum: needs n >= 2f + 3, got n = ${n}, f = ${f}`)
  return scoresOf(inputs, f)
}

function scoresOf(inputs: readonly Float32Array[], f: number): Float64Array {
  const n = inputs.length
  const dist = pairwiseSquaredDistances(inputs)
  const k = n - f - 2
  const scores = new Float64Array(n)
  const row = new Float64Array(n - 1)
  for (let i = 0; i < n; i++) {
    let c = 0
    for (let j = 0; j < n; j++) if (j !== i) row[c++] = dist[i * n + j]
    row.sort()
    let s = 0
    for (let r = 0; r < k; r++) s += row[r]
    scores[i] = s
  }
  return scores
}

/** Indices ordered by (score, index) ascending. */
function ranking(scores: Float64Array): number[] {
  const idx = Array.from(scores.keys())
  idx.sort((a, b) => (scores[a] - scores[b]) || (a - b))
  return idx
}

/**
 * A fixed `f` (and `m`) is an upper bound, as trimmed mean's `trimCount`: a live network
 * loses groups to exclusion, refusals and departures, and a rule that throws for the
 * smaller count fails every member's aggregation on every retry. So f is clamped to
 * floor((n - 3) / 2), the most n inputs allow, and m to n - f. Below 3 inputs Krum's
 * score is undefined (n - f - 2 < 1 neighbours); both rules then average all inputs.
 */
function krumCore(rule: 'krum' | 'multi-krum', inputs: readonly Float32Array[], fParam: number | null, mParam: number | null): { aggregate: Float32Array, selected: number[] } {
  const { n, d } = checkInputs(inputs)
  if (fParam !== null && fParam < 0) throw new AggregationInputError(`${rule}: f must be >= 0, got ${fParam}`)
  const fMax = Math.max(0, Math.floor((n - 3) / 2))
  const f = Math.min(fParam ?? fMax, fMax)
  const m = n < 3 ? n : Math.min(mParam ?? n - f, n - f)
  const selected = n < 3 ? Array.from(inputs.keys()) : ranking(scoresOf(inputs, f)).slice(0, m)
  // Average the selected vectors in ascending index order (canonical, not score order).
  const order = selected.slice().sort((a, b) => a - b)
  const acc = new Float64Array(d)
  for (const i of order) {
    const v = inputs[i]
    for (let j = 0; j < d; j++) acc[j] += v[j]
  }
  const out = new Float32Array(d)
  for (let j = 0; j < d; j++) out[j] = acc[j] / m
  return { aggregate: out, selected }
}

export function krum(inputs: readonly Float32Array[], state?: RuleState, params?: Partial<KrumParams>): AggregationResult {
  const next = statelessState('krum', state)
  const p = resolveKrumParams(params)
  const { aggregate, selected } = krumCore('krum', inputs, p.f, 1)
  return { aggregate, state: next, selected }
}

export function multiKrum(inputs: readonly Float32Array[], state?: RuleState, params?: Partial<MultiKrumParams>): AggregationResult {
  const next = statelessState('multi-krum', state)
  const p = resolveMultiKrumParams(params)
  const { aggregate, selected } = krumCore('multi-krum', inputs, p.f, p.m)
  return { aggregate, state: next, selected }
}

export const krumRule: AggregationRule<KrumParams> = {
  name: 'krum',
  citation: 'Blanchard, El Mhamdi, Guerraoui, Stainer, NeurIPS 2017',
  defaults: krumDefaults,
  resolveParams: resolveKrumParams,
  aggregate: krum
}

export const multiKrumRule: AggregationRule<MultiKrumParams> = {
  name: 'multi-krum',
  citation: 'Blanchard, El Mhamdi, Guerraoui, Stainer, NeurIPS 2017 (Multi-Krum)',
  defaults: multiKrumDefaults,
  resolveParams: resolveMultiKrumParams,
  aggregate: multiKrum
}
