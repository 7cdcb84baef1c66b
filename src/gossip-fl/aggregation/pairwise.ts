/**
 * All pairwise squared Euclidean distances of n vectors, the O(n^2 d) core of
 * Krum and of the min-max / min-sum attacks.
 *
 * Coordinates are processed in blocks so that the block of every input stays in
 * cache while all n(n-1)/2 pairs use it. Each pair's sum is kept in four float64
 * lanes (coordinate j goes to lane j mod 4, lanes accumulated in ascending j)
 * and combined as (l0 + l1) + (l2 + l3): four independent addition chains instead
 * of one roughly triples throughput, and the order is fixed, so the result is
 * the same bits everywhere.
 */
import { AggregationInputError } from './errors.ts'

const BLOCK = 4096

/** Most vectors accepted: n^2 float64 distances plus 2n^2 lanes stay near 100 MB. */
export const MAX_PAIRWISE_INPUTS = 2048

/** Returns a symmetric n x n Float64Array (row-major) of squared distances, zero diagonal. */
export function pairwiseSquaredDistances(inputs: readonly Float32Array[]): Float64Array {
  const n = inputs.length
  if (n > MAX_PAIRWISE_INPUTS) throw new AggregationInputError(`pairwise distances: ${n} vectors, more than ${MAX_PAIRWISE_INPUTS}`)
  const d = n === 0 ? 0 : inputs[0].length
  const pairs = (n * (n - 1)) / 2
  const lanes = new Float64Array(pairs * 4)
  for (let j0 = 0; j0 < d; j0 += BLOCK) {
    const j1 = Math.min(d, j0 + BLOCK)
    let p = 0
    for (let a = 0; a < n; a++) {
      const x = inputs[a]
      for (let b = a + 1; b < n; b++, p++) {
        const y = inputs[b]
        let s0 = lanes[4 * p]
        let s1 = lanes[4 * p + 1]
        let s2 = lanes[4 * p + 2]
        let s3 = lanes[4 * p + 3]
        let j = j0
        // j0 is a multiple of 4, so lane k always receives coordinates j ≡ k (mod 4).
        for (; j + 3 < j1; j += 4) {
          const t0 = x[j] - y[j]
          const t1 = x[j + 1] - y[j + 1]
          const t2 = x[j + 2] - y[j + 2]
          const t3 = x[j + 3] - y[j + 3]
          s0 += t0 * t0
          s1 += t1 * t1
          s2 += t2 * t2
          s3 += t3 * t3
        }
        for (; j < j1; j++) {
          const t = x[j] - y[j]
          const lane = j & 3
          if (lane === 0) s0 += t * t
          else if (lane === 1) s1 += t * t
          else if (lane === 2) s2 += t * t
          else s3 += t * t
        }
        lanes[4 * p] = s0
        lanes[4 * p + 1] = s1
        lanes[4 * p + 2] = s2
        lanes[4 * p + 3] = s3
      }
    }
  }
  const out = new Float64Array(n * n)
  let p = 0
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++, p++) {
      const v = (lanes[4 * p] + lanes[4 * p + 1]) + (lanes[4 * p + 2] + lanes[4 * p + 3])
      out[a * n + b] = v
      out[b * n + a] = v
    }
  }
  return out
}
