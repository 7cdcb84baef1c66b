/**
 * Shamir secret sharing (Shamir, "How to share a secret", CACM 1979) of vectors of
 * field elements, one independent random polynomial per coordinate.
 *
 * Holder j (0-based) receives f(x_j) with x_j = j + 1, where f has degree t - 1,
 * f(0) = secret. Any t shares give f(0) by Lagrange interpolation; t - 1 shares are
 * jointly uniform whatever the secret.
 *
 * Speed (bench/secret-sharing.ts): coordinates are processed in cache-sized blocks;
 * per block the t - 1 random coefficients are drawn in one rng.fillU32 call. The
 * small evaluation points x = 1..m keep every intermediate value an exact float64
 * integer (< 2^53) without reduction, so each share value costs one Mersenne
 * reduction. Three evaluation strategies, by (m, t):
 * - forward differences over all holders at once (t in 4..7, m > t): `deg` additions
 *   per extra holder, the table in registers;
 * - power form per holder (t <= 7, small m): sum_k c_k x^k, unrolled;
 * - Horner per holder with scheduled reductions (anything else, up to m = 65,535).
 */
import type { Rng } from '../util/rng.ts'
import { P, reduce, randomFieldElements, assertFieldVector } from './field.ts'
import { ShareFormatError, ShareParametersError, show } from './errors.ts'
import { assertEvaluationPoints, lagrangeWeightsAtZero } from './polynomial.ts'
import { mulRows, madRows, reduceRows, joinRows, combine2 } from './kernels.ts'

/** A share as exchanged between parties: evaluation point x (>= 1) and the vector f(x). */
export type Share = { x: number, y: Uint32Array }

/**
 * Largest supported number of holders. Evaluation points are 1..m, and m < 2^16
 * keeps acc * x + c below 2^48 in the Horner loop (far below p, so also m < p).
 */
export const MAX_HOLDERS = 65535

/** Coordinates per block: a few Float64Array/Uint32Array rows that stay in L2 cache. */
const BLOCK = 4096
const TWO53 = 9007199254740992

/** The evaluation point of holder j (0-based). */
export function holderX(j: number): number {
  return j + 1
}

export function assertShareParameters(m: unknown, t: unknown): void {
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1) throw new ShareParametersError(`threshold t must be an integer >= 1, got ${show(t)}`)
  if (typeof m !== 'number' || !Number.isInteger(m) || m < 1) throw new ShareParametersError(`holder count m must be an integer >= 1, got ${show(m)}`)
  if (m > MAX_HOLDERS) throw new ShareParametersError(`holder count m = ${m} exceeds ${MAX_HOLDERS}`)
  if (t > m) throw new ShareParametersError(`threshold t = ${t} exceeds holder count m = ${m}`)
}

/**
 * Split `secret` (field elements) into m shares with threshold t. Returns the m
 * share vectors; holder j's evaluation point is j + 1 (see `holderX`).
 */
export function share(secret: Uint32Array, m: number, t: number, rng: Rng): Uint32Array[] {
  assertShareParameters(m, t)
  assertFieldVector(secret, 'secret')
  const n = secret.length
  const out: Uint32Array[] = []
  for (let j = 0; j < m; j++) out.push(new Uint32Array(n))
  if (t === 1) {
    for (const o of out) o.set(secret)
    return out
  }
  const deg = t - 1
  // Power form: f(x) = s + sum_k c_k x^k summed in float64 without any reduction is
  // exact when (p - 1) * sum_{k <= deg} x^k < 2^53 for the largest x = m
  // (e.g. m <= 10 with t <= 7, m <= 20 with t <= 6). Then one reduction per value.
  let powSum = 0
  for (let k = 0, xp = 1; k <= deg; k++, xp *= m) powSum += xp
  const powerForm = deg <= 6 && (P - 1) * powSum < TWO53
  // Forward differences pay off once there are more holders than coefficients.
  const differences = deg >= 3 && deg <= 6 && m > t && forwardDifferenceSafe(m, deg)
  const schedules = powerForm || differences ? [] : hornerSchedules(m, deg)
  const coefs = new Uint32Array(deg * BLOCK)
  const acc = new Float64Array(BLOCK)
  for (let b0 = 0; b0 < n; b0 += BLOCK) {
    const len = Math.min(BLOCK, n - b0)
    // coefs[(k - 1) * BLOCK + i] = coefficient of x^k for coordinate b0 + i.
    randomFieldElements(rng, coefs)
    if (differences) {
      differenceBlock(coefs, deg, m, secret, b0, len, out)
      continue
    }
    for (let j = 0; j < m; j++) {
      const x = holderX(j)
      if (powerForm) powerBlock(coefs, deg, x, secret, b0, len, out[j]!)
      else hornerBlock(coefs, deg, x, schedules[j]!, secret, b0, len, out[j]!, acc)
    }
  }
  return out
}

const INV_TWO31 = 1 / 2147483648

/**
 * One holder, one block, in power form, unrolled per degree (V8 keeps the
 * coefficients' row offsets and the powers of x in registers). Exactness is the
 * caller's condition (p - 1) * sum x^k < 2^53. The Mersenne reduction is inlined.
 */
function powerBlock(c: Uint32Array, deg: number, x: number, s: Uint32Array, b0: number, len: number, o: Uint32Array): void {
  const x2 = x * x
  const x3 = x2 * x
  const x4 = x3 * x
  const x5 = x4 * x
  const x6 = x5 * x
  const B = BLOCK
  let v = 0
  let hi = 0
  let r = 0
  switch (deg) {
    case 1:
      for (let i = 0; i < len; i++) {
        v = s[b0 + i]! + c[i]! * x
        hi = Math.floor(v * INV_TWO31); r = v - hi * 2147483648 + hi; o[b0 + i] = r >= P ? r - P : r
      }
      return
    case 2:
      for (let i = 0; i < len; i++) {
        v = s[b0 + i]! + c[i]! * x + c[B + i]! * x2
        hi = Math.floor(v * INV_TWO31); r = v - hi * 2147483648 + hi; o[b0 + i] = r >= P ? r - P : r
      }
      return
    case 3:
      for (let i = 0; i < len; i++) {
        v = s[b0 + i]! + c[i]! * x + c[B + i]! * x2 + c[2 * B + i]! * x3
        hi = Math.floor(v * INV_TWO31); r = v - hi * 2147483648 + hi; o[b0 + i] = r >= P ? r - P : r
      }
      return
    case 4:
      for (let i = 0; i < len; i++) {
        v = s[b0 + i]! + c[i]! * x + c[B + i]! * x2 + c[2 * B + i]! * x3 + c[3 * B + i]! * x4
        hi = Math.floor(v * INV_TWO31); r = v - hi * 2147483648 + hi; o[b0 + i] = r >= P ? r - P : r
      }
      return
    case 5:
      for (let i = 0; i < len; i++) {
        v = s[b0 + i]! + c[i]! * x + c[B + i]! * x2 + c[2 * B + i]! * x3 + c[3 * B + i]! * x4 + c[4 * B + i]! * x5
        hi = Math.floor(v * INV_TWO31); r = v - hi * 2147483648 + hi; o[b0 + i] = r >= P ? r - P : r
      }
      return
    default: // 6
      for (let i = 0; i < len; i++) {
        v = s[b0 + i]! + c[i]! * x + c[B + i]! * x2 + c[2 * B + i]! * x3 + c[3 * B + i]! * x4 + c[4 * B + i]! * x5 + c[5 * B + i]! * x6
        hi = Math.floor(v * INV_TWO31); r = v - hi * 2147483648 + hi; o[b0 + i] = r >= P ? r - P : r
      }
  }
}

/**
 * All m holders of one block by forward differences (Knuth, TAOCP vol. 2, 4.6.4,
 * "tabulating polynomial values"): per coordinate, d_k = Delta^k f(1) is formed once
 * from the coefficients with the constant integers Delta^k x^d at x = 1, then each
 * next holder's value costs `deg` additions in registers (f(x + 1) = f(x) + Delta f(x),
 * and so on down the table). Unrolled per degree (3..6). All d_k stay nonnegative
 * and below the bound checked by `forwardDifferenceSafe`, so float64 is exact.
 * (Generated: d_k = sum_{d >= k} A[k][d] c_d, A[k][d] = sum_i (-1)^(k-i) C(k,i) (1+i)^d.)
 */
function differenceBlock(c: Uint32Array, deg: number, m: number, s: Uint32Array, b0: number, len: number, out: Uint32Array[]): void {
  const B = BLOCK
  let v = 0
  let hi = 0
  let r = 0
  switch (deg) {
    case 3:
      for (let i = 0; i < len; i++) {
        const c0 = s[b0 + i]!, c1 = c[i]!, c2 = c[B + i]!, c3 = c[2 * B + i]!
        let d0 = c0 + c1 + c2 + c3
        let d1 = c1 + 3 * c2 + 7 * c3
        let d2 = 2 * c2 + 12 * c3
        const d3 = 6 * c3
        for (let j = 0; j < m; j++) {
          v = d0; hi = Math.floor(v * INV_TWO31); r = v - hi * 2147483648 + hi; out[j]![b0 + i] = r >= P ? r - P : r
          d0 += d1; d1 += d2; d2 += d3
        }
      }
      return
    case 4:
      for (let i = 0; i < len; i++) {
        const c0 = s[b0 + i]!, c1 = c[i]!, c2 = c[B + i]!, c3 = c[2 * B + i]!, c4 = c[3 * B + i]!
        let d0 = c0 + c1 + c2 + c3 + c4
        let d1 = c1 + 3 * c2 + 7 * c3 + 15 * c4
        let d2 = 2 * c2 + 12 * c3 + 50 * c4
        let d3 = 6 * c3 + 60 * c4
        const d4 = 24 * c4
        for (let j = 0; j < m; j++) {
          v = d0; hi = Math.floor(v * INV_TWO31); r = v - hi * 2147483648 + hi; out[j]![b0 + i] = r >= P ? r - P : r
          d0 += d1; d1 += d2; d2 += d3; d3 += d4
        }
      }
      return
    case 5:
      for (let i = 0; i < len; i++) {
        const c0 = s[b0 + i]!, c1 = c[i]!, c2 = c[B + i]!, c3 = c[2 * B + i]!, c4 = c[3 * B + i]!, c5 = c[4 * B + i]!
        let d0 = c0 + c1 + c2 + c3 + c4 + c5
        let d1 = c1 + 3 * c2 + 7 * c3 + 15 * c4 + 31 * c5
        let d2 = 2 * c2 + 12 * c3 + 50 * c4 + 180 * c5
        let d3 = 6 * c3 + 60 * c4 + 390 * c5
        let d4 = 24 * c4 + 360 * c5
        const d5 = 120 * c5
        for (let j = 0; j < m; j++) {
          v = d0; hi = Math.floor(v * INV_TWO31); r = v - hi * 2147483648 + hi; out[j]![b0 + i] = r >= P ? r - P : r
          d0 += d1; d1 += d2; d2 += d3; d3 += d4; d4 += d5
        }
      }
      return
    case 6:
      for (let i = 0; i < len; i++) {
        const c0 = s[b0 + i]!, c1 = c[i]!, c2 = c[B + i]!, c3 = c[2 * B + i]!, c4 = c[3 * B + i]!, c5 = c[4 * B + i]!, c6 = c[5 * B + i]!
        let d0 = c0 + c1 + c2 + c3 + c4 + c5 + c6
        let d1 = c1 + 3 * c2 + 7 * c3 + 15 * c4 + 31 * c5 + 63 * c6
        let d2 = 2 * c2 + 12 * c3 + 50 * c4 + 180 * c5 + 602 * c6
        let d3 = 6 * c3 + 60 * c4 + 390 * c5 + 2100 * c6
        let d4 = 24 * c4 + 360 * c5 + 3360 * c6
        let d5 = 120 * c5 + 2520 * c6
        const d6 = 720 * c6
        for (let j = 0; j < m; j++) {
          v = d0; hi = Math.floor(v * INV_TWO31); r = v - hi * 2147483648 + hi; out[j]![b0 + i] = r >= P ? r - P : r
          d0 += d1; d1 += d2; d2 += d3; d3 += d4; d4 += d5; d5 += d6
        }
      }
      return
    default:
      throw new Error(`differenceBlock: degree ${deg} not unrolled`)
  }
}

/**
 * Exactness of differenceBlock for holders 1..m: every table entry is
 * Delta^k f(x) = f^(k)(xi) for some xi in [x, x + k] (mean value theorem for
 * differences), at most f^(k)(m + 1 + k) with all coefficients at p - 1.
 */
function forwardDifferenceSafe(m: number, deg: number): boolean {
  for (let k = 0; k <= deg; k++) {
    let bound = 0
    const y = m + 1 + k
    for (let d = k; d <= deg; d++) {
      let falling = 1
      for (let l = 0; l < k; l++) falling *= d - l
      bound += falling * y ** (d - k)
    }
    if ((P - 1) * bound >= TWO53) return false
  }
  return true
}

/**
 * Reduction schedule per holder for the general Horner path: sched[s] = 1 when
 * the running bound could pass 2^53 before step s (bound p - 1 after a reduction).
 */
function hornerSchedules(m: number, deg: number): Uint8Array[] {
  const schedules: Uint8Array[] = []
  for (let j = 0; j < m; j++) {
    const x = holderX(j)
    const sched = new Uint8Array(deg + 1)
    let bound = P - 1
    for (let s = 1; s <= deg; s++) {
      if (bound * x + (P - 1) >= TWO53) {
        sched[s] = 1
        bound = P - 1
      }
      bound = bound * x + (P - 1)
    }
    schedules.push(sched)
  }
  return schedules
}

/** General path: Horner's rule coefficient-major over the block, reductions as scheduled. */
function hornerBlock(c: Uint32Array, deg: number, x: number, sched: Uint8Array, s: Uint32Array, b0: number, len: number, o: Uint32Array, acc: Float64Array): void {
  const top = (deg - 1) * BLOCK
  for (let i = 0; i < len; i++) acc[i] = c[top + i]!
  for (let step = 1; step < deg; step++) {
    const off = (deg - step - 1) * BLOCK
    if (sched[step] === 1) {
      for (let i = 0; i < len; i++) acc[i] = reduce(acc[i]!) * x + c[off + i]!
    } else {
      for (let i = 0; i < len; i++) acc[i] = acc[i]! * x + c[off + i]!
    }
  }
  if (sched[deg] === 1) {
    for (let i = 0; i < len; i++) o[b0 + i] = reduce(reduce(acc[i]!) * x + s[b0 + i]!)
  } else {
    for (let i = 0; i < len; i++) o[b0 + i] = reduce(acc[i]! * x + s[b0 + i]!)
  }
}

/** Validate a set of shares: x values, equal lengths, Uint32Array payloads. Returns the length. */
export function assertShares(shares: readonly Share[], what = 'shares'): number {
  if (!Array.isArray(shares)) throw new ShareFormatError(`${what} must be an array`)
  if (shares.length === 0) throw new ShareFormatError(`${what} is empty`)
  const xs: number[] = []
  let n = -1
  for (const s of shares) {
    if (s === null || typeof s !== 'object' || !(s.y instanceof Uint32Array)) throw new ShareFormatError(`each of ${what} must be { x: number, y: Uint32Array }`)
    if (n < 0) n = s.y.length
    else if (s.y.length !== n) throw new ShareFormatError(`${what} have different lengths: ${n} vs ${s.y.length}`)
    xs.push(s.x)
  }
  assertEvaluationPoints(xs)
  return n
}

function assertThreshold(t: unknown): asserts t is number {
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_HOLDERS) throw new ShareParametersError(`threshold t must be an integer in [1, ${MAX_HOLDERS}], got ${show(t)}`)
}

/**
 * Reconstruct the secret from any t or more shares (Lagrange interpolation at 0).
 * Uses the first t shares given; it does not check the others. To check or
 * correct, use `checkConsistency` or `robustReconstruct`.
 */
export function reconstruct(shares: readonly Share[], t: number): Uint32Array {
  assertThreshold(t)
  const n = assertShares(shares)
  if (shares.length < t) throw new ShareFormatError(`need at least t = ${t} shares, got ${shares.length}`)
  const used = shares.slice(0, t)
  const w = lagrangeWeightsAtZero(used.map((s) => s.x))
  return combine(used.map((s) => s.y), w, n)
}

/**
 * out[i] = sum_j w[j] * ys[j][i] mod p, for field vectors ys and field weights w.
 *
 * Exact without BigInt: w = wh * 2^16 + wl with wl < 2^16, wh < 2^15, so each
 * product with y < 2^31 is below 2^47 and 32 of them sum below 2^52 in float64.
 * Holders outer, coordinates inner (each share vector is streamed once per block).
 */
export function linearCombination(ys: readonly Uint32Array[], w: Uint32Array): Uint32Array {
  if (!Array.isArray(ys) || ys.length === 0) throw new ShareFormatError('linearCombination needs a non-empty array of vectors')
  assertFieldVector(w, 'weights')
  if (w.length !== ys.length) throw new ShareFormatError(`${ys.length} vectors but ${w.length} weights`)
  const n = ys[0] instanceof Uint32Array ? ys[0].length : -1
  for (const y of ys) {
    if (!(y instanceof Uint32Array)) throw new ShareFormatError('vectors must be Uint32Arrays')
    if (y.length !== n) throw new ShareFormatError(`vector lengths differ: ${n} vs ${y.length}`)
  }
  return combine(ys, w, n)
}

/** linearCombination on validated input (field elements, equal lengths n). The loops are kernels.ts's. */
function combine(ys: readonly Uint32Array[], w: Uint32Array, n: number): Uint32Array {
  const out = new Uint32Array(n)
  const k = ys.length
  if (k === 2) {
    // t = 2 (the default threshold): one fused pass, the same field elements as the rows.
    if (combine2(out, ys[0]!, ys[1]!, w[0]!, w[1]!)) for (const y of ys) assertFieldVector(y, 'share y')
    return out
  }
  const lo = new Float64Array(BLOCK)
  const hi = new Float64Array(BLOCK)
  // Entries >= p are caught here, in the same pass, instead of a separate scan.
  let bad = false
  for (let b0 = 0; b0 < n; b0 += BLOCK) {
    const len = Math.min(BLOCK, n - b0)
    for (let j = 0; j < k; j++) {
      if (j > 0 && j % 32 === 0) reduceRows(lo, hi, len)
      const wj = w[j]!
      const wl = wj & 0xffff
      const wh = wj >>> 16
      if (j === 0 ? mulRows(ys[j]!, b0, len, wl, wh, lo, hi) : madRows(ys[j]!, b0, len, wl, wh, lo, hi)) bad = true
    }
    if (bad) break
    joinRows(out, b0, len, lo, hi)
  }
  if (bad) {
    for (const y of ys) assertFieldVector(y, 'share y') // names the offending entry
  }
  return out
}
