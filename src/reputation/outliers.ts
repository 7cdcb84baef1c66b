/**
 * Persistent-outlier exclusion (DESIGN.md "Reputation": penalties "for belonging to
 * groups whose sum lies far from the aggregate (random regrouping each round lets this
 * evidence single out a persistent attacker)", and reputation "gates eligibility").
 *
 * Evidence per round: the plan's groups and each group mean's projection on the
 * aggregate's direction, p_j = <mean_j, agg> / ||agg|| (`projectionsOnAggregate`,
 * computed by anyone from the published group sums). A group mean is the average of its
 * members' updates, so a contributor c in group j of size g_j gets the estimate of its
 * OWN projection
 *
 *     x = g_j p_j - (g_j - 1) M,      M = the round's median group projection
 *
 * (its partners, drawn at random, contribute about M each). Random regrouping makes the
 * partners' share noise that averages out over rounds; what stays is c's own alignment
 * with the aggregate. An IPM attacker at the full norm budget sends -C u (u the honest
 * mean direction): x is about -C every round. A sign flipper sends minus its honest
 * update: x is about -a C, a > 0 its honest alignment. An honest peer, however non-IID
 * its shard, pulls along the aggregate on average (x >= 0 in expectation).
 *
 * The test (one-sided t-test of "mean own projection >= 0"): over each contributor's
 * last `window` planned rounds, n observations of mean m and sample variance s^2,
 * exclude when n >= minObservations, m < 0 and m^2 n > tCritical^2 s^2, i.e.
 * t = m sqrt(n) / s < -tCritical. Default tCritical 4.3 is Student's t at 0.999 with 9
 * degrees of freedom (10 observations): alpha about 1e-3 per evaluation for an honest
 * peer at exactly zero alignment, less for any positively aligned one.
 *
 * Why not a count of "far" rounds: the ledger's distance test never flags full-budget IPM
 * groups (their means are SHORT, so near a small aggregate), and a rank test (the low half
 * of the projections, tried first) excluded 4 honest non-IID peers of 20 in 30 rounds
 * without any attack: peers with little alignment are in the low half every round, and a
 * frequency cannot tell "little" from "negative". The sign of the own projection can.
 *
 * Sticky: the window counts the peer's own planned rounds, so an excluded contributor (no
 * longer planned) keeps the evidence that excluded it; re-admission after a pause would
 * let an attacker act in bursts.
 *
 * Pure and deterministic: +, -, *, / only (no sqrt: the test is squared), rounds oldest
 * first, peers in peer-id order. Same inputs, same bits, on every peer.
 */
import { InvalidParametersError } from '../util/errors.ts'
import { assertPeerId, comparePeerIds } from './peer-id.ts'

export interface OutlierParams {
  /** The last `window` planned rounds of each contributor are tested. */
  window: number
  /** No verdict before this many observations. */
  minObservations: number
  /** Exclude when the t statistic of the mean own projection is below -tCritical. */
  tCritical: number
}

export const DEFAULT_OUTLIER_PARAMS: Readonly<OutlierParams> = Object.freeze({ window: 20, minObservations: 10, tCritical: 4.3 })

/** One round's evidence: the plan's groups (contributor ids) and each group mean's projection on the aggregate's direction. */
export interface OutlierRound {
  groups: readonly (readonly string[])[]
  projections: readonly number[]
}

const MAX_WINDOW = 10_000

export function resolveOutlierParams(p: Partial<OutlierParams> = {}): OutlierParams {
  if (p === null || typeof p !== 'object' || Array.isArray(p)) throw new InvalidParametersError('outlier params must be an object')
  for (const k of Object.keys(p)) if (!(k in DEFAULT_OUTLIER_PARAMS)) throw new InvalidParametersError(`unknown outlier parameter '${k}'`)
  const o: OutlierParams = { ...DEFAULT_OUTLIER_PARAMS, ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) }
  if (!Number.isInteger(o.window) || o.window < 2 || o.window > MAX_WINDOW) throw new InvalidParametersError(`outliers.window must be an integer in [2, ${MAX_WINDOW}], got ${String(o.window)}`)
  if (!Number.isInteger(o.minObservations) || o.minObservations < 2 || o.minObservations > o.window) throw new InvalidParametersError(`outliers.minObservations must be an integer in [2, window], got ${String(o.minObservations)}`)
  if (typeof o.tCritical !== 'number' || !Number.isFinite(o.tCritical) || o.tCritical < 0 || o.tCritical > 1e6) throw new InvalidParametersError(`outliers.tCritical must be a number in [0, 1e6], got ${String(o.tCritical)}`)
  return o
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  return n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2
}

/**
 * One round's own-projection estimates, validated: (peer, x) for every group member, in
 * group order then member order. The one place the estimate is computed, so
 * `ownProjections` and `OutlierAccumulator` get the same bits.
 */
function roundEstimates(ev: OutlierRound, r: number): Array<{ peer: string, x: number }> {
  if (ev === null || typeof ev !== 'object' || !Array.isArray(ev.groups) || !Array.isArray(ev.projections)) throw new InvalidParametersError(`history[${r}] must have groups and projections arrays`)
  if (ev.projections.length !== ev.groups.length) throw new InvalidParametersError(`history[${r}]: ${ev.projections.length} projections for ${ev.groups.length} groups`)
  if (ev.groups.length === 0) return []
  for (const v of ev.projections) if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidParametersError(`history[${r}].projections: not a finite number`)
  const M = median(ev.projections)
  const out: Array<{ peer: string, x: number }> = []
  ev.groups.forEach((grp: readonly string[], j: number) => {
    if (!Array.isArray(grp) || grp.length === 0) throw new InvalidParametersError(`history[${r}].groups[${j}] must be a non-empty array`)
    const g = grp.length
    const x = g * ev.projections[j]! - (g - 1) * M
    for (const p of grp) {
      assertPeerId(p, `history[${r}].groups[${j}]`)
      out.push({ peer: p, x })
    }
  })
  return out
}

/** Per contributor: its own-projection estimates x in its last `window` planned rounds, oldest first. */
export function ownProjections(history: readonly OutlierRound[], window: number): Map<string, number[]> {
  if (!Array.isArray(history)) throw new InvalidParametersError('history must be an array')
  const out = new Map<string, number[]>()
  for (let r = history.length - 1; r >= 0; r--) {
    for (const { peer, x } of roundEstimates(history[r]!, r)) {
      const xs = out.get(peer) ?? []
      if (xs.length >= window) continue
      xs.unshift(x)
      out.set(peer, xs)
    }
  }
  return out
}

/**
 * `persistentOutliers` folded one round at a time (what a ledger of many rounds needs: the
 * set of round r + 1 from the rounds so far in O(contributors), not O(history)). Keeps each
 * contributor's last `window` estimates; `excluded()` equals `persistentOutliers(history,
 * params)` over the rounds added, bit for bit (same estimates in the same order; tested).
 */
export class OutlierAccumulator {
  readonly params: OutlierParams
  private readonly xs = new Map<string, number[]>()
  /** Rounds added. */
  rounds = 0

  constructor(params: Partial<OutlierParams> = {}) {
    this.params = resolveOutlierParams(params)
  }

  /** Add the next round's evidence (validated first: a bad round changes nothing). */
  add(ev: OutlierRound): void {
    const est = roundEstimates(ev, this.rounds)
    // ownProjections keeps, per peer, the first `window` estimates met newest round first and in
    // round order within a round, listed oldest first: i.e. the last `window` of this order.
    for (let i = est.length - 1; i >= 0; i--) {
      const { peer, x } = est[i]!
      const xs = this.xs.get(peer) ?? []
      xs.push(x)
      if (xs.length > this.params.window) xs.shift()
      this.xs.set(peer, xs)
    }
    this.rounds++
  }

  /** Contributors conclusively negative over the rounds added, in peer-id order. */
  excluded(): string[] {
    const out: string[] = []
    for (const [peer, xs] of this.xs) if (xs.length >= this.params.minObservations && conclusivelyNegative(xs, this.params.tCritical)) out.push(peer)
    return out.sort(comparePeerIds)
  }
}

/** True when the observations' mean is conclusively negative: m < 0 and m^2 n > t^2 s^2 (s^2 the sample variance). */
export function conclusivelyNegative(xs: readonly number[], tCritical: number): boolean {
  const n = xs.length
  if (n < 2) return false
  let sum = 0
  for (const x of xs) sum += x
  const m = sum / n
  if (!(m < 0)) return false
  let ss = 0
  for (const x of xs) ss += (x - m) * (x - m)
  const s2 = ss / (n - 1)
  return m * m * n > tCritical * tCritical * s2
}

/** Contributors whose mean own projection on the aggregate is conclusively negative, in peer-id order. */
export function persistentOutliers(history: readonly OutlierRound[], params: Partial<OutlierParams> = {}): string[] {
  const P = resolveOutlierParams(params)
  const out: string[] = []
  for (const [peer, xs] of ownProjections(history, P.window)) {
    if (xs.length >= P.minObservations && conclusivelyNegative(xs, P.tCritical)) out.push(peer)
  }
  return out.sort(comparePeerIds)
}
