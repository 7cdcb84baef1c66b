/**
 * Log-space arithmetic for the RDP accountant.
 *
 * The moments of the sampled Gaussian mechanism are sums of terms such as
 * binom(alpha, i) q^i (1-q)^(alpha-i) exp((i^2 - i) / (2 sigma^2)) that overflow a
 * double long before the final RDP value does (sigma = 0.1, alpha = 256 gives
 * exponents near 3e6), so every quantity is carried as its natural logarithm.
 * Zero is -Infinity.
 *
 * log erfc is computed without ever forming erfc(x) for large x (it underflows
 * for x > 26.5): the continued fraction of Laplace for the scaled function
 * erfcx(x) = exp(x^2) erfc(x) (Abramowitz & Stegun 7.1.14, evaluated with the
 * modified Lentz algorithm) gives log erfc(x) = -x^2 + log erfcx(x) for x >= 2,
 * and the everywhere-positive series of A&S 7.1.6 gives erf for 0 <= x < 2.
 */

const LOG_SQRT_PI = 0.5 * Math.log(Math.PI)
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI)

/** log(exp(a) + exp(b)) without overflow; -Infinity is log(0). */
export function logAdd(a: number, b: number): number {
  const hi = a > b ? a : b
  const lo = a > b ? b : a
  if (lo === -Infinity) return hi
  if (hi === Infinity) return Infinity
  return hi + Math.log1p(Math.exp(lo - hi))
}

/**
 * log(exp(a) - exp(b)) for a >= b. Returns -Infinity when a === b. A caller that
 * passes a < b gets NaN back, which the accountant never does (it only
 * subtracts when the sign is known).
 */
export function logSub(a: number, b: number): number {
  if (b === -Infinity) return a
  if (a === b) return -Infinity
  if (a < b) return Number.NaN
  // log(e^a - e^b) = a + log(1 - e^(b-a)); log(-expm1(x)) is accurate for x near 0.
  const d = b - a
  return a + (d > -Math.LN2 ? Math.log(-Math.expm1(d)) : Math.log1p(-Math.exp(d)))
}

/** log(sum_i exp(xs[i])) with the maximum factored out (one pass for the max, one for the sum). */
export function logSumExp(xs: ArrayLike<number>): number {
  let m = -Infinity
  for (let i = 0; i < xs.length; i++) if (xs[i]! > m) m = xs[i]!
  if (m === -Infinity || m === Infinity) return m
  let s = 0
  for (let i = 0; i < xs.length; i++) s += Math.exp(xs[i]! - m)
  return m + Math.log(s)
}

/** erf(x) for 0 <= x < ~3 from A&S 7.1.6: 2/sqrt(pi) e^(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)); all terms positive, so no cancellation. */
function erfSeries(x: number): number {
  const x2 = x * x
  let term = x
  let sum = x
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1)
    sum += term
    if (term < sum * 1e-17) break
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum
}

/**
 * erfcx(x) = exp(x^2) erfc(x) for x >= 2 by Laplace's continued fraction
 * (A&S 7.1.14): erfc(x) = e^(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))).
 * Modified Lentz evaluation (Press et al., Numerical Recipes 3rd ed., 5.2).
 */
function erfcxContinuedFraction(x: number): number {
  const TINY = 1e-300
  let f = x
  let c = x
  let d = 0
  for (let n = 1; n < 5000; n++) {
    const a = n / 2
    d = x + a * d
    if (d === 0) d = TINY
    c = x + a / c
    if (c === 0) c = TINY
    d = 1 / d
    const delta = c * d
    f *= delta
    if (Math.abs(delta - 1) < 1e-16) break
  }
  return 1 / (Math.sqrt(Math.PI) * f)
}

const CF_THRESHOLD = 2

/** erfc(x) for any real x (0 for x > ~26.5 because it underflows; use logErfc there). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN
  if (x < 0) return 2 - erfc(-x)
  if (x < CF_THRESHOLD) return 1 - erfSeries(x)
  if (x > 27.3) return 0
  return Math.exp(-x * x) * erfcxContinuedFraction(x)
}

/**
 * log(erfc(x)), accurate to a few ulps relative for all finite x, including the
 * far tail where erfc(x) itself underflows (x = 1e4 gives -1e8 - log(x sqrt(pi))).
 */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN
  if (x === Infinity) return -Infinity
  if (x === -Infinity) return Math.LN2
  if (x < 0) {
    // erfc(x) = 1 + erf(-x) lies in (1, 2]; log1p keeps its small-|x| digits.
    return -x < CF_THRESHOLD ? Math.log1p(erfSeries(-x)) : Math.log(2 - erfc(-x))
  }
  if (x < CF_THRESHOLD) return Math.log1p(-erfSeries(x))
  if (x > 1e8) {
    // erfcx(x) = 1/(x sqrt(pi)) * (1 - 1/(2x^2) + ...); the correction is below 1 ulp here.
    return -x * x - Math.log(x) - LOG_SQRT_PI
  }
  return -x * x + Math.log(erfcxContinuedFraction(x))
}
