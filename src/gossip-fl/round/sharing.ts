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
import { seededRng } from '../../util/rng.ts'
import { sha256 } from '@noble/hashes/sha2.js'
import { share as shamirShare, holderX } from '../../secret-sharing/shamir.ts'
import { robustReconstruct } from '../../secret-sharing/consistency.ts'
import { addMod2, addModInto } from '../../secret-sharing/kernels.ts'
import { normSquarePoint, dealZeroShares, robustReconstructNormSquared } from '../../secret-sharing/norm-check.ts'

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

/** Sum of squares of a share vector, mod p: one point on a degree-2(t-1) polynomial whose constant term is ||secret||^2 (A's normSquarePoint). */
export function sumOfSquares(y: Uint32Array): number {
  return normSquarePoint(y)
}

/**
 * A dealer's zero-sharing for the norm masks (A's dealZeroShares): for each of
 * `count` contributors a random polynomial of degree 2(t-1) with constant term 0,
 * evaluated at x = 1..m. Returns masks[j][c] = Z_c(x_j). Adding the dealers'
 * masks to member j's point leaves the constant term (the squared norm) unchanged
 * and makes every other coefficient uniform as soon as one dealer is honest.
 */
export function dealZeroMasks(count: number, m: number, t: number, rng: Rng): Uint32Array[] {
  return dealZeroShares(count, m, t, rng)
}

export interface ScalarDecode {
  /** ||v||^2 mod p */
  value: number
  /** Indices (into the input) of points off the polynomial. */
  wrong: number[]
}

/**
 * The squared norm from >= 2t-1 masked points, correcting up to
 * floor((k - 2t + 1) / 2) wrong points (A's robustReconstructNormSquared,
 * Berlekamp-Welch). Throws TooManyFaultsError / ShareFormatError when it cannot.
 */
export function decodeNormSquared(xs: readonly number[], ys: readonly number[], t: number): ScalarDecode {
  const r = robustReconstructNormSquared(xs.map((x, j) => ({ x, y: ys[j]! })), t)
  const at = new Map(xs.map((x, j) => [x, j]))
  return { value: r.normSquared, wrong: r.blamed.map(x => at.get(x)!) }
}

/**
 * The check combination's challenge: rho_c for c = 0..count-1, uniform field
 * elements from a ChaCha20 stream keyed by SHA-256(tag || planDigest). The plan
 * is fixed after every dealer dealt, and depends on receipts no single dealer can
 * predict, so a dealer cannot choose masks that cancel in the combination.
 */
export function zeroCheckChallenge(planDigest: Uint8Array, count: number): Uint32Array {
  const tag = new TextEncoder().encode('tessera/zero-check/v1')
  const seed = new Uint8Array(tag.length + planDigest.length)
  seed.set(tag)
  seed.set(planDigest, tag.length)
  return randomFieldElements(seededRng(sha256(seed)), new Uint32Array(count))
}

/** w = masks[count] + sum_c rho_c masks[c] mod p (the check polynomial at my x plus the combination). */
export function zeroCheckPoint(masks: Uint32Array, rho: Uint32Array): number {
  const n = rho.length
  let acc = masks[n]!
  for (let c = 0; c < n; c++) acc = add(acc, mul(rho[c]!, masks[c]!))
  return acc
}

export interface VectorDecode {
  secret: Uint32Array
  /** Indices of holders whose vectors are not on the degree-(t-1) polynomial. */
  wrong: number[]
}

/**
 * Robust reconstruction of a shared vector (a group sum) from k >= t holders (A's
 * robustReconstruct): Berlekamp-Welch on a fresh random projection names the wrong
 * holders (a wrong vector changes the projection except with probability 1/p, and
 * the sender could not know the projection), correcting up to floor((k - t) / 2).
 * Throws TooManyFaultsError when too many are wrong to tell which.
 */
export function robustReconstructVector(xs: readonly number[], ys: readonly Uint32Array[], t: number, rng: Rng): VectorDecode {
  const r = robustReconstruct(xs.map((x, j) => ({ x, y: ys[j]! })), t, rng)
  const at = new Map(xs.map((x, j) => [x, j]))
  return { secret: r.secret, wrong: r.blamed.map(x => at.get(x)!) }
}

/** Sum of field vectors (a member's share of a group sum). */
export function sumShares(vs: readonly Uint32Array[], n: number): Uint32Array {
  return sumSharesInto(new Uint32Array(n), vs)
}

/**
 * out = sum of the field vectors `vs` (mod p), each at least out.length long; returns
 * out. The first two are added in one pass (a group of g >= 2 is one pass, not g).
 */
export function sumSharesInto(out: Uint32Array, vs: readonly Uint32Array[]): Uint32Array {
  const n = out.length
  if (vs.length === 0) { out.fill(0); return out }
  const a = vs[0]!
  if (vs.length === 1) { out.set(a.subarray(0, n)); return out }
  // The loops are src/secret-sharing/kernels.ts's (small functions V8 optimizes once).
  addMod2(out, a, vs[1]!, n)
  for (let j = 2; j < vs.length; j++) addModInto(out, vs[j]!, n)
  return out
}
