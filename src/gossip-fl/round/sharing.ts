/**
 * What the round needs from secret sharing, on top of src/secret-sharing (A):
 * fixed-point encoding, vector sharing and reconstruction, the masked norm-square
 * points of DESIGN.md step 3, and error-correcting reconstruction of group sums
 * with blame (step 4). Field arithmetic, Shamir and Berlekamp-Welch are A's; this
 * file only composes them for the round's shapes, so the machine has one narrow
 * import.
 */
import type { Rng } from '../../util/rng.ts'
import { P, HALF, add, mul, randomFieldElements } from '../../secret-sharing/field.ts'
import { share as shamirShare, reconstruct as shamirReconstruct, holderX } from '../../secret-sharing/shamir.ts'
import { berlekampWelch, evalPoly } from '../../secret-sharing/polynomial.ts'

export { P, holderX }

/**
 * Encode reals in fixed point: round(v * scale) as a centered field element.
 * Round-half-to-even-free Math.round keeps it deterministic on every engine.
 * Values beyond +-HALF/scale are clamped (they could only come from a contributor
 * ignoring the norm bound; the norm check then refuses them).
 */
export function encodeFixed(v: ArrayLike<number>, scale: number): Uint32Array {
  const out = new Uint32Array(v.length)
  for (let i = 0; i < v.length; i++) {
    let q = Math.round(v[i]! * scale)
    if (!(q <= HALF)) q = q > 0 ? HALF : 0 // NaN -> 0
    if (q < -HALF) q = -HALF
    out[i] = q < 0 ? q + P : q
  }
  return out
}

/** Decode a field vector to reals (centered reading, divided by scale). */
export function decodeFixed(u: Uint32Array, scale: number): Float64Array {
  const out = new Float64Array(u.length)
  for (let i = 0; i < u.length; i++) {
    const v = u[i]!
    out[i] = (v > HALF ? v - P : v) / scale
  }
  return out
}

/** m Shamir shares with threshold t; share j belongs to the member at committee index j (x = j + 1). */
export function shareVector(secret: Uint32Array, m: number, t: number, rng: Rng): Uint32Array[] {
  return shamirShare(secret, m, t, rng)
}

/** Sum of squares of a share vector, mod p: one point on a degree-2(t-1) polynomial whose constant term is ||secret||^2. */
export function sumOfSquares(y: Uint32Array): number {
  let acc = 0
  for (let i = 0; i < y.length; i++) acc = add(acc, mul(y[i]!, y[i]!))
  return acc
}

/**
 * A dealer's zero-sharing for the norm masks: for each of `count` contributors, a
 * uniformly random polynomial of degree `degree` with constant term 0, evaluated
 * at x = 1..m. Returns masks[j][c] = Z_c(x_j). Adding sum_dealers Z_c(x_j) to the
 * member j's point leaves the constant term (the squared norm) unchanged and
 * makes every other coefficient uniform as soon as one dealer is honest.
 */
export function dealZeroShares(count: number, m: number, degree: number, rng: Rng): Uint32Array[] {
  const masks: Uint32Array[] = []
  for (let j = 0; j < m; j++) masks.push(new Uint32Array(count))
  const coefs = new Uint32Array(degree + 1)
  for (let c = 0; c < count; c++) {
    randomFieldElements(rng, coefs)
    coefs[0] = 0
    for (let j = 0; j < m; j++) masks[j]![c] = evalPoly(coefs, holderX(j))
  }
  return masks
}

export interface ScalarDecode {
  /** Constant term of the decoded polynomial. */
  value: number
  /** Indices (into the input) of points off the polynomial. */
  wrong: number[]
}

/**
 * Decode f(0) from points of a polynomial of degree <= `degree`, correcting up to
 * floor((k - degree - 1) / 2) wrong points (Berlekamp-Welch, A's implementation).
 * Throws TooManyFaultsError / ShareFormatError from A when it cannot.
 */
export function decodeScalarAtZero(xs: readonly number[], ys: readonly number[], degree: number): ScalarDecode {
  const { poly, errors } = berlekampWelch(xs, ys, degree)
  return { value: poly[0] ?? 0, wrong: errors }
}

export interface VectorDecode {
  secret: Uint32Array
  /** Indices of holders whose vectors are not on the degree-(t-1) polynomial. */
  wrong: number[]
}

/**
 * Robust reconstruction of a shared vector (a group sum) from k >= t holders:
 * 1. consistency check on a random linear combination: z_j = <rho, y_j> for a
 *    fresh random rho (the sender cannot have chosen its vector knowing rho); a
 *    wrong vector changes z_j except with probability 1/p;
 * 2. Berlekamp-Welch on the k scalars z_j names the wrong holders (correcting up to
 *    floor((k - t) / 2) of them);
 * 3. the secret is interpolated from t holders not named wrong.
 * Throws (A's TooManyFaultsError) when too many are wrong to tell which.
 */
export function robustReconstructVector(xs: readonly number[], ys: readonly Uint32Array[], t: number, rng: Rng): VectorDecode {
  const n = ys[0]!.length
  const rho = randomFieldElements(rng, new Uint32Array(n))
  const scalars = ys.map(y => dot(rho, y))
  const { errors } = berlekampWelch(xs, scalars, t - 1)
  const wrong = new Set(errors)
  const good: Array<{ x: number, y: Uint32Array }> = []
  for (let j = 0; j < xs.length && good.length < t; j++) if (!wrong.has(j)) good.push({ x: xs[j]!, y: ys[j]! })
  return { secret: shamirReconstruct(good, t), wrong: errors }
}

function dot(a: Uint32Array, b: Uint32Array): number {
  // Split a into 16-bit halves so every product stays < 2^47 and 32 of them < 2^52.
  let lo = 0
  let hi = 0
  const reduce = (x: number): number => x % P
  for (let i = 0; i < a.length; i++) {
    const w = a[i]!
    lo += (w & 0xffff) * b[i]!
    hi += (w >>> 16) * b[i]!
    if ((i & 31) === 31) { lo = reduce(lo); hi = reduce(hi) }
  }
  return reduce(reduce(hi) * 65536 + reduce(lo))
}

/** Sum of field vectors (a member's share of a group sum). */
export function sumShares(vs: readonly Uint32Array[], n: number): Uint32Array {
  const out = new Uint32Array(n)
  for (const v of vs) {
    for (let i = 0; i < n; i++) {
      const s = out[i]! + v[i]!
      out[i] = s >= P ? s - P : s
    }
  }
  return out
}
