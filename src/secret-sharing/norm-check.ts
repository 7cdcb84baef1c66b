/**
 * Norm check on shares (DESIGN.md, round step 3).
 *
 * If holder j holds y_j = f(x_j) for a vector of degree-(t-1) polynomials f with
 * f(0) = q, then s_j = sum_i y_j[i]^2 = g(x_j) where g = sum_i f_i^2 has degree
 * 2(t-1) and g(0) = ||q||^2 (mod p); from 2t - 1 points g(0) is interpolated, and it
 * equals the integer ||q||^2 when that is < p (fixed-point.ts makes sure honest
 * vectors satisfy it). This is the multiplication of Shamir shares of BGW (Ben-Or,
 * Goldwasser and Wigderson, STOC 1988), used locally by each holder.
 *
 * Masking: the points s_j reveal all of g, not only g(0). Before publishing, every
 * holder adds shares of zero of degree 2(t-1) dealt by the holders themselves: each
 * holder deals a random polynomial z_d with z_d(0) = 0 to all holders, and holder j
 * publishes s_j + sum_d z_d(x_j). The sum of the z_d is uniformly random among
 * degree-2(t-1) polynomials with zero constant term as soon as one dealer is
 * honest, so the published points reveal g(0) and nothing else. (The contributor
 * never deals these, or it could shift the constant term.)
 *
 * With more than 2t - 1 points, they must lie on one degree-2(t-1) polynomial; a
 * contributor whose shares are not a degree-(t-1) sharing is caught this way
 * (unless its deviation preserves every holder's sum of squares: see the docs).
 */
import type { Rng } from '../util/rng.ts'
import { add, mul, addInto, assertFieldElement, assertFieldVector } from './field.ts'
import { ShareFormatError, ShareParametersError, InconsistentSharesError, show } from './errors.ts'
import { assertEvaluationPoints, onPolynomial, berlekampWelch, lagrangeWeightsAtZero, evalPoly } from './polynomial.ts'
import { share, assertShareParameters, MAX_HOLDERS } from './shamir.ts'
import { normSquareKernel } from './kernels.ts'

/** One holder's scalar point: evaluation point x and value y. */
export type PointShare = { x: number, y: number }

/**
 * sum_i y[i]^2 mod p: this holder's point on the degree-2(t-1) norm polynomial.
 * With y = yh 2^16 + yl: y^2 = 2 yh^2 + yh yl 2^17 + yl^2 (mod p) since 2^32 = 2; the
 * sums of yh yl (< 2^31 each) and of 2 yh^2 + yl^2 (< 2^33 each) over 2^19 terms stay
 * below 2^53, so a chunk needs no reduction at all (kernels.ts normSquareKernel, which
 * also flags an entry >= p in the same pass: then assertFieldVector names it).
 */
export function normSquarePoint(y: Uint32Array): number {
  if (!(y instanceof Uint32Array)) assertFieldVector(y, 'share') // throws ShareFormatError
  const v = normSquareKernel(y)
  if (v < 0) assertFieldVector(y, 'share') // throws FieldElementError, naming the entry
  return v
}

/** normSquarePoint of each share vector a holder holds (e.g. one per contributor). */
export function normSquarePoints(ys: readonly Uint32Array[]): Uint32Array {
  const out = new Uint32Array(ys.length)
  for (let c = 0; c < ys.length; c++) out[c] = normSquarePoint(ys[c]!)
  return out
}

/**
 * Deal shares of zero for masking `count` norm points (one per contributor): a fresh
 * random polynomial of degree 2(t-1) with constant term 0 per contributor, evaluated
 * at x = 1..m. Returns, per recipient holder j, a vector of `count` masks.
 * Every committee member runs this and sends out[j] to holder j.
 */
export function dealZeroShares(count: number, m: number, t: number, rng: Rng): Uint32Array[] {
  assertShareParameters(m, t)
  if (!Number.isSafeInteger(count) || count < 0) throw new ShareParametersError(`count must be an integer >= 0, got ${show(count)}`)
  if (2 * t - 1 > m) throw new ShareParametersError(`the norm check needs m >= 2t - 1 = ${2 * t - 1} holders, got m = ${m}`)
  return share(new Uint32Array(count), m, 2 * t - 1, rng)
}

/**
 * Holder side: its norm points plus every zero share it received (one vector from
 * each dealer, same length), mod p. Returns a new vector, ready to publish.
 */
export function maskNormPoints(points: Uint32Array, received: readonly Uint32Array[]): Uint32Array {
  assertFieldVector(points, 'norm points')
  const out = Uint32Array.from(points)
  for (const r of received) {
    assertFieldVector(r, 'zero share')
    if (r.length !== points.length) throw new ShareFormatError(`zero share length ${r.length} differs from ${points.length} norm points`)
    addInto(out, r)
  }
  return out
}

function assertPoints(points: readonly PointShare[], t: unknown): number {
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_HOLDERS) throw new ShareParametersError(`threshold t must be an integer in [1, ${MAX_HOLDERS}], got ${show(t)}`)
  if (!Array.isArray(points)) throw new ShareFormatError('points must be an array')
  const need = 2 * t - 1
  if (points.length < need) throw new ShareFormatError(`the norm needs at least 2t - 1 = ${need} points, got ${points.length}`)
  for (const p of points) {
    if (p === null || typeof p !== 'object') throw new ShareFormatError('each point must be { x: number, y: number }')
    assertFieldElement(p.y, `norm point y (x = ${show(p.x)})`)
  }
  assertEvaluationPoints(points.map((p) => p.x))
  return need
}

/**
 * The squared L2 norm (mod p; exact when < p) of the vector behind the points
 * (each from normSquarePoint, masked or not). With more than 2t - 1 points they
 * must lie on one degree-2(t-1) polynomial, else InconsistentSharesError.
 */
export function reconstructNormSquared(points: readonly PointShare[], t: number): number {
  const need = assertPoints(points, t)
  const xs = points.map((p) => p.x)
  const ys = points.map((p) => p.y)
  if (!onPolynomial(xs, ys, need - 1)) throw new InconsistentSharesError(`the ${points.length} norm points do not lie on one polynomial of degree 2(t-1) = ${need - 1}`)
  const w = lagrangeWeightsAtZero(xs.slice(0, need))
  let s = 0
  for (let j = 0; j < need; j++) s = add(s, mul(w[j]!, ys[j]!))
  return s
}

/**
 * Like reconstructNormSquared but corrects up to floor((k - (2t - 1)) / 2) wrong
 * points by Berlekamp-Welch and names their holders (x values).
 * Throws TooManyFaultsError when more are wrong.
 */
export function robustReconstructNormSquared(points: readonly PointShare[], t: number): { normSquared: number, blamed: number[] } {
  const need = assertPoints(points, t)
  const xs = points.map((p) => p.x)
  const { poly, errors } = berlekampWelch(xs, points.map((p) => p.y), need - 1)
  return { normSquared: evalPoly(poly, 0), blamed: errors.map((j) => xs[j]!) }
}
