/**
 * The hot loops of secret sharing over whole field vectors (issue #4), each its own small
 * function, primed once at module load.
 *
 * Why: a peer runs each of these a few times per round on ~10^5-10^6 elements. Written
 * inline in a larger function, the loop is compiled by V8 on stack replacement (OSR) in the
 * middle of a call, while the code after the loop has never run; that code then has no type
 * feedback, and the optimized code bails out ("insufficient type feedback") at the end of
 * EVERY call, and the cached OSR code is entered again next time (measured with
 * --trace-deopt in the 10-peer round: projectOrFlag, combine, sumSharesInto, normSquarePoint).
 * Until the optimized code is ready, the baseline tier boxes every float intermediate
 * (heap numbers: garbage). Here every loop is the whole body of a function that is called
 * with the same types every time, and `prime` runs each once on a small vector at load, so
 * every operation has feedback before V8 optimizes anything: one compile, no bail-out.
 *
 * The arithmetic is exactly the callers' former inline code (same operations, same order).
 */
import { P, reduce } from './field.ts'

const CHUNK = 32

/**
 * sum_i r[i] * y[i] mod p, or -1 when an entry of y is >= p (r: field elements, same length).
 * r = rh * 2^16 + rl; y < 2^32 even when it is not a field element, so each product stays
 * below 2^48 and a chunk of 32 below 2^53, reduced per chunk (Mersenne).
 */
export function projectKernel(y: Uint32Array, r: Uint32Array): number {
  const n = y.length
  let L = 0
  let H = 0
  let bad = false
  for (let i0 = 0; i0 < n; i0 += CHUNK) {
    const end = Math.min(n, i0 + CHUNK)
    let l = 0
    let h = 0
    for (let i = i0; i < end; i++) {
      const v = y[i]!
      if (v >= P) bad = true
      const w = r[i]!
      l += v * (w & 0xffff)
      h += v * (w >>> 16)
    }
    L = reduce(L + l)
    H = reduce(H + h)
  }
  return bad ? -1 : reduce(H * 65536 + L)
}

/** lo[i] = y[off + i] * wl, hi[i] = y[off + i] * wh for i < len; true when an entry of y is >= p. */
export function mulRows(y: Uint32Array, off: number, len: number, wl: number, wh: number, lo: Float64Array, hi: Float64Array): boolean {
  let bad = false
  for (let i = 0; i < len; i++) {
    const v = y[off + i]!
    if (v >= P) bad = true
    lo[i] = v * wl
    hi[i] = v * wh
  }
  return bad
}

/** lo[i] += y[off + i] * wl, hi[i] += y[off + i] * wh for i < len; true when an entry of y is >= p. */
export function madRows(y: Uint32Array, off: number, len: number, wl: number, wh: number, lo: Float64Array, hi: Float64Array): boolean {
  let bad = false
  for (let i = 0; i < len; i++) {
    const v = y[off + i]!
    if (v >= P) bad = true
    lo[i] += v * wl
    hi[i] += v * wh
  }
  return bad
}

/** lo[i] = lo[i] mod p, hi[i] = hi[i] mod p for i < len. */
export function reduceRows(lo: Float64Array, hi: Float64Array, len: number): void {
  for (let i = 0; i < len; i++) { lo[i] = reduce(lo[i]!); hi[i] = reduce(hi[i]!) }
}

/** out[off + i] = (hi[i] * 2^16 + lo[i]) mod p, hi reduced first: (< 2^31) * 2^16 + lo < 2^53. */
export function joinRows(out: Uint32Array, off: number, len: number, lo: Float64Array, hi: Float64Array): void {
  for (let i = 0; i < len; i++) out[off + i] = reduce(reduce(hi[i]!) * 65536 + lo[i]!)
}

/**
 * out[i] = (w0 y0[i] + w1 y1[i]) mod p in one pass: the row kernels' formula for two vectors
 * (lo and hi sums of two products each, < 2^48; then (hi mod p) * 2^16 + lo < 2^48), without
 * the rows (reconstruction from t = 2 shares, the default threshold). True when an entry of
 * y0 or y1 is >= p.
 */
export function combine2(out: Uint32Array, y0: Uint32Array, y1: Uint32Array, w0: number, w1: number): boolean {
  const l0 = w0 & 0xffff
  const h0 = w0 >>> 16
  const l1 = w1 & 0xffff
  const h1 = w1 >>> 16
  let bad = false
  for (let i = 0; i < out.length; i++) {
    const a = y0[i]!
    const b = y1[i]!
    if (a >= P || b >= P) bad = true
    out[i] = reduce(reduce(a * h0 + b * h1) * 65536 + (a * l0 + b * l1))
  }
  return bad
}

const NORM_CHUNK = 1 << 19
const TWO17 = 131072

/**
 * sum_i y[i]^2 mod p, or -1 when an entry is >= p. With y = yh 2^16 + yl:
 * y^2 = 2 yh^2 + yh yl 2^17 + yl^2 (mod p) since 2^32 = 2; the sums of yh yl (< 2^31 each)
 * and of 2 yh^2 + yl^2 (< 2^33 each) over 2^19 terms stay below 2^53 (no reduction per chunk).
 */
export function normSquareKernel(y: Uint32Array): number {
  let acc = 0
  let bad = false
  for (let i0 = 0; i0 < y.length; i0 += NORM_CHUNK) {
    const end = Math.min(y.length, i0 + NORM_CHUNK)
    let a = 0
    let b = 0
    for (let i = i0; i < end; i++) {
      const v = y[i]!
      if (v >= P) bad = true
      const yh = v >>> 16
      const yl = v & 0xffff
      a += yh * yl
      b += 2 * yh * yh + yl * yl
    }
    acc = reduce(acc + reduce(reduce(a) * TWO17 + reduce(b)))
  }
  return bad ? -1 : acc
}

/**
 * out[i] = a[i] + b[i] mod p for i < n, for field elements (< p). Branch-free: the sum
 * s < 2^32 is folded once with 2^31 = 1 (mod p), f = (s & p) + (s >>> 31) <= p, and
 * (f + ((f + 1) >>> 31)) & p maps p to 0 and leaves f < p alone. The same values as
 * `s >= p ? s - p : s`, without the branch that uniformly random shares mispredict half
 * the time (measured: ~2x faster at d = 101,770). Entries >= p give unspecified values.
 */
export function addMod2(out: Uint32Array, a: Uint32Array, b: Uint32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const s = a[i]! + b[i]!
    const f = (s & P) + (s >>> 31)
    out[i] = (f + ((f + 1) >>> 31)) & P
  }
}

/** out[i] = out[i] + v[i] mod p for i < n (field elements; as addMod2). */
export function addModInto(out: Uint32Array, v: Uint32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const s = out[i]! + v[i]!
    const f = (s & P) + (s >>> 31)
    out[i] = (f + ((f + 1) >>> 31)) & P
  }
}

/**
 * Run every kernel once on a small vector with values over the whole field (and one entry
 * >= p, so the flag paths have feedback too): every operation has type feedback before V8
 * first optimizes a kernel. Deterministic, no output; microseconds.
 */
function prime(): void {
  const n = 67
  const y = new Uint32Array(n)
  const r = new Uint32Array(n)
  for (let i = 0; i < n; i++) { y[i] = P - 1 - i * 7919; r[i] = (i * 2654435761) % P }
  const lo = new Float64Array(n)
  const hi = new Float64Array(n)
  const out = new Uint32Array(n)
  for (let pass = 0; pass < 2; pass++) {
    projectKernel(y, r)
    mulRows(y, 0, n, 0xffff, 0x7fff, lo, hi)
    madRows(y, 0, n, 0xffff, 0x7fff, lo, hi)
    reduceRows(lo, hi, n)
    joinRows(out, 0, n, lo, hi)
    normSquareKernel(y)
    combine2(out, y, r, 0x7fff1234, 0x12345678 % P)
    addMod2(out, y, r, n)
    addModInto(out, y, n)
    y[3] = P // the flag paths
  }
}
prime()
