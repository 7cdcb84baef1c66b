/**
 * Radix-2 complex FFT on Float64Array (re, im) pairs, in place, and its 2-D form
 * on square power-of-two grids. Iterative Cooley-Tukey with bit-reversal
 * permutation (Cormen et al., "Introduction to Algorithms", 3rd ed., Sec. 30.3).
 * Pure: runs in Node and in the browser. Used by the scattering transform.
 */
import { InvalidParametersError } from '../../util/errors.ts'

/** Largest transform length accepted (per axis). */
export const MAX_FFT_SIZE = 1 << 12

export interface FftPlan {
  readonly n: number
  readonly rev: Uint32Array
  readonly cos: Float64Array
  readonly sin: Float64Array
}

/** Precomputed bit reversal and twiddles for length n (a power of two, 1 <= n <= MAX_FFT_SIZE). */
export function fftPlan(n: number): FftPlan {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_FFT_SIZE || (n & (n - 1)) !== 0) {
    throw new InvalidParametersError(`FFT length must be a power of two in [1, ${MAX_FFT_SIZE}], got ${String(n)}`)
  }
  const bits = Math.round(Math.log2(n))
  const rev = new Uint32Array(n)
  for (let i = 0; i < n; i++) {
    let r = 0
    for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b)
    rev[i] = r
  }
  const cos = new Float64Array(n / 2 || 1)
  const sin = new Float64Array(n / 2 || 1)
  for (let k = 0; k < n / 2; k++) { cos[k] = Math.cos(2 * Math.PI * k / n); sin[k] = Math.sin(2 * Math.PI * k / n) }
  return { n, rev, cos, sin }
}

/**
 * In-place FFT of the n values re[off + k*stride], im[off + k*stride], k < n.
 * inverse = true computes the inverse transform including the 1/n factor.
 */
export function fft1d(plan: FftPlan, re: Float64Array, im: Float64Array, off = 0, stride = 1, inverse = false): void {
  const n = plan.n
  const { rev, cos, sin } = plan
  for (let i = 0; i < n; i++) {
    const j = rev[i]!
    if (j > i) {
      const a = off + i * stride
      const b = off + j * stride
      let t = re[a]!; re[a] = re[b]!; re[b] = t
      t = im[a]!; im[a] = im[b]!; im[b] = t
    }
  }
  const sign = inverse ? 1 : -1
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >> 1
    const step = n / size
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = cos[k * step]!
        const wi = sign * sin[k * step]!
        const a = off + (start + k) * stride
        const b = a + half * stride
        const xr = re[b]! * wr - im[b]! * wi
        const xi = re[b]! * wi + im[b]! * wr
        re[b] = re[a]! - xr; im[b] = im[a]! - xi
        re[a] = re[a]! + xr; im[a] = im[a]! + xi
      }
    }
  }
  if (inverse) {
    for (let k = 0; k < n; k++) { const a = off + k * stride; re[a] = re[a]! / n; im[a] = im[a]! / n }
  }
}

/** In-place 2-D FFT of an n x n row-major grid (rows, then columns). */
export function fft2d(plan: FftPlan, re: Float64Array, im: Float64Array, inverse = false): void {
  const n = plan.n
  if (re.length !== n * n || im.length !== n * n) throw new InvalidParametersError(`fft2d needs ${n}x${n} = ${n * n} values, got ${re.length} and ${im.length}`)
  for (let r = 0; r < n; r++) fft1d(plan, re, im, r * n, 1, inverse)
  for (let c = 0; c < n; c++) fft1d(plan, re, im, c, n, inverse)
}
