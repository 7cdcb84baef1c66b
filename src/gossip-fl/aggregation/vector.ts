/**
 * Small vector maths over Float32Array shared by the aggregation rules and the
 * attack library.
 *
 * Determinism contract (see docs/architecture/aggregation.md): every reduction
 * accumulates in float64 in ascending index order, and only +, -, *, / and
 * Math.sqrt are used. IEEE 754 requires these to be correctly rounded, so every
 * conforming JavaScript engine (Node, browsers) produces the same bits. Results
 * are rounded to float32 once, when stored.
 */
import { AggregationInputError } from './errors.ts'
import { InvalidParametersError } from '../../util/errors.ts'

/** Upper bound on the number of vectors a rule accepts (Krum is O(n^2 d)). */
export const MAX_INPUTS = 65536

/**
 * Validate a list of input vectors: a non-empty array of at most MAX_INPUTS
 * Float32Arrays, all of the same non-zero length, with finite entries only
 * (unless `skipFinite`, for kernels that check entries while they copy them).
 * Returns n (count) and d (dimension).
 */
export function checkInputs(inputs: readonly Float32Array[], what = 'inputs', opts: { skipFinite?: boolean } = {}): { n: number, d: number } {
  if (!Array.isArray(inputs)) throw new AggregationInputError(`${what} must be an array of Float32Array`)
  const n = inputs.length
  if (n === 0) throw new AggregationInputError(`${what} is empty`)
  if (n > MAX_INPUTS) throw new AggregationInputError(`${what} has ${n} vectors, more than ${MAX_INPUTS}`)
  const first = inputs[0]
  if (!(first instanceof Float32Array)) throw new AggregationInputError(`${what}[0] is not a Float32Array`)
  const d = first.length
  if (d === 0) throw new AggregationInputError(`${what}[0] has length 0`)
  for (let i = 0; i < n; i++) {
    const v = inputs[i]
    if (!(v instanceof Float32Array)) throw new AggregationInputError(`${what}[${i}] is not a Float32Array`)
    if (v.length !== d) throw new AggregationInputError(`${what}[${i}] has length ${v.length}, expected ${d}`)
    // skipFinite: the caller checks finiteness itself, fused into a later pass.
    if (opts.skipFinite !== true) checkFinite(v, `${what}[${i}]`)
  }
  return { n, d }
}

/** Throw AggregationInputError if `v` has a NaN or infinite entry. */
export function checkFinite(v: Float32Array, what: string): void {
  for (let j = 0; j < v.length; j++) {
    const x = v[j]
    // x - x is 0 for finite x and NaN for NaN/±Infinity: one test for both.
    if (x - x !== 0) throw new AggregationInputError(`${what}[${j}] is not finite (${x})`)
  }
}

/** Squared Euclidean norm, accumulated in float64 in index order. */
export function l2NormSquared(v: Float32Array): number {
  let s = 0
  for (let j = 0; j < v.length; j++) {
    const x = v[j]
    s += x * x
  }
  return s
}

/** Euclidean norm. */
export function l2Norm(v: Float32Array): number {
  return Math.sqrt(l2NormSquared(v))
}

/** Inner product <a, b>, accumulated in float64 in index order. */
export function dot(a: Float32Array, b: Float32Array): number {
  sameLength(a, b)
  let s = 0
  for (let j = 0; j < a.length; j++) s += a[j] * b[j]
  return s
}

/** Squared Euclidean distance ||a - b||^2 (float64, index order). */
export function squaredDistance(a: Float32Array, b: Float32Array): number {
  sameLength(a, b)
  let s = 0
  for (let j = 0; j < a.length; j++) {
    const t = a[j] - b[j]
    s += t * t
  }
  return s
}

/** Euclidean distance ||a - b||. */
export function distance(a: Float32Array, b: Float32Array): number {
  return Math.sqrt(squaredDistance(a, b))
}

/** A new vector `factor * v` (float64 product, rounded once to float32). */
export function scale(v: Float32Array, factor: number): Float32Array {
  const out = new Float32Array(v.length)
  for (let j = 0; j < v.length; j++) out[j] = v[j] * factor
  return out
}

/**
 * Clip `v` to Euclidean norm at most `c`: returns a copy of v if ||v|| <= c,
 * otherwise v * c/||v||. Rounding to float32 can push the norm a few ulps above
 * c, and Tessera's norm check refuses anything over C, so the factor is shrunk
 * until the stored vector's norm (computed as l2Norm does) is <= c.
 */
export function clipToNorm(v: Float32Array, c: number): Float32Array {
  checkBudget(c)
  const norm = l2Norm(v)
  if (norm <= c) return v.slice()
  return rescaleWithin(v, c / norm, c)
}

/**
 * Rescale `v` to Euclidean norm exactly `c` (to float32 precision, never above c):
 * the "use the whole norm budget" option of the attacks. A zero vector has no
 * direction and is returned unchanged.
 */
export function scaleToNorm(v: Float32Array, c: number): Float32Array {
  checkBudget(c)
  const norm = l2Norm(v)
  if (norm === 0) return v.slice()
  return rescaleWithin(v, c / norm, c)
}

function rescaleWithin(v: Float32Array, factor: number, c: number): Float32Array {
  let f = factor
  // Each pass lowers the factor by ~2^-23 relative (one float32 ulp); a handful of
  // passes always suffices because the rounding excess is a few ulps at most.
  for (let pass = 0; pass < 64; pass++) {
    const out = scale(v, f)
    if (l2Norm(out) <= c) return out
    f *= 1 - 1 / 8388608
  }
  throw new AggregationInputError('could not rescale the vector under the norm bound (degenerate input)')
}

function checkBudget(c: number): void {
  if (typeof c !== 'number' || !Number.isFinite(c) || c < 0) {
    throw new InvalidParametersError(`norm bound must be a finite number >= 0, got ${String(c)}`)
  }
}

/** Coordinate-wise arithmetic mean of the vectors (float64 sums in input order). */
export function meanOf(inputs: readonly Float32Array[]): Float32Array {
  const { n, d } = checkInputs(inputs)
  const acc = new Float64Array(d)
  for (let i = 0; i < n; i++) {
    const v = inputs[i]
    for (let j = 0; j < d; j++) acc[j] += v[j]
  }
  const out = new Float32Array(d)
  for (let j = 0; j < d; j++) out[j] = acc[j] / n
  return out
}

function sameLength(a: Float32Array, b: Float32Array): void {
  if (a.length !== b.length) throw new AggregationInputError(`vector lengths differ: ${a.length} vs ${b.length}`)
}
