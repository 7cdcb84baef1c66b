/**
 * Blocked kernels for coordinate-wise order statistics, shared by the median and
 * the trimmed mean: copy a block of B coordinates of every input into an n x B
 * scratch matrix, sort its columns with a (pruned) sorting network, then reduce
 * rows lo..hi. See network.ts for why this beats sorting each coordinate.
 */
import { AggregationInputError } from './errors.ts'
import { applyNetworkToColumns, selectionSchedule } from './network.ts'

/** Coordinates per block: 21 rows x 4096 x 4 bytes = 344 KB of scratch, fits L2; measured best. */
export const BLOCK = 4096

/**
 * For every coordinate j, with s_0 <= ... <= s_{n-1} the sorted values of
 * inputs[*][j], write reduce(s_lo..s_hi) to out[j]. `reduce` receives the
 * scratch matrix after sorting and must read rows lo..hi of columns
 * 0..width-1. Throws AggregationInputError on a non-finite entry (callers check
 * shapes with checkInputs(inputs, 'inputs', { skipFinite: true })).
 */
export function forEachSortedBlock(
  inputs: readonly Float32Array[],
  lo: number,
  hi: number,
  reduce: (scratch: Float32Array, stride: number, width: number, outOffset: number) => void
): void {
  const n = inputs.length
  const d = inputs[0].length
  const ops = selectionSchedule(n, lo, hi)
  const stride = Math.min(BLOCK, d)
  const scratch = new Float32Array(n * stride)
  for (let j0 = 0; j0 < d; j0 += stride) {
    const width = Math.min(stride, d - j0)
    for (let i = 0; i < n; i++) {
      const row = i * stride
      scratch.set(inputs[i].subarray(j0, j0 + width), row)
      // Finiteness is checked here, on the cached copy, instead of in a separate
      // pass over all inputs (callers use checkInputs with skipFinite).
      for (let j = 0; j < width; j++) {
        const x = scratch[row + j]
        if (x - x !== 0) throw new AggregationInputError(`inputs[${i}][${j0 + j}] is not finite (${x})`)
      }
    }
    applyNetworkToColumns(scratch, stride, width, ops)
    reduce(scratch, stride, width, j0)
  }
}
