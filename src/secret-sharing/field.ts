/**
 * Arithmetic in the prime field F_p with p = 2^31 - 1 (a Mersenne prime), on plain
 * numbers and on Uint32Array vectors.
 *
 * Why this prime (docs/architecture/secret-sharing.md has the full argument):
 * - every element fits a Uint32Array slot, and sums of two elements (< 2^32) stay
 *   exact in 32-bit unsigned arithmetic;
 * - 2^31 = 1 (mod p), so reducing any integer v < 2^53 is one split and one add:
 *   v = hi * 2^31 + lo  =>  v = hi + lo (mod p)   (Mersenne reduction);
 * - products of an element (< 2^31) with a 16-bit number stay below 2^47, so
 *   they can be accumulated exactly in float64 for a while before reducing.
 * - it leaves room for exact squared norms up to p - 1 ~ 2.1e9 (norm check) and
 *   exact sums of 10^4 updates (see fixed-point.ts).
 */
import type { Rng } from '../util/rng.ts'
import { FieldElementError, ShareFormatError, show } from './errors.ts'

/** The field modulus, 2^31 - 1. */
export const P = 2147483647
/** (p - 1) / 2: centered decoding maps [0, HALF] to itself and (HALF, p) to negatives. */
export const HALF = 1073741823

const TWO31 = 2147483648
const INV_TWO31 = 1 / TWO31
const TWO15 = 32768
const INV_TWO15 = 1 / TWO15

/** x mod p for an integer 0 <= x < 2^53 (Mersenne reduction, exact in float64). */
export function reduce(x: number): number {
  const hi = Math.floor(x * INV_TWO31) // < 2^22
  const r = x - hi * TWO31 + hi // < 2^31 + 2^22 < 2p
  return r >= P ? r - P : r
}

export function add(a: number, b: number): number {
  const s = a + b
  return s >= P ? s - P : s
}

export function sub(a: number, b: number): number {
  const s = a - b
  return s < 0 ? s + P : s
}

export function neg(a: number): number {
  return a === 0 ? 0 : P - a
}

/**
 * a * b mod p for field elements a, b (< 2^31), without BigInt: split b into 16-bit
 * halves; a * b_hi * 2^16 is folded with 2^31 = 1, every partial term stays < 2^53.
 */
export function mul(a: number, b: number): number {
  const bl = b & 0xffff
  const bh = b >>> 16 // < 2^15
  const u = a * bh // < 2^46
  const uh = Math.floor(u * INV_TWO15) // < 2^31
  const ul = u - uh * TWO15 // < 2^15
  // u * 2^16 = uh * 2^31 + ul * 2^16 = uh + ul * 2^16 (mod p)
  return reduce(uh + ul * 65536 + a * bl)
}

/** a^e mod p by square and multiply (e a non-negative safe integer). */
export function pow(a: number, e: number): number {
  let result = 1
  let base = a
  let k = e
  while (k > 0) {
    if (k % 2 === 1) result = mul(result, base)
    base = mul(base, base)
    k = Math.floor(k / 2)
  }
  return result
}

/**
 * Multiplicative inverse by the extended Euclidean algorithm. The Bezout
 * coefficients satisfy |s_i| <= p and |q_i * s_i| <= p (Knuth, TAOCP vol. 2,
 * 4.5.2), so every intermediate value is an exact float64 integer.
 */
export function inv(a: number): number {
  if (a === 0) throw new FieldElementError('0 has no inverse in F_p')
  let r0 = P
  let r1 = a
  let s0 = 0
  let s1 = 1
  while (r1 !== 0) {
    const q = Math.floor(r0 / r1)
    const r2 = r0 - q * r1
    r0 = r1
    r1 = r2
    const s2 = s0 - q * s1
    s0 = s1
    s1 = s2
  }
  // r0 = gcd(p, a) = 1 and s0 * a = 1 (mod p)
  return s0 < 0 ? s0 + P : s0
}

/** True when v is an integer in [0, p). */
export function isFieldElement(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < P
}

export function assertFieldElement(v: unknown, what: string): number {
  if (!isFieldElement(v)) throw new FieldElementError(`${what} must be an integer in [0, p), got ${show(v)}`)
  return v
}

/** Throws FieldElementError unless `v` is a Uint32Array whose entries are all < p. */
export function assertFieldVector(v: unknown, what: string): Uint32Array {
  if (!(v instanceof Uint32Array)) throw new ShareFormatError(`${what} must be a Uint32Array`)
  const i = firstNonField(v)
  if (i >= 0) throw new FieldElementError(`${what}[${i}] = ${v[i]} is not a field element (>= p)`)
  return v
}

/**
 * Index of the first entry >= p, or -1. The scan is its own small function (issue #4): V8
 * optimizes it once for every caller, instead of compiling each caller's copy of the loop
 * on stack replacement mid-vector (see kernels.ts).
 */
export function firstNonField(v: Uint32Array): number {
  for (let i = 0; i < v.length; i++) if (v[i]! >= P) return i
  return -1
}

/**
 * Fill `out` with independent uniform field elements: 31 random bits per word,
 * rejecting the single value 2^31 - 1 = p (probability 2^-31 per word), so the
 * result is exactly uniform on [0, p).
 */
export function randomFieldElements(rng: Rng, out: Uint32Array): Uint32Array {
  rng.fillU32(out)
  for (let i = 0; i < out.length; i++) {
    let w = out[i]! >>> 1
    while (w === P) w = rng.nextU32() >>> 1
    out[i] = w
  }
  return out
}

/** One uniform field element. */
export function randomFieldElement(rng: Rng): number {
  let w = rng.nextU32() >>> 1
  while (w === P) w = rng.nextU32() >>> 1
  return w
}

function assertSameLength(a: Uint32Array, b: Uint32Array): void {
  if (!(a instanceof Uint32Array) || !(b instanceof Uint32Array)) throw new ShareFormatError('field vectors must be Uint32Arrays')
  if (a.length !== b.length) throw new ShareFormatError(`vector lengths differ: ${a.length} vs ${b.length}`)
}

/**
 * acc += v (mod p), in place; returns acc. An entry >= p in either throws
 * FieldElementError (acc is then partly updated).
 */
export function addInto(acc: Uint32Array, v: Uint32Array): Uint32Array {
  assertSameLength(acc, v)
  for (let i = 0; i < acc.length; i++) {
    const a = acc[i]!
    const b = v[i]!
    if (a >= P || b >= P) throw new FieldElementError(`entry ${i} is not a field element (${a}, ${b})`)
    const s = a + b
    acc[i] = s >= P ? s - P : s
  }
  return acc
}

/** acc -= v (mod p), in place; returns acc. Entries >= p throw as in addInto. */
export function subInto(acc: Uint32Array, v: Uint32Array): Uint32Array {
  assertSameLength(acc, v)
  for (let i = 0; i < acc.length; i++) {
    const a = acc[i]!
    const b = v[i]!
    if (a >= P || b >= P) throw new FieldElementError(`entry ${i} is not a field element (${a}, ${b})`)
    const s = a - b
    acc[i] = s < 0 ? s + P : s
  }
  return acc
}

/** The coordinate-wise sum mod p of equally long field vectors (at least one). */
export function sumVectors(vs: readonly Uint32Array[]): Uint32Array {
  if (!Array.isArray(vs) || vs.length === 0) throw new ShareFormatError('sumVectors needs a non-empty array of vectors')
  const acc = Uint32Array.from(assertFieldVector(vs[0], 'vector'))
  for (let j = 1; j < vs.length; j++) addInto(acc, vs[j]!)
  return acc
}

/** The field element representing a signed integer |q| <= HALF. */
export function fromSigned(q: number): number {
  return q < 0 ? q + P : q
}

/** Centered (signed) reading of a field element: [0, HALF] -> itself, (HALF, p) -> v - p. */
export function toSigned(v: number): number {
  return v > HALF ? v - P : v
}
