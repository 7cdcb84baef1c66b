/**
 * Persistent-outlier exclusion (DESIGN.md "Reputation": penalties "for belonging to
 * groups whose sum lies far from the aggregate (random regrouping each round lets this
 * evidence single out a persistent attacker)", and reputation "gates eligibility").
 *
 * Evidence per round: the groups of the plan and which of them lay in the FAR HALF,
 * i.e. whose mean is farther from the robust aggregate than the median group mean
 * (`farGroupIndices(means, aggregate, 1)`, computed by anyone from the published group
 * sums). By construction about half of all contributor slots are "far" each round. An
 * honest peer lands in the far half when its group is far: by chance (rate ~1/2 or less,
 * since attackers' groups take far places), through an attacker partner, or through its
 * own non-IID drift. A coherent attacker (IPM, sign flip at the full norm budget) is in
 * the far half nearly every round, whoever its random partner is.
 *
 * The test: over each contributor's last `window` planned rounds with n observations
 * and k far ones, exclude it when n >= minObservations and the one-sided binomial tail
 * P[Binom(n, baseRate) >= k] <= alpha. With baseRate = 1/2 (the far half's average
 * share over all contributors, an upper bound for honest peers when attackers exist)
 * and alpha = 1e-3, an always-far contributor is excluded after 10 observations
 * (2^-10 = 9.8e-4). The window counts the peer's own planned rounds, not calendar
 * rounds, so an excluded contributor (no longer planned) keeps the evidence that
 * excluded it: exclusion is sticky, as it must be (re-admitting it would let an
 * attacker act in bursts). The limit on false exclusions is the test's alpha per
 * evaluation; the harness reports every honest peer excluded.
 *
 * Pure and deterministic: integer counts, a tail computed with +, *, / only, peers in
 * peer-id order. Same inputs, same bits, on every peer.
 */
import { InvalidParametersError } from '../util/errors.ts'
import { assertPeerId, comparePeerIds } from './peer-id.ts'

export interface OutlierParams {
  /** The last `window` planned rounds of each contributor are tested. */
  window: number
  /** No verdict before this many observations. */
  minObservations: number
  /** Largest tail probability P[Binom(n, baseRate) >= k] that excludes. */
  alpha: number
  /** Far-half rate assumed for an honest contributor (the null hypothesis). */
  baseRate: number
}

export const DEFAULT_OUTLIER_PARAMS: Readonly<OutlierParams> = Object.freeze({ window: 20, minObservations: 10, alpha: 1e-3, baseRate: 0.5 })

/** One round's evidence: the plan's groups (contributor ids) and the indices of the groups in the far half. */
export interface OutlierRound {
  groups: readonly (readonly string[])[]
  far: readonly number[]
}

const MAX_WINDOW = 10_000

export function resolveOutlierParams(p: Partial<OutlierParams> = {}): OutlierParams {
  if (p === null || typeof p !== 'object' || Array.isArray(p)) throw new InvalidParametersError('outlier params must be an object')
  for (const k of Object.keys(p)) if (!(k in DEFAULT_OUTLIER_PARAMS)) throw new InvalidParametersError(`unknown outlier parameter '${k}'`)
  const o: OutlierParams = { ...DEFAULT_OUTLIER_PARAMS, ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) }
  if (!Number.isInteger(o.window) || o.window < 1 || o.window > MAX_WINDOW) throw new InvalidParametersError(`outliers.window must be an integer in [1, ${MAX_WINDOW}], got ${String(o.window)}`)
  if (!Number.isInteger(o.minObservations) || o.minObservations < 1 || o.minObservations > o.window) throw new InvalidParametersError(`outliers.minObservations must be an integer in [1, window], got ${String(o.minObservations)}`)
  if (typeof o.alpha !== 'number' || !(o.alpha > 0 && o.alpha < 1)) throw new InvalidParametersError(`outliers.alpha must be in (0, 1), got ${String(o.alpha)}`)
  if (typeof o.baseRate !== 'number' || !(o.baseRate > 0 && o.baseRate < 1)) throw new InvalidParametersError(`outliers.baseRate must be in (0, 1), got ${String(o.baseRate)}`)
  return o
}

/**
 * P[Binom(n, p) >= k], summed from the top term down with the ratio
 * C(n, j-1) p^(j-1) q^(n-j+1) = C(n, j) p^j q^(n-j) * j q / ((n - j + 1) p): +, *, / only.
 */
export function binomialUpperTail(n: number, k: number, p: number): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_WINDOW) throw new InvalidParametersError(`n must be an integer in [0, ${MAX_WINDOW}], got ${String(n)}`)
  if (!Number.isInteger(k)) throw new InvalidParametersError(`k must be an integer, got ${String(k)}`)
  if (!(p > 0 && p < 1)) throw new InvalidParametersError(`p must be in (0, 1), got ${String(p)}`)
  if (k <= 0) return 1
  if (k > n) return 0
  const q = 1 - p
  let top = 1
  for (let i = 0; i < n; i++) top *= p // P[X = n]
  let term = top
  let sum = top
  for (let j = n; j > k; j--) {
    term = term * j * q / ((n - j + 1) * p)
    sum += term
  }
  return sum > 1 ? 1 : sum
}

/** Per contributor: observations and far ones in its last `window` planned rounds (history oldest first). */
export function farCounts(history: readonly OutlierRound[], window: number): Map<string, { n: number, far: number }> {
  if (!Array.isArray(history)) throw new InvalidParametersError('history must be an array')
  const out = new Map<string, { n: number, far: number }>()
  for (let r = history.length - 1; r >= 0; r--) {
    const ev = history[r]
    if (ev === null || typeof ev !== 'object' || !Array.isArray(ev.groups) || !Array.isArray(ev.far)) throw new InvalidParametersError(`history[${r}] must have groups and far arrays`)
    const far = new Set<number>()
    for (const j of ev.far) {
      if (!Number.isInteger(j) || j < 0 || j >= ev.groups.length) throw new InvalidParametersError(`history[${r}].far: bad group index ${String(j)}`)
      far.add(j)
    }
    ev.groups.forEach((grp: readonly string[], j: number) => {
      if (!Array.isArray(grp)) throw new InvalidParametersError(`history[${r}].groups[${j}] must be an array`)
      for (const p of grp) {
        assertPeerId(p, `history[${r}].groups[${j}]`)
        const c = out.get(p) ?? { n: 0, far: 0 }
        if (c.n >= window) continue
        c.n++
        if (far.has(j)) c.far++
        out.set(p, c)
      }
    })
  }
  return out
}

/** Contributors whose far-half count is conclusive under the binomial test, in peer-id order. */
export function persistentOutliers(history: readonly OutlierRound[], params: Partial<OutlierParams> = {}): string[] {
  const P = resolveOutlierParams(params)
  const out: string[] = []
  for (const [peer, c] of farCounts(history, P.window)) {
    if (c.n >= P.minObservations && binomialUpperTail(c.n, c.far, P.baseRate) <= P.alpha) out.push(peer)
  }
  return out.sort(comparePeerIds)
}
