/**
 * Fixed-point encoding of real vectors into F_p (p = 2^31 - 1), and the choice of
 * scale that keeps sums and squared norms exact.
 *
 * A real x_i becomes the integer q_i = round(S * x_i), stored as q_i mod p; decoding
 * is centered: field values above (p - 1) / 2 are negative. With rounding error
 * |q_i - S x_i| <= r (r = 1 stochastic, r = 1/2 nearest), for one vector with
 * ||x||_2 <= B in dimension d:
 *   |q_i|   <= S B + r                    =: maxCoord  (floor of it)
 *   ||q||_2 <= S B + r sqrt(d)            (triangle inequality, ||e||_2 <= r sqrt(d))
 * Exactness needs
 *   (1) ||q||^2 <= (S B + r sqrt(d))^2 <= (p - 1) / h   (the norm check reads ||q||^2 mod p)
 *   (2) N * maxCoord <= (p - 1) / 2                      (a sum of N vectors decodes centered)
 * where h >= 1 is the norm check's headroom: with h = 4 (the default) an update up
 * to twice the bound still has ||q||^2 < p and is refused deterministically instead
 * of wrapping to a random value. `maxSafeScale` returns the largest S meeting both.
 * Example: B = 1, d = 10^6, N = 10^4, stochastic, h = 4: S = sqrt((p - 1) / 4) - 1000
 * = 22,170.5...; every coordinate of a sum of 10^4 is below 10^4 * 22,171 < 2.3e8
 * < (p - 1) / 2 ~ 1.07e9.
 */
import type { Rng } from '../util/rng.ts'
import { P, HALF } from './field.ts'
import { FieldOverflowError, FixedPointParametersError, ShareFormatError, show } from './errors.ts'

export type Rounding = 'stochastic' | 'nearest'

/** Largest rounding error per coordinate. */
function roundingError(rounding: Rounding): number {
  return rounding === 'stochastic' ? 1 : 0.5
}

export interface ScaleRequest {
  /** B: bound on the L2 norm of any one vector that will be encoded. */
  normBound: number
  /** N: largest number of encoded vectors ever summed before decoding. */
  maxSummands: number
  /** d: vector length (the rounding errors add up to r * sqrt(d) in norm). */
  dim: number
  rounding: Rounding
  /**
   * h >= 1: honest squared norms stay below (p - 1) / h. Default 4, so that an
   * update up to sqrt(h) = 2 times the bound is caught exactly by the norm check.
   */
  headroom?: number
}

/** Default headroom of the norm check (see ScaleRequest.headroom). */
export const DEFAULT_HEADROOM = 4

function headroomOf(req: ScaleRequest): number {
  return req.headroom ?? DEFAULT_HEADROOM
}

function assertRequest(req: ScaleRequest): void {
  if (req === null || typeof req !== 'object') throw new FixedPointParametersError('scale request must be an object')
  const { normBound, maxSummands, dim, rounding } = req
  if (typeof normBound !== 'number' || !Number.isFinite(normBound) || normBound <= 0) throw new FixedPointParametersError(`normBound must be a finite number > 0, got ${show(normBound)}`)
  if (!Number.isSafeInteger(maxSummands) || maxSummands < 1) throw new FixedPointParametersError(`maxSummands must be an integer >= 1, got ${show(maxSummands)}`)
  if (!Number.isSafeInteger(dim) || dim < 1) throw new FixedPointParametersError(`dim must be an integer >= 1, got ${show(dim)}`)
  if (rounding !== 'stochastic' && rounding !== 'nearest') throw new FixedPointParametersError(`rounding must be 'stochastic' or 'nearest', got ${show(rounding)}`)
  const h = req.headroom
  if (h !== undefined && (typeof h !== 'number' || !Number.isFinite(h) || h < 1)) throw new FixedPointParametersError(`headroom must be a finite number >= 1, got ${show(h)}`)
}

/** Bounds implied by a scale: per-coordinate |q_i| and ||q||^2 of one encoded vector. */
export function encodedBounds(scale: number, req: ScaleRequest): { maxCoord: number, maxSquaredNorm: number } {
  const r = roundingError(req.rounding)
  const sb = scale * req.normBound
  const maxCoord = Math.floor(sb + r)
  // Upper bound, rounded up with a relative margin for float error in sqrt/multiply.
  const byNorm = Math.ceil((sb + r * Math.sqrt(req.dim)) ** 2 * (1 + 1e-12))
  const byCoord = req.dim * maxCoord * maxCoord
  return { maxCoord, maxSquaredNorm: Math.min(byNorm, byCoord) }
}

function fits(scale: number, req: ScaleRequest): boolean {
  const { maxCoord, maxSquaredNorm } = encodedBounds(scale, req)
  return maxSquaredNorm <= (P - 1) / headroomOf(req) && req.maxSummands * maxCoord <= HALF
}

/**
 * The largest scale S for which one encoded vector has ||q||^2 <= (p - 1) / h and a sum of
 * maxSummands encoded vectors decodes exactly (see the module comment). Throws
 * FixedPointParametersError when no scale leaves even one unit of resolution
 * (S * B >= 1), e.g. d so large that rounding noise alone fills the field.
 */
export function maxSafeScale(req: ScaleRequest): number {
  assertRequest(req)
  const r = roundingError(req.rounding)
  const byNorm = (Math.sqrt((P - 1) / headroomOf(req)) - r * Math.sqrt(req.dim)) / req.normBound
  const bySum = (Math.floor(HALF / req.maxSummands) - r) / req.normBound
  let s = Math.min(byNorm, bySum)
  // Step down past float rounding until the integer bounds provably hold.
  for (let k = 0; k < 64 && s > 0 && !fits(s, req); k++) s *= 1 - 2 ** -40 * 2 ** k
  if (!(s > 0) || s * req.normBound < 1 || !fits(s, req)) {
    throw new FixedPointParametersError(`no fixed-point scale fits normBound = ${req.normBound}, maxSummands = ${req.maxSummands}, dim = ${req.dim}, ${req.rounding} rounding in p = 2^31 - 1 (need S * B >= 1 with (S B + r sqrt(d))^2 <= (p - 1) / headroom and N (S B + r) <= (p - 1) / 2)`)
  }
  return s
}

export interface EncodeOptions {
  rounding: Rounding
  /** Required for stochastic rounding. */
  rng?: Rng
  /** Largest |q_i| accepted (default (p - 1) / 2); larger throws FieldOverflowError. */
  maxAbs?: number
}

const TWO_M32 = 2 ** -32
const RAND_BLOCK = 4096

function assertScale(scale: unknown): asserts scale is number {
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) throw new FixedPointParametersError(`scale must be a finite number > 0, got ${show(scale)}`)
}

/**
 * q_i = round(scale * x_i) as field elements. Stochastic rounding rounds up with
 * probability equal to the fractional part, drawn from 32 random bits: E[q_i] =
 * scale * x_i up to a bias below 2^-32 (unbiased quantization as in QSGD, Alistarh
 * et al., NeurIPS 2017). Non-finite inputs or |q_i| > maxAbs throw FieldOverflowError.
 */
export function encodeFixedPoint(x: Float32Array | Float64Array, scale: number, opts: EncodeOptions): Uint32Array {
  if (!(x instanceof Float32Array) && !(x instanceof Float64Array)) throw new ShareFormatError('input must be a Float32Array or Float64Array')
  assertScale(scale)
  if (opts === null || typeof opts !== 'object') throw new FixedPointParametersError('encode options must be an object')
  const maxAbs = opts.maxAbs ?? HALF
  if (typeof maxAbs !== 'number' || !(maxAbs >= 0) || maxAbs > HALF) throw new FixedPointParametersError(`maxAbs must be in [0, (p - 1) / 2], got ${show(maxAbs)}`)
  const n = x.length
  const q = new Uint32Array(n)
  if (opts.rounding === 'nearest') {
    for (let i = 0; i < n; i++) {
      const v = Math.round(x[i]! * scale)
      if (!(Math.abs(v) <= maxAbs)) throw overflow(x[i]!, i, scale, maxAbs)
      q[i] = v < 0 ? v + P : v
    }
    return q
  }
  if (opts.rounding !== 'stochastic') throw new FixedPointParametersError(`rounding must be 'stochastic' or 'nearest', got ${show(opts.rounding)}`)
  const rng = opts.rng
  if (rng === undefined || typeof rng.fillU32 !== 'function') throw new FixedPointParametersError('stochastic rounding needs an rng')
  const u = new Uint32Array(Math.min(RAND_BLOCK, n))
  for (let b0 = 0; b0 < n; b0 += RAND_BLOCK) {
    const len = Math.min(RAND_BLOCK, n - b0)
    rng.fillU32(len === u.length ? u : u.subarray(0, len))
    for (let k = 0; k < len; k++) {
      const i = b0 + k
      const sv = x[i]! * scale
      const f = Math.floor(sv)
      const v = u[k]! * TWO_M32 < sv - f ? f + 1 : f
      if (!(Math.abs(v) <= maxAbs)) throw overflow(x[i]!, i, scale, maxAbs)
      q[i] = v < 0 ? v + P : v
    }
  }
  return q
}

function overflow(value: number, i: number, scale: number, maxAbs: number): FieldOverflowError {
  if (!Number.isFinite(value)) return new FieldOverflowError(`input[${i}] = ${value} is not finite`)
  return new FieldOverflowError(`input[${i}] = ${value} at scale ${scale} exceeds ${maxAbs} in magnitude`)
}

/**
 * Centered decoding: field value v means v if v <= (p - 1) / 2, else v - p; the
 * result is divided by scale. When maxAbs is given, |value| > maxAbs throws
 * FieldOverflowError (a wrapped sum or a hostile vector, never a silent wrap).
 */
export function decodeFixedPoint(q: Uint32Array, scale: number, maxAbs: number = HALF): Float32Array {
  if (!(q instanceof Uint32Array)) throw new ShareFormatError('encoded vector must be a Uint32Array')
  assertScale(scale)
  const out = new Float32Array(q.length)
  const inv = 1 / scale
  for (let i = 0; i < q.length; i++) {
    const w = q[i]!
    if (w >= P) throw new FieldOverflowError(`encoded[${i}] = ${w} is not a field element`)
    const v = w > HALF ? w - P : w
    if (v > maxAbs || v < -maxAbs) throw new FieldOverflowError(`encoded[${i}] decodes to ${v}, beyond the bound ${maxAbs}: the sum overflowed or a summand was out of range`)
    out[i] = v * inv
  }
  return out
}

/**
 * The exact squared L2 norm of the centered integers behind q, as a number; stops
 * (returning Infinity) once it passes `cap` so it stays exact and cheap.
 */
export function encodedSquaredNorm(q: Uint32Array, cap: number = Number.MAX_SAFE_INTEGER): number {
  let s = 0
  for (let i = 0; i < q.length; i++) {
    const w = q[i]!
    const v = w > HALF ? w - P : w
    s += v * v
    if (s > cap) return Infinity
  }
  return s
}

/** A codec with a fixed scale and the bounds that make it exact. */
export interface FixedPoint {
  readonly scale: number
  readonly rounding: Rounding
  readonly normBound: number
  readonly dim: number
  readonly maxSummands: number
  /** Bound on |q_i| of one honestly encoded vector. */
  readonly maxCoord: number
  readonly headroom: number
  /** Bound on ||q||^2 of one honestly encoded vector, <= (p - 1) / headroom: the norm check's threshold. */
  readonly maxSquaredNorm: number
  /** Encode one vector (length dim); throws FieldOverflowError if it leaves the bounds. */
  encode(x: Float32Array | Float64Array, rng?: Rng): Uint32Array
  /** Decode a sum of `summands` encoded vectors (default 1), checking the range. */
  decode(q: Uint32Array, summands?: number): Float32Array
}

export interface FixedPointSpec extends ScaleRequest {
  /** Default: maxSafeScale(spec). A larger scale than that is refused. */
  scale?: number
}

/** Defaults, merge, validate (House style 7): build a codec for the given bounds. */
export function fixedPoint(spec: FixedPointSpec): FixedPoint {
  assertRequest(spec)
  const req: ScaleRequest = { normBound: spec.normBound, maxSummands: spec.maxSummands, dim: spec.dim, rounding: spec.rounding, headroom: headroomOf(spec) }
  let scale: number
  if (spec.scale === undefined) {
    scale = maxSafeScale(req)
  } else {
    assertScale(spec.scale)
    scale = spec.scale
    if (!fits(scale, req)) throw new FixedPointParametersError(`scale ${scale} is above the safe maximum for these bounds (see maxSafeScale)`)
  }
  const { maxCoord, maxSquaredNorm } = encodedBounds(scale, req)
  return Object.freeze({
    scale,
    rounding: req.rounding,
    normBound: req.normBound,
    dim: req.dim,
    maxSummands: req.maxSummands,
    headroom: headroomOf(req),
    maxCoord,
    maxSquaredNorm,
    encode(x: Float32Array | Float64Array, rng?: Rng): Uint32Array {
      if (!(x instanceof Float32Array) && !(x instanceof Float64Array)) throw new ShareFormatError('input must be a Float32Array or Float64Array')
      if (x.length !== req.dim) throw new ShareFormatError(`input length ${x.length} differs from dim ${req.dim}`)
      const q = encodeFixedPoint(x, scale, { rounding: req.rounding, rng, maxAbs: maxCoord })
      if (encodedSquaredNorm(q, maxSquaredNorm) > maxSquaredNorm) {
        throw new FieldOverflowError(`encoded squared norm exceeds ${maxSquaredNorm}: the input's L2 norm is above normBound = ${req.normBound}`)
      }
      return q
    },
    decode(q: Uint32Array, summands: number = 1): Float32Array {
      if (!Number.isSafeInteger(summands) || summands < 1 || summands > req.maxSummands) throw new FieldOverflowError(`summands must be an integer in [1, ${req.maxSummands}], got ${show(summands)}`)
      if (!(q instanceof Uint32Array) || q.length !== req.dim) throw new ShareFormatError(`encoded vector must be a Uint32Array of length ${req.dim}`)
      return decodeFixedPoint(q, scale, summands * maxCoord)
    },
  })
}
