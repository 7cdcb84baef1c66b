/**
 * RDP of the sampled Gaussian mechanism against published test vectors.
 *
 * Sources (read from the repositories, values copied as facts):
 * [TFP-RDP]   tensorflow/privacy, tensorflow_privacy/privacy/analysis/rdp_accountant_test.py
 *             (commit a749ce4, Jan 2022, the last before the accountant moved to dp_accounting)
 * [DPA-RDP]   google/differential-privacy, python/dp_accounting/dp_accounting/rdp/rdp_privacy_accountant_test.py
 *             (snapshot b5b0286, 2026)
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  computeRdp, rdpSampledGaussianAt, DEFAULT_RDP_ORDERS, TF_TUTORIAL_ORDERS, DP_SGD_ORDERS, MAX_INTEGER_ORDER
} from '../../src/model/privacy/rdp.ts'
import { logAdd } from '../../src/model/privacy/logmath.ts'

/** |actual - expected| <= atol + rtol |expected|, numpy's assert_allclose rule. */
function assertClose(actual: number, expected: number, rtol: number, atol = 0, msg = ''): void {
  if (expected === Infinity || actual === Infinity) {
    assert.equal(actual, expected, msg)
    return
  }
  assert.ok(Math.abs(actual - expected) <= atol + rtol * Math.abs(expected), `${msg} actual ${actual} expected ${expected} (rtol ${rtol}, atol ${atol})`)
}

/** 4 significant digits: relative error below 5e-5. */
const SIG4 = 5e-5

/**
 * log A_alpha by direct numerical integration of its definition (MTZ 2019, Sec. 3):
 * A = integral of mu0(z) ((1-q) + q exp((2z-1)/(2 sigma^2)))^alpha dz, trapezoid
 * rule on a grid of step sigma/20 covering both modes (near 0 and near alpha).
 * A - 1 is integrated directly (positive and negative parts in log space) so that
 * tiny log A values keep their digits. Independent of the series in rdp.ts.
 */
function logAByQuadrature(q: number, sigma: number, alpha: number): number {
  const h = sigma / 20
  const lo = Math.min(-1, -40 * sigma)
  const hi = alpha + 1 + 40 * sigma
  const n = Math.ceil((hi - lo) / h)
  const log1mq = Math.log1p(-q)
  const logq = Math.log(q)
  const logNorm = -Math.log(sigma) - 0.5 * Math.log(2 * Math.PI)
  let logPos = -Infinity
  let logNeg = -Infinity
  // Big-A regime: integrate A itself in log space.
  let logAll = -Infinity
  for (let k = 0; k <= n; k++) {
    const z = lo + k * h
    const w = k === 0 || k === n ? Math.log(h / 2) : Math.log(h)
    const logMu0 = logNorm - (z * z) / (2 * sigma * sigma)
    const t = (2 * z - 1) / (2 * sigma * sigma)
    const L = logAdd(log1mq, logq + t) // log((1-q) + q e^t)
    const aL = alpha * L
    logAll = logAdd(logAll, w + logMu0 + aL)
    const em1 = Math.expm1(aL)
    if (aL > 30) logPos = logAdd(logPos, w + logMu0 + aL + Math.log1p(-Math.exp(-aL)))
    else if (em1 > 0) logPos = logAdd(logPos, w + logMu0 + Math.log(em1))
    else if (em1 < 0) logNeg = logAdd(logNeg, w + logMu0 + Math.log(-em1))
  }
  if (logAll > 1) return logAll
  const diff = Math.exp(logPos) - Math.exp(logNeg) // A - 1
  return Math.log1p(diff)
}

describe('model/privacy/rdp: sampled Gaussian mechanism', function () {
  this.timeout(60000)

  it('order lists are those of the sources', () => {
    // DEFAULT_RDP_ORDERS in [DPA] rdp_privacy_accountant.py
    assert.equal(DEFAULT_RDP_ORDERS.length, 99 + 53 + 4)
    assert.equal(DEFAULT_RDP_ORDERS[0], 1.1)
    assert.equal(DEFAULT_RDP_ORDERS[98], 1 + 99 / 10)
    assert.deepEqual(DEFAULT_RDP_ORDERS.slice(99, 101), [11, 12])
    assert.deepEqual(DEFAULT_RDP_ORDERS.slice(-5), [63, 128, 256, 512, 1024])
    // tutorials/mnist_dpsgd_tutorial_keras.py: [1 + x / 10. for x in range(1, 100)] + list(range(12, 64))
    assert.equal(TF_TUTORIAL_ORDERS.length, 99 + 52)
    assert.equal(TF_TUTORIAL_ORDERS[99], 12)
    assert.equal(TF_TUTORIAL_ORDERS.at(-1), 63)
    // compute_dp_sgd_privacy_lib.py
    assert.deepEqual(DP_SGD_ORDERS.slice(0, 11), [1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5, 5])
    assert.deepEqual(DP_SGD_ORDERS.slice(-4), [63, 128, 256, 512])
    assert.equal(DP_SGD_ORDERS.length, 10 + 59 + 3)
  })

  it('[DPA-RDP] test_compute_rdp_poisson_sampled_gaussian (q=0.01, z=2.5, 50 steps)', () => {
    const orders = [1.5, 2.5, 5, 50, 100, Infinity]
    const expected = [6.70579741e-04, 1.08548710e-03, 2.18075656e-03, 2.38460375e-02, 1.67416308e02, Infinity]
    const got = computeRdp(0.01, 2.5, 50, orders)
    // The source asserts rtol 1e-4 on 9-digit values; we hold 4 significant digits and more.
    for (let k = 0; k < orders.length; k++) assertClose(got[k]!, expected[k]!, 1e-7, 0, `order ${orders[k]}`)
  })

  it('[TFP-RDP] test_compute_rdp_sequence with the exact signed series (TF Privacy 2018-2021)', () => {
    const orders = [1.5, 2.5, 5, 50, 100, Infinity]
    const expected = [6.5007e-04, 1.0854e-03, 2.1808e-03, 2.3846e-02, 1.6742e+02, Infinity]
    const got = computeRdp(0.01, 2.5, 50, orders, { fractionalSeries: 'signed' })
    for (let k = 0; k < orders.length; k++) assertClose(got[k]!, expected[k]!, 1e-4, 0, `order ${orders[k]}`)
    // The default (absolute) series is an upper bound on the signed one.
    const abs = computeRdp(0.01, 2.5, 50, orders)
    for (let k = 0; k < orders.length; k++) assert.ok(abs[k]! >= got[k]! * (1 - 1e-12))
  })

  it('[TFP-RDP] test_compute_rdp_scalar: compute_rdp(0.1, 2, 10, 5) = 0.07737 (5 places)', () => {
    assert.ok(Math.abs(computeRdp(0.1, 2, 10, [5])[0]! - 0.07737) < 5e-6)
  })

  it('[TFP-RDP] test_compute_rdp_no_data / no_sampling / heterogeneous: q=0 gives 0, q=1 gives alpha/(2 sigma^2)', () => {
    assert.equal(computeRdp(0, 10, 1, [20])[0], 0)
    assert.equal(computeRdp(1, 10, 1, [20])[0], 0.1)
    // compute_heterogeneous_rdp([0, 1], [10, 10], [1, 1], 20) == 0.1
    assert.equal(computeRdp(0, 10, 1, [20])[0]! + computeRdp(1, 10, 1, [20])[0]!, 0.1)
  })

  it('[DPA-RDP] test_compute_rdp_gaussian: q=1 closed form alpha/(2 sigma^2) at any order, scaled by steps', () => {
    assertClose(computeRdp(1, 2.71828, 1, [3.14159])[0]!, 3.14159 / (2 * 2.71828 ** 2), 1e-15)
    fc.assert(fc.property(
      fc.double({ min: 1.001, max: 5000, noNaN: true }), fc.double({ min: 0.01, max: 100, noNaN: true }), fc.integer({ min: 0, max: 10000 }),
      (alpha, z, steps) => {
        const r = computeRdp(1, z, steps, [alpha])[0]!
        assertClose(r, steps * alpha / (2 * z * z), 1e-12)
      }), { numRuns: 200 })
  })

  it('[DPA-RDP] test_compute_log_a_equals_mp parameters: series vs. direct numerical integration (rtol 1e-4, atol 1e-8 as in the source)', () => {
    const params: Array<[number, number, number]> = [
      [1e-7, 0.1, 1.01], [1e-6, 0.1, 256], [1e-5, 0.1, 256.1], [1e-6, 1, 27], [1e-4, 1, 1.5],
      [1e-3, 1, 2], [0.01, 10, 20], [0.1, 100, 20.5], [0.99, 0.1, 256], [0.999, 100, 256.1]
    ]
    for (const [q, sigma, alpha] of params) {
      for (const fractionalSeries of ['absolute', 'signed'] as const) {
        const logA = rdpSampledGaussianAt(q, sigma, alpha, { fractionalSeries }) * (alpha - 1)
        const ref = logAByQuadrature(q, sigma, alpha)
        assertClose(logA, ref, 1e-4, 1e-8, `q=${q} sigma=${sigma} alpha=${alpha} ${fractionalSeries}`)
        // The exact (signed) series agrees with the quadrature far more tightly (measured: <= 2e-7 relative).
        if (fractionalSeries === 'signed') assertClose(logA, ref, 1e-6, 1e-14, `tight: q=${q} sigma=${sigma} alpha=${alpha}`)
      }
    }
  })

  it('signed series matches the integral to 1e-6 where the absolute one is only an upper bound', () => {
    // q=0.1, sigma=1: the absolute series over-counts by ~0.2% at alpha=3.5.
    const q = 0.1; const sigma = 1; const alpha = 3.5
    const ref = logAByQuadrature(q, sigma, alpha)
    const signed = rdpSampledGaussianAt(q, sigma, alpha, { fractionalSeries: 'signed' }) * (alpha - 1)
    const abs = rdpSampledGaussianAt(q, sigma, alpha) * (alpha - 1)
    assertClose(signed, ref, 1e-6)
    assert.ok(abs > ref)
  })

  it('[DPA-RDP] test_log_a_frac_positive: q=0.4, sigma=12, alpha in [58.5, 59.5] gives log A > 0', () => {
    for (let k = 0; k <= 20; k++) {
      const alpha = 58.5 + k / 20
      for (const fractionalSeries of ['absolute', 'signed'] as const) {
        assert.ok(rdpSampledGaussianAt(0.4, 12, alpha, { fractionalSeries }) > 0, `alpha ${alpha} ${fractionalSeries}`)
      }
    }
  })

  it('non-converging fractional series (q=0.1, sigma=1, small alpha) falls back to a finite upper bound', () => {
    // dp_accounting returns Infinity here (test_log_a_frac_early_termination); we use
    // log-convexity of A_alpha between integer orders, which must stay above the true value.
    for (const alpha of [1.1, 1.5, 1.9]) {
      const r = rdpSampledGaussianAt(0.1, 1, alpha)
      assert.ok(Number.isFinite(r))
      const truth = logAByQuadrature(0.1, 1, alpha) / (alpha - 1)
      assert.ok(r >= truth * (1 - 1e-9), `alpha ${alpha}: ${r} < ${truth}`)
      assert.ok(r <= rdpSampledGaussianAt(0.1, 1, 2) * (1 + 1e-12))
    }
  })

  // Comparisons allow 1e-9 relative plus 1e-14 absolute: log A is a sum of terms of
  // size ~alpha q that cancel to ~q^2, so a tiny per-step RDP carries ~1e-16 absolute rounding.
  it('property: RDP is non-decreasing in q and in the order, non-increasing in the noise, linear in steps', () => {
    const qArb = fc.double({ min: 1e-5, max: 0.5, noNaN: true })
    const zArb = fc.double({ min: 0.5, max: 20, noNaN: true })
    const aArb = fc.oneof(fc.integer({ min: 2, max: 64 }), fc.double({ min: 1.05, max: 40, noNaN: true }))
    fc.assert(fc.property(qArb, qArb, zArb, aArb, (q1, q2, z, a) => {
      const [lo, hi] = q1 < q2 ? [q1, q2] : [q2, q1]
      assert.ok(rdpSampledGaussianAt(lo, z, a) <= rdpSampledGaussianAt(hi, z, a) * (1 + 1e-9) + 1e-14)
    }), { numRuns: 60 })
    fc.assert(fc.property(qArb, zArb, zArb, aArb, (q, z1, z2, a) => {
      const [lo, hi] = z1 < z2 ? [z1, z2] : [z2, z1]
      assert.ok(rdpSampledGaussianAt(q, hi, a) <= rdpSampledGaussianAt(q, lo, a) * (1 + 1e-9) + 1e-14)
    }), { numRuns: 60 })
    fc.assert(fc.property(qArb, zArb, fc.integer({ min: 2, max: 63 }), (q, z, a) => {
      // Integer orders: the exact expansion; Rényi divergence is non-decreasing in alpha.
      assert.ok(rdpSampledGaussianAt(q, z, a) <= rdpSampledGaussianAt(q, z, a + 1) * (1 + 1e-9) + 1e-14)
    }), { numRuns: 60 })
    fc.assert(fc.property(qArb, zArb, fc.integer({ min: 0, max: 1_000_000 }), (q, z, steps) => {
      const one = computeRdp(q, z, 1, [2, 8.5])
      const many = computeRdp(q, z, steps, [2, 8.5])
      for (let k = 0; k < 2; k++) assertClose(many[k]!, one[k]! * steps, 1e-12)
    }), { numRuns: 40 })
  })

  it('regression: no jump where the fractional series stops converging (fast-check counterexample q=0.2154, sigma~2.4518, alpha=1.05)', () => {
    // The absolute series exceeded the convexity bound there, so epsilon jumped up by
    // 60% as sigma grew across the point where the stopping rule first held.
    const q = 0.2154293052537798
    const a = rdpSampledGaussianAt(q, 2.451831665407648, 1.05)
    const b = rdpSampledGaussianAt(q, 2.4518316654099404, 1.05)
    assert.ok(b <= a * (1 + 1e-9), `${b} > ${a}`)
    for (const alpha of [1.05, 1.5, 1.9]) assert.ok(rdpSampledGaussianAt(q, 2.46, alpha) <= rdpSampledGaussianAt(q, 2.46, 2) * (1 + 1e-12))
  })

  it('subsampling never hurts: RDP(q) <= RDP(1) = alpha/(2 sigma^2)', () => {
    fc.assert(fc.property(fc.double({ min: 1e-6, max: 1, noNaN: true }), fc.double({ min: 0.3, max: 30, noNaN: true }), fc.integer({ min: 2, max: 256 }),
      (q, z, a) => { assert.ok(rdpSampledGaussianAt(q, z, a) <= a / (2 * z * z) * (1 + 1e-9)) }), { numRuns: 80 })
  })

  it('large orders and tiny noise stay finite (no overflow in log space)', () => {
    const r = computeRdp(0.5, 0.05, 1, [1024, 1000.5])
    assert.ok(Number.isFinite(r[0]!) && r[0]! > 1e5)
    assert.ok(Number.isFinite(r[1]!) && r[1]! > 1e5)
    assert.equal(computeRdp(0.01, 0, 1, [2])[0], Infinity)
    assert.equal(computeRdp(0.01, 0, 0, [2])[0], 0)
  })

  it('fuzz: any valid (q, z, alpha), including subnormal q and extreme z, gives a number >= 0 (never NaN) quickly', () => {
    fc.assert(fc.property(
      fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1e6, noNaN: true }),
      fc.oneof(fc.double({ min: 1.0000001, max: 3000, noNaN: true }), fc.integer({ min: 2, max: 3000 })),
      fc.constantFrom('absolute' as const, 'signed' as const),
      (q, z, a, fractionalSeries) => {
        const r = rdpSampledGaussianAt(q, z, a, { fractionalSeries })
        assert.ok(!Number.isNaN(r) && r >= 0, `q=${q} z=${z} a=${a} ${fractionalSeries}: ${r}`)
      }), { numRuns: 300 })
    for (const [q, z, a] of [[5e-324, 1, 2.5], [1e-300, 0.01, 1.5], [1 - 1e-16, 1, 7.5], [0.5, 1e-300, 3.5], [0.5, 1e300, 3.5]] as const) {
      const r = rdpSampledGaussianAt(q, z, a)
      assert.ok(!Number.isNaN(r) && r >= 0)
    }
  })

  it('hostile inputs give InvalidPrivacyParameterError, never NaN or a hang', () => {
    const bad: Array<() => unknown> = [
      () => computeRdp(Number.NaN, 1, 1, [2]),
      () => computeRdp(-0.1, 1, 1, [2]),
      () => computeRdp(1.1, 1, 1, [2]),
      () => computeRdp(0.1, -1, 1, [2]),
      () => computeRdp(0.1, Number.NaN, 1, [2]),
      () => computeRdp(0.1, Infinity, 1, [2]),
      () => computeRdp(0.1, 1, -1, [2]),
      () => computeRdp(0.1, 1, Number.NaN, [2]),
      () => computeRdp(0.1, 1, Infinity, [2]),
      () => computeRdp(0.1, 1, 1, []),
      () => computeRdp(0.1, 1, 1, [1]),
      () => computeRdp(0.1, 1, 1, [0.5]),
      () => computeRdp(0.1, 1, 1, [Number.NaN]),
      () => computeRdp(0.1, 1, 1, [MAX_INTEGER_ORDER + 1]),
      () => computeRdp(0.1, 1, 1, [1e300]),
      () => computeRdp(0.1, 1, 1, ['2' as unknown as number]),
      () => computeRdp(0.1, 1, 1, null as unknown as number[]),
      () => computeRdp(0.1, 1, 1, new Array(200_000).fill(2)),
      () => rdpSampledGaussianAt(0.1, 1, 2.5, { fractionalSeries: 'nope' as 'signed' }),
      () => computeRdp('0.1' as unknown as number, 1, 1, [2])
    ]
    for (const f of bad) assert.throws(f, (e: Error) => e.name === 'InvalidPrivacyParameterError', String(f))
  })
})
