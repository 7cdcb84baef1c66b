/**
 * Rényi differential privacy of the Sampled Gaussian Mechanism (SGM).
 *
 * Mechanism: a function of l2-sensitivity 1 is applied to a Poisson subsample
 * (each record kept independently with probability q) and N(0, sigma^2) noise is
 * added, sigma being the noise multiplier. Under add/remove-one adjacency its RDP
 * at order alpha is at most
 *
 *     eps(alpha) = log(A_alpha) / (alpha - 1),
 *     A_alpha    = E_{z ~ mu0} [ ((1 - q) + q mu1(z)/mu0(z))^alpha ]
 *
 * with mu0 = N(0, sigma^2), mu1 = N(1, sigma^2)
 * (Mironov, Talwar, Zhang 2019, "Rényi Differential Privacy of the Sampled
 * Gaussian Mechanism", arXiv:1908.10530, Sec. 3, which also shows that this
 * ordering of the two distributions is the worst case, so A_alpha bounds the RDP
 * of the mechanism). Composition over T steps multiplies by T (Mironov 2017,
 * "Rényi Differential Privacy", Proposition 1).
 *
 * - Integer alpha: binomial expansion of (1 - q + q mu1/mu0)^alpha and the Gaussian
 *   moment E_{mu0}[(mu1/mu0)^i] = exp((i^2 - i) / (2 sigma^2)) give an exact finite
 *   sum (MTZ 2019, Sec. 3), evaluated in log space.
 * - Fractional alpha: the integral is split at z0, where (1-q) mu0 = q mu1, and each
 *   side is expanded in the generalised binomial series that converges there
 *   (MTZ 2019, Sec. 3.3); each term integrates to a Gaussian tail, hence erfc.
 *   By default we sum the absolute values of the terms: every term's integral is
 *   positive, so this is an upper bound on A_alpha (exact except for the tail terms
 *   whose binomial coefficient is negative), and it cannot cancel catastrophically
 *   below A_alpha >= 1 (see FractionalSeries for the exact signed sum). If the series has
 *   not converged after MAX_FRAC_TERMS terms we add a bound on its tail. Either way
 *   we also use the log-convexity of alpha -> A_alpha (A_alpha is a moment
 *   generating function, convex in log by Hölder): interpolating log A between the
 *   neighbouring integer orders is again an upper bound, and we return the smaller
 *   of the two (near alpha = 1 and for large q the absolute series is the looser).
 * - q = 1 is the plain Gaussian mechanism: A_alpha = E_{mu0}[(mu1/mu0)^alpha] =
 *   exp((alpha^2 - alpha) / (2 sigma^2)), so eps(alpha) = alpha / (2 sigma^2)
 *   (Mironov 2017). q = 0 releases nothing about the record: 0.
 */
import { logSumExp, logAdd, logSub, logErfc } from './logmath.ts'
import { InvalidPrivacyParameterError, requireFinite, requireInRange } from './errors.ts'

/**
 * Orders of Google's dp_accounting RdpAccountant when none are given
 * (DEFAULT_RDP_ORDERS in google/differential-privacy,
 * python/dp_accounting/dp_accounting/rdp/rdp_privacy_accountant.py):
 * [1 + x/10 for x in 1..99] + [11..63] + [128, 256, 512, 1024].
 */
export const DEFAULT_RDP_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, k) => 1 + (k + 1) / 10),
  ...Array.from({ length: 53 }, (_, k) => 11 + k),
  128, 256, 512, 1024
])

/**
 * Orders of TensorFlow Privacy's MNIST tutorials (tensorflow/privacy,
 * tutorials/mnist_dpsgd_tutorial_keras.py `compute_epsilon`):
 * [1 + x/10 for x in 1..99] + [12..63]. Note: 11 is absent and there is no order above 63.
 */
export const TF_TUTORIAL_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, k) => 1 + (k + 1) / 10),
  ...Array.from({ length: 52 }, (_, k) => 12 + k)
])

/**
 * Orders of TensorFlow Privacy's `compute_dp_sgd_privacy`
 * (tensorflow/privacy, tensorflow_privacy/privacy/analysis/compute_dp_sgd_privacy_lib.py):
 * [1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5] + [5..63] + [128, 256, 512].
 * The `tessera privacy` command uses these, so its output is comparable with that tool's.
 */
export const DP_SGD_ORDERS: readonly number[] = Object.freeze([
  1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5,
  ...Array.from({ length: 59 }, (_, k) => 5 + k),
  128, 256, 512
])

/** Largest integer order the exact expansion accepts (its cost is linear in alpha). */
export const MAX_INTEGER_ORDER = 1 << 16
/** Terms of the fractional-order series before falling back to the convexity bound. */
export const MAX_FRAC_TERMS = 1000

/** log|binom(alpha, i)| for i = 0..n-1 and the sign of each, by the product recurrence binom(a,i) = binom(a,i-1)(a-i+1)/i. */
function logAbsBinomials(alpha: number, n: number): { logAbs: Float64Array, negative: Uint8Array } {
  const logAbs = new Float64Array(n)
  const negative = new Uint8Array(n)
  let acc = 0
  let neg = 0
  for (let i = 1; i < n; i++) {
    const f = alpha - i + 1
    if (f === 0) { // integer alpha: every later coefficient is zero
      for (let k = i; k < n; k++) logAbs[k] = -Infinity
      break
    }
    acc += Math.log(Math.abs(f)) - Math.log(i)
    if (f < 0) neg ^= 1
    logAbs[i] = acc
    negative[i] = neg
  }
  return { logAbs, negative }
}

/** log A_alpha for an integer alpha >= 2 and 0 < q < 1 (exact finite sum, MTZ 2019 Sec. 3). */
export function logAInteger(q: number, sigma: number, alpha: number): number {
  const logq = Math.log(q)
  const log1mq = Math.log1p(-q)
  const { logAbs } = logAbsBinomials(alpha, alpha + 1)
  const terms = new Float64Array(alpha + 1)
  const inv2s2 = 1 / (2 * sigma * sigma)
  for (let i = 0; i <= alpha; i++) {
    terms[i] = logAbs[i]! + i * logq + (alpha - i) * log1mq + (i * i - i) * inv2s2
  }
  return logSumExp(terms)
}

/**
 * How the fractional-order series treats the terms whose generalised binomial
 * coefficient binom(alpha, i) is negative (i > alpha + 1, alternating signs):
 * - 'absolute' (default) adds their magnitudes: an upper bound on A_alpha that
 *   cannot cancel below 1; this is what dp_accounting does today (and so TF
 *   Privacy's compute_dp_sgd_privacy since 2022).
 * - 'signed' keeps the signs: the exact series of MTZ 2019 Sec. 3.3, as in TF
 *   Privacy's rdp_accountant.py of 2018-2021. Tighter (e.g. 6.50e-4 instead of
 *   6.71e-4 at q = 0.01, sigma = 2.5, alpha = 1.5, 50 steps). If cancellation
 *   leaves a sum that is not clearly above 1, it falls back to 'absolute'.
 */
export type FractionalSeries = 'absolute' | 'signed'

export interface RdpOptions {
  readonly fractionalSeries?: FractionalSeries
}

/**
 * log A_alpha for a fractional alpha > 1 and 0 < q < 1 (MTZ 2019 Sec. 3.3). If the
 * series has not converged within MAX_FRAC_TERMS terms it returns the truncated sum
 * plus a tail bound (converged: false); the caller then also applies the convexity bound.
 */
function logAFractionalSeries(q: number, sigma: number, alpha: number, mode: FractionalSeries): { log: number, converged: boolean } {
  const logq = Math.log(q)
  const log1mq = Math.log1p(-q)
  const z0 = sigma * sigma * (Math.log(1 / q - 1)) + 0.5
  const inv2s2 = 1 / (2 * sigma * sigma)
  const sqrt2s = Math.SQRT2 * sigma
  const { logAbs, negative } = logAbsBinomials(alpha, MAX_FRAC_TERMS)
  let logPos = -Infinity // sum of the terms with binom(alpha, i) > 0, both sides of z0
  let logNeg = -Infinity // sum of |terms| with binom(alpha, i) < 0
  let prev0 = -Infinity
  let prev1 = -Infinity
  for (let i = 0; i < MAX_FRAC_TERMS; i++) {
    const j = alpha - i
    const c = logAbs[i]!
    // Left of z0: binom(alpha,i) q^i (1-q)^(alpha-i) * E_{mu0}[(mu1/mu0)^i ; z <= z0]
    //   = ... * exp((i^2-i)/(2 sigma^2)) * P(N(i, sigma^2) <= z0)
    const s0 = c + i * logq + j * log1mq + (i * i - i) * inv2s2 + Math.log(0.5) + logErfc((i - z0) / sqrt2s)
    // Right of z0: binom(alpha,i) q^(alpha-i) (1-q)^i * exp((j^2-j)/(2 sigma^2)) * P(N(j, sigma^2) >= z0)
    const s1 = c + j * logq + i * log1mq + (j * j - j) * inv2s2 + Math.log(0.5) + logErfc((z0 - j) / sqrt2s)
    const both = logAdd(s0, s1)
    if (negative[i] === 1) logNeg = logAdd(logNeg, both)
    else logPos = logAdd(logPos, both)
    const total = logAdd(logPos, logNeg)
    // Stop once both sequences of terms are past their peak and the newest term is
    // below e^-30 (~1e-13) of the total, the practical rule of TF Privacy and
    // dp_accounting. It is not a proven tail bound: far from z0 the terms fall like
    // a power of i (about i^-(alpha+2)), so the neglected tail can reach ~1e3 times
    // the last term, i.e. ~1e-10 relative to A_alpha, far below the 4 significant
    // digits anyone reads off an epsilon. The quadrature test checks the result.
    if (i > alpha + 1 && s0 < prev0 && s1 < prev1 && Math.max(s0, s1) < total - 30) {
      if (mode === 'absolute') return { log: total, converged: true }
      const signed = logSub(logPos, logNeg)
      // A_alpha >= 1 (Jensen); a signed sum at or below 1 has lost its digits to cancellation.
      return { log: signed > 0 ? signed : total, converged: true }
    }
    prev0 = s0
    prev1 = s1
  }
  // Not converged by the rule above: bound the neglected tail instead of dropping the
  // series. Past the peak the terms fall at least like i^-(alpha+2), so the tail beyond
  // N is at most about N / (alpha + 1) times the last term; we take twice that. This
  // keeps epsilon continuous in q and sigma where the stopping rule flips (a jump to the
  // looser convexity bound made it non-monotone in sigma); the caller still takes the
  // smaller of this and the convexity bound.
  const lastTerm = Math.max(prev0, prev1)
  const total = logAdd(logPos, logNeg)
  if (!Number.isFinite(total) || !(lastTerm < total)) return { log: Number.NaN, converged: false }
  return { log: logAdd(total, lastTerm + Math.log((2 * MAX_FRAC_TERMS) / (alpha + 1))), converged: false }
}

function logA(q: number, sigma: number, alpha: number, mode: FractionalSeries): number {
  if (Number.isInteger(alpha)) return logAInteger(q, sigma, alpha)
  const { log: series } = logAFractionalSeries(q, sigma, alpha, mode)
  // Convexity bound: log A is convex in alpha and log A_1 = 0. Both it and the series
  // (absolute terms, or truncated sum plus tail bound) are upper bounds on log A, so we
  // take the smaller. Near alpha = 1 the absolute series over-counts the negative
  // terms and can exceed the convexity bound (it even exceeded RDP at alpha = 2 for
  // q = 0.215, sigma = 2.45, alpha = 1.05, found by the monotonicity property test).
  const lo = Math.floor(alpha)
  const hi = lo + 1
  const t = alpha - lo
  const logLo = lo === 1 ? 0 : logAInteger(q, sigma, lo)
  const logHi = logAInteger(q, sigma, hi)
  const convex = (1 - t) * logLo + t * logHi
  return Number.isNaN(series) ? convex : Math.min(series, convex)
}

/** Validate an order list: finite or +Infinity numbers > 1, integer orders at most MAX_INTEGER_ORDER. */
export function validateOrders(orders: ArrayLike<number>): void {
  if (orders === null || typeof orders !== 'object' || typeof orders.length !== 'number') {
    throw new InvalidPrivacyParameterError('orders must be an array of numbers')
  }
  if (orders.length === 0) throw new InvalidPrivacyParameterError('orders must not be empty')
  if (orders.length > 100_000) throw new InvalidPrivacyParameterError(`at most 100000 orders, got ${orders.length}`)
  for (let k = 0; k < orders.length; k++) {
    const a = orders[k]
    if (typeof a !== 'number' || Number.isNaN(a) || a <= 1) {
      throw new InvalidPrivacyParameterError(`orders must be numbers > 1, got ${String(a)} at index ${k}`)
    }
    if (Number.isFinite(a) && Number.isInteger(a) && a > MAX_INTEGER_ORDER) {
      throw new InvalidPrivacyParameterError(`integer orders must be at most ${MAX_INTEGER_ORDER}, got ${a}`)
    }
    if (Number.isFinite(a) && !Number.isInteger(a) && a > MAX_INTEGER_ORDER) {
      throw new InvalidPrivacyParameterError(`orders must be at most ${MAX_INTEGER_ORDER}, got ${a}`)
    }
  }
}

/**
 * RDP of one step of the sampled Gaussian mechanism at one order alpha > 1.
 * Returns +Infinity for alpha = +Infinity (with q > 0) or noise multiplier 0.
 */
export function rdpSampledGaussianAt(q: number, noiseMultiplier: number, alpha: number, options: RdpOptions = {}): number {
  requireInRange('sampling rate q', q, 0, 1)
  requireInRange('noise multiplier', noiseMultiplier, 0, Infinity, { hiOpen: true })
  validateOrders([alpha])
  if (q === 0) return 0
  if (noiseMultiplier === 0 || alpha === Infinity) return Infinity
  if (q === 1) return alpha / (2 * noiseMultiplier * noiseMultiplier)
  const mode = options.fractionalSeries ?? 'absolute'
  if (mode !== 'absolute' && mode !== 'signed') throw new InvalidPrivacyParameterError(`fractionalSeries must be 'absolute' or 'signed', got ${String(mode)}`)
  const r = logA(q, noiseMultiplier, alpha, mode) / (alpha - 1)
  // A_alpha >= 1 (Jensen), so the RDP is >= 0; clamp the rounding of a value near 0.
  return r > 0 ? r : 0
}

/**
 * RDP after `steps` compositions of the sampled Gaussian mechanism, at every order.
 * This is TF Privacy's `compute_rdp(q, noise_multiplier, steps, orders)`.
 */
export function computeRdp(q: number, noiseMultiplier: number, steps: number, orders: ArrayLike<number> = DEFAULT_RDP_ORDERS, options: RdpOptions = {}): Float64Array {
  requireInRange('sampling rate q', q, 0, 1)
  requireInRange('noise multiplier', noiseMultiplier, 0, Infinity, { hiOpen: true })
  requireFinite('steps', steps)
  if (steps < 0) throw new InvalidPrivacyParameterError(`steps must be >= 0, got ${steps}`)
  validateOrders(orders)
  const out = new Float64Array(orders.length)
  for (let k = 0; k < orders.length; k++) {
    const r = rdpSampledGaussianAt(q, noiseMultiplier, orders[k]!, options)
    // 0 steps of an infinite-loss mechanism is still no release: 0, not NaN.
    out[k] = steps === 0 ? 0 : r * steps
  }
  return out
}
