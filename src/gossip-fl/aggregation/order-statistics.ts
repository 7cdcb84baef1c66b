/**
 * Blocked kernels for coordinate-wise order statistics, shared by the median and
 * the trimmed mean: copy a block of B coordinates of every input into an n x B
 * scratch matrix, sort its columns with a (pruned, fused) sorting network, then
 * reduce rows lo..hi. See network.ts for why this beats sorting each coordinate.
 *
 * The scratch holds each float32 as an order-preserving key: with b the float's
 * bits read as int32, k = b ^ ((b >> 31) & 0x7fffffff) keeps positive floats as
 * they are and reverses the order of negative ones, so signed integer order
 * equals float order for all finite values, with -0 just below +0 (one total
 * order: any correct network gives the same bits). The scratch stores k · 2^-32
 * as float64 (exact), which the branch-free compare-exchange of network.ts
 * needs; the key map is its own inverse.
 */
import { AggregationInputError } from './errors.ts'
import { applyNetworkToColumns, selectionSchedule } from './network.ts'

/** Coordinates per block: 21 rows x 2048 x 8 bytes = 344 KB of scratch, fits L2; measured best. */
export const BLOCK = 2048

/** Scratch budget in float64 entries (21 x 2048); fewer coordinates per block for larger n. */
const SCRATCH = 21 * BLOCK

/**
 * Above this many inputs the networks get large (Batcher's has ~n log²n / 4
 * comparators) and each column is sorted with TypedArray sort instead, which
 * orders -0 before +0 like the keys, so results are identical either way.
 */
export const NETWORK_MAX_N = 256

const INV_2_32 = 1 / 4294967296
const TWO_32 = 4294967296

/**
 * For every coordinate j, with s_0 <= ... <= s_{n-1} the sorted values of
 * inputs[*][j], hand s_lo..s_hi to `reduce` as `rows`, a float32 matrix whose
 * row r - lo holds s_r for columns 0..width-1 (row stride `stride`), for the
 * output coordinates outOffset..outOffset+width-1. Throws AggregationInputError
 * on a non-finite entry (callers check shapes with checkInputs(inputs, 'inputs',
 * { skipFinite: true }): the check is fused into the copy here).
 */
export function forEachSortedBlock(
  inputs: readonly Float32Array[],
  lo: number,
  hi: number,
  reduce: (rows: Float32Array, stride: number, width: number, outOffset: number) => void
): void {
  const n = inputs.length
  const d = inputs[0].length
  if (n > NETWORK_MAX_N) {
    sortColumns(inputs, lo, hi, reduce)
    return
  }
  const ops = selectionSchedule(n, lo, hi)
  const stride = Math.min(BLOCK, d, Math.max(16, Math.floor(SCRATCH / n)))
  const keys = new Float64Array(n * stride)
  const rows = new Float32Array((hi - lo + 1) * stride)
  const rowBits = new Int32Array(rows.buffer)
  const bits = inputs.map((x) => new Int32Array(x.buffer, x.byteOffset, x.length))
  for (let j0 = 0; j0 < d; j0 += stride) {
    const width = Math.min(stride, d - j0)
    for (let i = 0; i < n; i++) {
      const src = bits[i]
      const row = i * stride
      for (let j = 0; j < width; j++) {
        const b = src[j0 + j]
        // All exponent bits set: NaN or ±Infinity.
        if ((b & 0x7f800000) === 0x7f800000) throw new AggregationInputError(`inputs[${i}][${j0 + j}] is not finite`)
        keys[row + j] = (b ^ ((b >> 31) & 0x7fffffff)) * INV_2_32
      }
    }
    applyNetworkToColumns(keys, stride, width, ops)
    for (let r = lo; r <= hi; r++) {
      const from = r * stride
      const to = (r - lo) * stride
      for (let j = 0; j < width; j++) {
        const k = keys[from + j] * TWO_32
        rowBits[to + j] = k ^ ((k >> 31) & 0x7fffffff)
      }
    }
    reduce(rows, stride, width, j0)
  }
}

/** Fallback for many inputs: gather each column, sort it (TypedArray order), copy rows lo..hi. */
function sortColumns(
  inputs: readonly Float32Array[],
  lo: number,
  hi: number,
  reduce: (rows: Float32Array, stride: number, width: number, outOffset: number) => void
): void {
  const n = inputs.length
  const d = inputs[0].length
  const stride = Math.min(BLOCK, d)
  const rows = new Float32Array((hi - lo + 1) * stride)
  const col = new Float32Array(n)
  for (let j0 = 0; j0 < d; j0 += stride) {
    const width = Math.min(stride, d - j0)
    for (let j = 0; j < width; j++) {
      for (let i = 0; i < n; i++) {
        const x = inputs[i][j0 + j]
        if (x - x !== 0) throw new AggregationInputError(`inputs[${i}][${j0 + j}] is not finite`)
        col[i] = x
      }
      col.sort()
      for (let r = lo; r <= hi; r++) rows[(r - lo) * stride + j] = col[r]
    }
    reduce(rows, stride, width, j0)
  }
}
