/**
 * Consistency check and error-correcting reconstruction for vector shares.
 *
 * k > t holders' share vectors y_j are consistent when every coordinate lies on
 * one polynomial of degree t - 1. Checking all n coordinates costs n interpolations;
 * instead each vector is projected to one field element z_j = sum_i r_i y_j[i] with
 * random r (drawn after the shares are fixed). Projection is linear, so consistent
 * shares give points z_j on one degree-(t-1) polynomial; if some holder's vector
 * differs from the consistent one by a nonzero e, its projection moves by
 * sum_i r_i e_i, which is 0 with probability 1/p over uniform r (Schwartz-Zippel).
 * The same projected points feed Berlekamp-Welch, which names the wrong holders.
 *
 * Privacy note: the projections reveal one random linear combination of the
 * secret's coordinates. Use this on values that are revealed anyway (group sums).
 */
import type { Rng } from '../util/rng.ts'
import { randomFieldElements, assertFieldVector } from './field.ts'
import { projectKernel } from './kernels.ts'
import { ShareFormatError, ShareParametersError, TooManyFaultsError, show } from './errors.ts'
import { onPolynomial, berlekampWelch } from './polynomial.ts'
import { type Share, assertShares, reconstruct, MAX_HOLDERS } from './shamir.ts'

/** Uniform random projection coefficients, one per coordinate. */
export function randomProjection(n: number, rng: Rng): Uint32Array {
  if (!Number.isSafeInteger(n) || n < 0 || n > 2 ** 30) throw new ShareFormatError(`projection length must be an integer in [0, 2^30], got ${show(n)}`)
  return randomFieldElements(rng, new Uint32Array(n))
}

/**
 * sum_i r[i] * y[i] mod p. r = rh * 2^16 + rl; 32 products of each half stay below
 * 2^52 in float64 before a Mersenne reduction.
 */
export function project(y: Uint32Array, r: Uint32Array): number {
  assertFieldVector(y, 'vector')
  assertFieldVector(r, 'projection')
  if (y.length !== r.length) throw new ShareFormatError(`projection length ${r.length} differs from vector length ${y.length}`)
  return projectUnchecked(y, r)
}

/** project on validated input (field elements, equal lengths). */
function projectUnchecked(y: Uint32Array, r: Uint32Array): number {
  return projectKernel(y, r)
}

/**
 * The projection of y (r validated, equal lengths), or -1 when an entry of y is
 * not a field element: the check rides along the pass that reads y anyway, so
 * robustReconstruct reads each share vector once, not twice (kernels.ts).
 */
const projectOrFlag = projectKernel

function assertT(t: unknown): asserts t is number {
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_HOLDERS) throw new ShareParametersError(`threshold t must be an integer in [1, ${MAX_HOLDERS}], got ${show(t)}`)
}

function projections(shares: readonly Share[], r: Uint32Array): Uint32Array {
  const z = new Uint32Array(shares.length)
  for (let j = 0; j < shares.length; j++) z[j] = projectUnchecked(shares[j]!.y, r)
  return z
}

/**
 * True when the shares (k >= t) are consistent with one degree-(t-1) sharing,
 * tested on one random projection (false positive probability <= 1/p ~ 2^-31).
 * With k = t there is no redundancy and the answer is always true.
 */
export function checkConsistency(shares: readonly Share[], t: number, rng: Rng): boolean {
  assertT(t)
  const n = assertShares(shares)
  if (shares.length < t) throw new ShareFormatError(`need at least t = ${t} shares, got ${shares.length}`)
  for (const s of shares) assertFieldVector(s.y, `share y (x = ${s.x})`)
  if (shares.length === t) return true
  const z = projections(shares, randomProjection(n, rng))
  return onPolynomial(shares.map((s) => s.x), z, t - 1)
}

export interface RobustResult {
  secret: Uint32Array
  /** Evaluation points x of the holders whose shares were wrong (holder index = x - 1). */
  blamed: number[]
  /** False when exactly t shares were given: nothing could be checked. */
  checked: boolean
}

/**
 * Error-correcting reconstruction: from k >= t shares of which at most
 * floor((k - t) / 2) are wrong, return the secret and name the wrong holders.
 * Berlekamp-Welch runs on one random projection to locate the bad holders; they are
 * dropped, the rest is re-checked on a fresh projection, and the secret is
 * reconstructed from the remaining ones. Throws TooManyFaultsError otherwise.
 */
export function robustReconstruct(shares: readonly Share[], t: number, rng: Rng): RobustResult {
  assertT(t)
  const n = assertShares(shares)
  const k = shares.length
  if (k < t) throw new ShareFormatError(`need at least t = ${t} shares, got ${k}`)
  // reconstruct checks the entries of the shares it combines in its own pass.
  if (k === t) return { secret: reconstruct(shares, t), blamed: [], checked: false }
  const xs = shares.map((s) => s.x)
  const r = randomProjection(n, rng)
  const z = new Uint32Array(k)
  for (let j = 0; j < k; j++) {
    const v = projectOrFlag(shares[j]!.y, r)
    if (v < 0) assertFieldVector(shares[j]!.y, `share y (x = ${shares[j]!.x})`) // throws, naming the entry
    z[j] = v
  }
  const { errors } = berlekampWelch(xs, z, t - 1)
  if (errors.length === 0) return { secret: reconstruct(shares, t), blamed: [], checked: true }
  const bad = new Set(errors)
  const good = shares.filter((_, j) => !bad.has(j))
  // k - e >= t + e > t, so the survivors can be re-checked on a fresh projection.
  if (!checkConsistency(good, t, rng)) {
    throw new TooManyFaultsError(`shares remain inconsistent after dropping holders ${errors.map((j) => xs[j]).join(', ')}`)
  }
  return { secret: reconstruct(good, t), blamed: errors.map((j) => xs[j]!), checked: true }
}
