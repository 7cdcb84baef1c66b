/**
 * Sorting networks for coordinate-wise order statistics (median, trimmed mean).
 *
 * A sorting network is a fixed list of compare-exchange operations. Because the
 * list does not depend on the data, it can be applied to a whole block of
 * coordinates at once: the block is copied into an n x B scratch matrix (row i =
 * input i's slice) and each comparator (a, b) becomes one branch-free loop
 * `row_a[j], row_b[j] = min, max` over j. Sequential memory access, no
 * data-dependent branches: that is what makes the coordinate-wise median of
 * 21 x 1e6 values several times faster than sorting each coordinate
 * (bench/aggregation.ts).
 *
 * The network is Batcher's odd-even merge sort (K. E. Batcher, "Sorting networks
 * and their applications", AFIPS 1968; Knuth, TAOCP vol. 3, 5.3.4), in the
 * formulation valid for any n. For an order statistic only the comparators that
 * can influence the wanted output positions are kept ("pruning"): walking the
 * network backwards, a comparator is needed iff one of its wires is needed later,
 * and then both its wires become needed. Correctness is checked exhaustively with
 * the 0-1 principle in the tests.
 */

const cache = new Map<string, Int32Array>()

/** Batcher's odd-even merge sort for n wires, as flattened pairs [a0, b0, a1, b1, ...] with a < b. */
export function batcherNetwork(n: number): Int32Array {
  const pairs: number[] = []
  for (let p = 1; p < n; p += p) {
    for (let k = p; k >= 1; k = k >> 1) {
      for (let j = k % p; j + k < n; j += k + k) {
        for (let i = 0; i < k && i + j + k < n; i++) {
          if (Math.floor((i + j) / (p + p)) === Math.floor((i + j + k) / (p + p))) {
            pairs.push(i + j, i + j + k)
          }
        }
      }
    }
  }
  return Int32Array.from(pairs)
}

/**
 * The comparators of Batcher's network for n wires that influence output positions
 * lo..hi (inclusive). After applying them, wires lo..hi hold exactly the lo-th..hi-th
 * smallest values, in order.
 */
export function selectionNetwork(n: number, lo: number, hi: number): Int32Array {
  const key = `${n}:${lo}:${hi}`
  const hit = cache.get(key)
  if (hit !== undefined) return hit
  const full = batcherNetwork(n)
  const needed = new Uint8Array(n)
  for (let w = lo; w <= hi; w++) needed[w] = 1
  const kept: number[] = []
  for (let c = full.length - 2; c >= 0; c -= 2) {
    const a = full[c]
    const b = full[c + 1]
    if (needed[a] === 1 || needed[b] === 1) {
      needed[a] = 1
      needed[b] = 1
      kept.push(b, a) // reversed below
    }
  }
  kept.reverse()
  const net = Int32Array.from(kept)
  if (cache.size < 256) cache.set(key, net)
  return net
}

/**
 * Fuse pairs of comparators that share one wire into one pass ("ops"), so the
 * shared wire is loaded and stored once instead of twice: 3 loads and 3 stores
 * for two comparators instead of 4 and 4 (measured ~13% less CPU for the median
 * of 21). For comparator i = (a, b), the next unexecuted comparator k touching a
 * or b is pulled up next to i when it shares exactly one of them and its other
 * wire e is untouched in between: then it commutes with everything it jumps over,
 * and the result is the same network in a different, equivalent order.
 *
 * The search looks at most LOOKAHEAD comparators ahead (fusion is an
 * optimisation; skipping it is always correct).
 *
 * Ops are quadruples [kind, a, b, e]: kind 0 = (a, b) alone; kind 1..4 = (a, b)
 * followed by (a, e), (b, e), (e, a), (e, b) respectively (first wire gets the min).
 */
const LOOKAHEAD = 256

export function fuseComparators(network: Int32Array): Int32Array {
  const m = network.length / 2
  const used = new Uint8Array(m)
  const ops: number[] = []
  for (let i = 0; i < m; i++) {
    if (used[i] === 1) continue
    used[i] = 1
    const a = network[2 * i]
    const b = network[2 * i + 1]
    const touched = new Set<number>()
    let partner = -1
    // Bounded look-ahead keeps scheduling O(m) for large networks.
    for (let k = i + 1; k < m && k <= i + LOOKAHEAD; k++) {
      if (used[k] === 1) continue
      const p = network[2 * k]
      const q = network[2 * k + 1]
      const hasA = p === a || q === a
      const hasB = p === b || q === b
      if (hasA || hasB) {
        const other = p === a || p === b ? q : p
        if (hasA !== hasB && !touched.has(other)) partner = k
        break
      }
      touched.add(p)
      touched.add(q)
    }
    if (partner < 0) {
      ops.push(0, a, b, 0)
      continue
    }
    used[partner] = 1
    const p = network[2 * partner]
    const q = network[2 * partner + 1]
    if (p === a) ops.push(1, a, b, q)
    else if (p === b) ops.push(2, a, b, q)
    else if (q === a) ops.push(3, a, b, p)
    else ops.push(4, a, b, p)
  }
  return Int32Array.from(ops)
}

/** The comparator list that `ops` executes, in order (for checking fused schedules). */
export function expandOps(ops: Int32Array): Int32Array {
  const out: number[] = []
  for (let c = 0; c < ops.length; c += 4) {
    const [kind, a, b, e] = [ops[c], ops[c + 1], ops[c + 2], ops[c + 3]]
    out.push(a, b)
    if (kind === 1) out.push(a, e)
    else if (kind === 2) out.push(b, e)
    else if (kind === 3) out.push(e, a)
    else if (kind === 4) out.push(e, b)
  }
  return Int32Array.from(out)
}

const scheduleCache = new Map<string, Int32Array>()

/** Fused ops of selectionNetwork(n, lo, hi), cached. */
export function selectionSchedule(n: number, lo: number, hi: number): Int32Array {
  const key = `${n}:${lo}:${hi}`
  const hit = scheduleCache.get(key)
  if (hit !== undefined) return hit
  const ops = fuseComparators(selectionNetwork(n, lo, hi))
  if (scheduleCache.size < 256) scheduleCache.set(key, ops)
  return ops
}

/**
 * Apply fused `ops` to the columns of `keys`, an n x width row-major matrix of
 * sort keys (row stride `stride`): integers in (-2^31, 2^31) scaled by 2^-32, so
 * every key is an exact float64 in (-0.5, 0.5) (see order-statistics.ts).
 * Afterwards each column holds the network's output on the wanted positions.
 *
 * The compare-exchange is branch-free arithmetic. Math.min/Math.max and ternaries
 * compile to branches in V8 (Float64Min/Max handle NaN and -0 with jumps), and on
 * random data those mispredict: measured 2-3x slower. For two keys x, y the
 * difference d = x - y is exact and lies in (-1, 1), so floor(d) is -1 when
 * x < y and 0 otherwise, and with md = floor(d) · d:
 *   min = y - md,  max = x + md
 * (x < y: md = -d, min = y + d = x, max = x - d = y; else md = 0). Every step is
 * exact (multiples of 2^-32 below 1 in magnitude), so this is a true
 * compare-exchange. Keys are float64, not int32, on purpose: on int32 V8
 * speculates small-integer arithmetic with minus-zero checks, which are branches
 * again (measured 3x slower on some inputs).
 */
export function applyNetworkToColumns(keys: Float64Array, stride: number, width: number, ops: Int32Array): void {
  const s = keys
  for (let c = 0; c < ops.length; c += 4) {
    const kind = ops[c]
    const oa = ops[c + 1] * stride
    const ob = ops[c + 2] * stride
    const oe = ops[c + 3] * stride
    if (kind === 0) {
      for (let j = 0; j < width; j++) {
        const x = s[oa + j]
        const y = s[ob + j]
        const d = x - y
        const md = Math.floor(d) * d
        s[oa + j] = y - md
        s[ob + j] = x + md
      }
    } else if (kind === 1) { // (a, b) then (a, e)
      for (let j = 0; j < width; j++) {
        const x = s[oa + j]
        const y = s[ob + j]
        const z = s[oe + j]
        const d1 = x - y
        const m1 = Math.floor(d1) * d1
        const lo = y - m1
        s[ob + j] = x + m1
        const d2 = lo - z
        const m2 = Math.floor(d2) * d2
        s[oa + j] = z - m2
        s[oe + j] = lo + m2
      }
    } else if (kind === 2) { // (a, b) then (b, e)
      for (let j = 0; j < width; j++) {
        const x = s[oa + j]
        const y = s[ob + j]
        const z = s[oe + j]
        const d1 = x - y
        const m1 = Math.floor(d1) * d1
        const hi = x + m1
        s[oa + j] = y - m1
        const d2 = hi - z
        const m2 = Math.floor(d2) * d2
        s[ob + j] = z - m2
        s[oe + j] = hi + m2
      }
    } else if (kind === 3) { // (a, b) then (e, a)
      for (let j = 0; j < width; j++) {
        const x = s[oa + j]
        const y = s[ob + j]
        const z = s[oe + j]
        const d1 = x - y
        const m1 = Math.floor(d1) * d1
        const lo = y - m1
        s[ob + j] = x + m1
        const d2 = z - lo
        const m2 = Math.floor(d2) * d2
        s[oe + j] = lo - m2
        s[oa + j] = z + m2
      }
    } else { // (a, b) then (e, b)
      for (let j = 0; j < width; j++) {
        const x = s[oa + j]
        const y = s[ob + j]
        const z = s[oe + j]
        const d1 = x - y
        const m1 = Math.floor(d1) * d1
        const hi = x + m1
        s[oa + j] = y - m1
        const d2 = z - hi
        const m2 = Math.floor(d2) * d2
        s[oe + j] = hi - m2
        s[ob + j] = z + m2
      }
    }
  }
}
