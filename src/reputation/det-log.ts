/**
 * A natural logarithm that gives the same bits on every JavaScript engine.
 *
 * ECMA-262 lets `Math.log` be "implementation-approximated", and engines differ
 * (V8 ports fdlibm, others call the platform libm). Committee selection compares
 * keys ln(u)/w across peers, and a one-ulp disagreement could seat a different
 * committee on two peers. IEEE 754 +, -, *, / are correctly rounded everywhere and
 * JavaScript never fuses them, so a port of a fixed algorithm built only from them
 * is bit-identical on every platform.
 *
 * This is a line-for-line port of fdlibm's __ieee754_log (e_log.c, Sun
 * Microsystems 1993, freely distributable; the same routine V8 uses), error < 1 ulp.
 * Method: reduce x = 2^k (1 + f) with sqrt(2)/2 < 1 + f < sqrt(2), then
 * log(1 + f) = 2s + 2/3 s^3 + ... with s = f / (2 + f), a minimax polynomial in s^2.
 */

const ln2Hi = 6.93147180369123816490e-01 // 0x3fe62e42 fee00000
const ln2Lo = 1.90821492927058770002e-10 // 0x3dea39ef 35793c76
const two54 = 1.80143985094819840000e+16 // 0x43500000 00000000
const Lg1 = 6.666666666666735130e-01 // 3FE55555 55555593
const Lg2 = 3.999999999940941908e-01 // 3FD99999 9997FA04
const Lg3 = 2.857142874366239149e-01 // 3FD24924 94229359
const Lg4 = 2.222219843214978396e-01 // 3FCC71C5 1D8E78AF
const Lg5 = 1.818357216161805012e-01 // 3FC74664 96CB03DE
const Lg6 = 1.531383769920937332e-01 // 3FC39A09 D078C69F
const Lg7 = 1.479819860511658591e-01 // 3FC2F112 DF3E5244

// Explicit big-endian access to the two 32-bit halves of a double, independent of
// the host's byte order.
const view = new DataView(new ArrayBuffer(8))

function hiWord(x: number): number {
  view.setFloat64(0, x, false)
  return view.getInt32(0, false)
}

function loWord(x: number): number {
  view.setFloat64(0, x, false)
  return view.getUint32(4, false)
}

function withHiWord(x: number, hi: number): number {
  view.setFloat64(0, x, false)
  view.setInt32(0, hi | 0, false)
  return view.getFloat64(0, false)
}

/** Natural logarithm, bit-identical across engines (fdlibm e_log.c). */
export function detLog(x: number): number {
  let hx = hiWord(x)
  const lx = loWord(x)
  let k = 0
  if (hx < 0x00100000) { // x < 2^-1022, zero, or negative
    if (((hx & 0x7fffffff) | lx) === 0) return -Infinity // log(+-0) = -inf
    if (hx < 0) return NaN // log(negative) = NaN
    k -= 54 // subnormal: scale up
    x *= two54
    hx = hiWord(x)
  }
  if (hx >= 0x7ff00000) return x + x // +inf or NaN
  k += (hx >> 20) - 1023
  hx &= 0x000fffff
  const i = (hx + 0x95f64) & 0x100000
  x = withHiWord(x, hx | (i ^ 0x3ff00000)) // normalise x or x/2
  k += i >> 20
  const f = x - 1.0
  if ((0x000fffff & (2 + hx)) < 3) { // |f| < 2^-20
    if (f === 0) {
      if (k === 0) return 0
      const dk = k
      return dk * ln2Hi + dk * ln2Lo
    }
    const R = f * f * (0.5 - 0.33333333333333333 * f)
    if (k === 0) return f - R
    const dk = k
    return dk * ln2Hi - ((R - dk * ln2Lo) - f)
  }
  const s = f / (2.0 + f)
  const dk = k
  const z = s * s
  let ii = hx - 0x6147a
  const w = z * z
  const j = 0x6b851 - hx
  const t1 = w * (Lg2 + w * (Lg4 + w * Lg6))
  const t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)))
  ii |= j
  const R = t2 + t1
  if (ii > 0) {
    const hfsq = 0.5 * f * f
    if (k === 0) return f - (hfsq - s * (hfsq + R))
    return dk * ln2Hi - ((hfsq - (s * (hfsq + R) + dk * ln2Lo)) - f)
  }
  if (k === 0) return f - s * (f - R)
  return dk * ln2Hi - ((s * (f - R) - dk * ln2Lo) - f)
}
