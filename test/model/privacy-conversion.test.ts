/**
 * RDP -> (epsilon, delta) conversion and DP-SGD epsilons against published values.
 *
 * Sources (values copied as facts, with the test that asserts them):
 * [DPA-RDP]  google/differential-privacy, python/dp_accounting/dp_accounting/rdp/rdp_privacy_accountant_test.py
 * [TFP-LIB]  tensorflow/privacy, tensorflow_privacy/privacy/analysis/compute_dp_sgd_privacy_test.py
 *            (current: commit 99c25e3, May 2024; the 2019-2020 version, commit 10335f6, asserted
 *            the values of the classic conversion, before the improved bound was adopted)
 * [TFP-README] tensorflow/privacy, tutorials/README.md ("Select Parameters" table and the
 *            compute_dp_sgd_privacy example), published with 3 significant digits
 *            using the classic conversion and the tutorial's orders.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { epsilonFromRdp, deltaFromRdp } from '../../src/model/privacy/conversion.ts'
import { computeRdp, DEFAULT_RDP_ORDERS, TF_TUTORIAL_ORDERS } from '../../src/model/privacy/rdp.ts'
import { computeDpSgdPrivacy } from '../../src/model/privacy/dpsgd.ts'
import { erfc } from '../../src/model/privacy/logmath.ts'

/** Same to 4 significant digits: |a - e| <= 5e-5 |e|. */
function assertSig4(actual: number, expected: number, msg = ''): void {
  assert.ok(Math.abs(actual - expected) <= 5e-5 * Math.abs(expected), `${msg} actual ${actual} expected ${expected}`)
}

/** Rounds to the published number of significant digits. */
function toSig(x: number, digits: number): number {
  return Number(x.toPrecision(digits))
}

describe('model/privacy/conversion: RDP to (epsilon, delta)', function () {
  this.timeout(60000)

  it('[DPA-RDP] test_compute_epsilon_delta_pure_dp: constant RDP 1.1 on orders 2..32 -> eps 1.32783806176 at order 32, and back', () => {
    const orders = Array.from({ length: 31 }, (_, k) => k + 2)
    const rdp = orders.map(() => 1.1)
    const e = epsilonFromRdp(orders, rdp, 1e-5)
    assert.ok(Math.abs(e.epsilon - 1.32783806176) < 1e-7)
    assert.equal(e.order, 32)
    const d = deltaFromRdp(orders, rdp, 1.32783806176)
    assert.ok(Math.abs(d.delta - 1e-5) < 1e-7)
    assert.equal(d.order, 32)
  })

  it('[DPA-RDP] test_compute_epsilon_delta_gaussian: Gaussian z = 4.530877117 is (1, 1e-6)-DP on a fine order grid', () => {
    // orders = [0.001 * i for i in range(1000, 100000)] (order 1 itself excluded: RDP orders are > 1 here)
    const orders = Array.from({ length: 99000 }, (_, k) => 0.001 * (k + 1000)).filter((a) => a > 1)
    const rdp = computeRdp(1, 4.530877117, 1, orders)
    assert.ok(Math.abs(epsilonFromRdp(orders, rdp, 1e-6).epsilon - 1) < 1e-7)
    assert.ok(Math.abs(deltaFromRdp(orders, rdp, 1).delta - 1e-6) < 1e-7)
  })

  it('[DPA-RDP] test_delta_bounds_gaussian: RDP delta lies between the optimal Gaussian delta (Balle & Wang 2018 Thm 8) and exp(-(eps-0.5)^2/2)', () => {
    const orders = Array.from({ length: 495 }, (_, k) => 0.1 * (k + 10)).filter((a) => a > 1)
    const rdp = computeRdp(1, 1, 1, orders)
    for (let i = 0; i < 500; i++) {
      const eps = 0.1 * i
      const { delta } = deltaFromRdp(orders, rdp, eps)
      const delta0 = erfc((eps - 0.5) / Math.SQRT2) / 2 - Math.exp(eps) * erfc((eps + 0.5) / Math.SQRT2) / 2
      assert.ok(delta0 <= delta + 1e-300, `eps ${eps}: optimal ${delta0} > rdp ${delta}`)
      const delta1 = eps >= 0.5 ? Math.exp(-0.5 * (eps - 0.5) ** 2) : 1
      assert.ok(delta <= delta1 + 1e-300, `eps ${eps}`)
    }
  })

  it('[DPA-RDP] test_epsilon_delta_consistency: delta(epsilon(delta)) = delta', () => {
    const orders = Array.from({ length: 48 }, (_, k) => k + 2)
    for (const q of [0, 0.01, 0.1, 0.8, 1]) {
      for (const z of [0.1, 1, 10, 100]) {
        const rdp = computeRdp(q, z, 1, orders)
        for (const delta of [0.99, 0.9, 0.1, 0.01, 1e-3, 1e-5, 1e-9, 1e-12]) {
          const { epsilon } = epsilonFromRdp(orders, rdp, delta)
          const d2 = deltaFromRdp(orders, rdp, epsilon).delta
          if (epsilon === Infinity) assert.equal(d2, 1)
          else if (epsilon === 0) assert.ok(d2 <= delta)
          else assert.ok(Math.abs(d2 - delta) < 1e-7 * Math.max(1, delta) && Math.abs(d2 - delta) <= 1e-6 * delta + 1e-300, `q ${q} z ${z} delta ${delta}: ${d2}`)
        }
      }
    }
  })

  it('the improved conversion never exceeds the classic one (Mironov 2017 Prop. 3)', () => {
    fc.assert(fc.property(fc.double({ min: 1e-4, max: 1, noNaN: true }), fc.double({ min: 0.5, max: 10, noNaN: true }), fc.integer({ min: 1, max: 100000 }), fc.double({ min: 1e-12, max: 0.1, noNaN: true }),
      (q, z, steps, delta) => {
        const orders = [1.5, 2, 3, 5, 8, 16, 32, 64]
        const rdp = computeRdp(q, z, steps, orders)
        assert.ok(epsilonFromRdp(orders, rdp, delta).epsilon <= epsilonFromRdp(orders, rdp, delta, 'classic').epsilon + 1e-12)
      }), { numRuns: 50 })
  })

  it('hostile inputs: typed errors', () => {
    const o = [2, 3]; const r = [0.1, 0.2]
    const bad: Array<() => unknown> = [
      () => epsilonFromRdp(o, r, 0), () => epsilonFromRdp(o, r, 1), () => epsilonFromRdp(o, r, 1.5),
      () => epsilonFromRdp(o, r, -1e-5), () => epsilonFromRdp(o, r, Number.NaN),
      () => epsilonFromRdp(o, [0.1], 1e-5), () => epsilonFromRdp([], [], 1e-5),
      () => epsilonFromRdp([0.5, 2], r, 1e-5), () => epsilonFromRdp(o, [-0.1, 0.2], 1e-5),
      () => epsilonFromRdp(o, [Number.NaN, 0.2], 1e-5), () => epsilonFromRdp(null as unknown as number[], r, 1e-5),
      () => deltaFromRdp(o, r, -1), () => deltaFromRdp(o, r, Number.NaN), () => deltaFromRdp(o, r, Infinity),
      () => deltaFromRdp(o, [0.1, 0.2, 0.3], 1)
    ]
    for (const f of bad) assert.throws(f, (e: Error) => e.name === 'InvalidPrivacyParameterError', String(f))
    // Infinite RDP at every order: no guarantee, reported as Infinity / delta 1, not NaN.
    assert.equal(epsilonFromRdp(o, [Infinity, Infinity], 1e-5).epsilon, Infinity)
    assert.equal(deltaFromRdp(o, [Infinity, Infinity], 1).delta, 1)
  })
})

describe('model/privacy/dpsgd: published DP-SGD epsilons', function () {
  this.timeout(60000)

  // [TFP-LIB] test_compute_dp_sgd_privacy: (n, batch, noise, epochs, delta, eps, order)
  const current: Array<[string, number, number, number, number, number, number, number]> = [
    ['Test0', 60000, 150, 1.3, 15, 1e-5, 0.7242234026109595, 19.0],
    ['Test1', 100000, 100, 1.0, 30, 1e-7, 1.4154988495444842, 13.0],
    ['Test2', 100000000, 1024, 0.1, 10, 1e-7, 5907982.3113984, 1.25]
  ]
  for (const [name, n, b, z, e, delta, eps, order] of current) {
    it(`[TFP-LIB] test_compute_dp_sgd_privacy ${name}: N=${n} B=${b} z=${z} E=${e} delta=${delta} -> eps ${eps} at order ${order}`, () => {
      const r = computeDpSgdPrivacy({ examples: n, batchSize: b, noiseMultiplier: z, epochs: e, delta })
      assertSig4(r.epsilon, eps)
      // The source asserts 7 decimal places; we hold those too.
      assert.ok(Math.abs(r.epsilon - eps) < 1e-7 * Math.max(1, eps), `${r.epsilon}`)
      assert.equal(r.order, order)
    })
  }

  // [TFP-LIB] at commit 10335f6 (2020), classic conversion eps = rdp - log(delta)/(order - 1)
  const classic: Array<[string, number, number, number, number, number, number, number]> = [
    ['Test0', 60000, 150, 1.3, 15, 1e-5, 0.941870567, 19.0],
    ['Test1', 100000, 100, 1.0, 30, 1e-7, 1.70928734, 13.0],
    ['Test2', 100000000, 1024, 0.1, 10, 1e-7, 5907984.81339406, 1.25]
  ]
  for (const [name, n, b, z, e, delta, eps, order] of classic) {
    it(`[TFP-LIB@2020] classic conversion ${name}: eps ${eps} at order ${order}`, () => {
      const r = computeDpSgdPrivacy({ examples: n, batchSize: b, noiseMultiplier: z, epochs: e, delta, conversion: 'classic' })
      assertSig4(r.epsilon, eps)
      assert.equal(r.order, order)
    })
  }

  it('[TFP-README] tutorial table (classic conversion, tutorial orders, N=60000, B=256, delta=1e-5): 1.19, 3.01, 7.10', () => {
    for (const [z, epochs, published] of [[1.3, 15, 1.19], [1.1, 60, 3.01], [0.7, 45, 7.10]] as const) {
      const q = 256 / 60000
      const steps = Math.ceil(epochs * 60000 / 256)
      const rdp = computeRdp(q, z, steps, TF_TUTORIAL_ORDERS)
      assert.equal(toSig(epsilonFromRdp(TF_TUTORIAL_ORDERS, rdp, 1e-5, 'classic').epsilon, 3), published, `z=${z} epochs=${epochs}`)
    }
    // "compute_dp_sgd_privacy.py --N=60000 --batch_size=256 --noise_multiplier=1.1 --epochs=60 --delta=1e-5 ... eps = 3.01"
    const r = computeDpSgdPrivacy({ examples: 60000, batchSize: 256, noiseMultiplier: 1.1, epochs: 60, delta: 1e-5, conversion: 'classic' })
    assert.equal(toSig(r.epsilon, 3), 3.01)
  })

  it('[TFP-LIB] test_compute_dp_sgd_example_privacy (RDP rows; epochs 1.2, z 0.7, delta 1e-5, dp_accounting default orders)', () => {
    // Microbatching halves the noise multiplier; with Poisson sampling q, count = ceil(epochs / q), else ceil(epochs) full-batch Gaussian steps.
    const rows: Array<[string, number, number | null, number]> = [
      ['no_microbatching_no_subsampling_rdp', 0.7, null, 10.8602036],
      ['microbatching_no_subsampling_rdp', 0.35, null, 26.2880374],
      ['no_microbatching_with_subsampling_rdp', 0.7, 1e-2, 3.2392676],
      ['microbatching_with_subsampling_rdp', 0.35, 1e-2, 22.6248601]
    ]
    for (const [name, z, q, expected] of rows) {
      const rdp = q === null ? computeRdp(1, z, Math.ceil(1.2), DEFAULT_RDP_ORDERS) : computeRdp(q, z, Math.ceil(1.2 / q), DEFAULT_RDP_ORDERS)
      const eps = epsilonFromRdp(DEFAULT_RDP_ORDERS, rdp, 1e-5).epsilon
      assertSig4(eps, expected, name)
      assert.ok(Math.abs(eps - expected) < 1e-6, `${name}: 7 places`)
    }
  })

  it('[TFP-LIB] test_dp_sgd_privacy_statement_*_with_rdp: N=10000, B=64, 5 epochs, z=2.0 with microbatching, delta=1e-6 -> 13.376 and 1.616', () => {
    const z = 2.0 / 2
    const once = epsilonFromRdp(DEFAULT_RDP_ORDERS, computeRdp(1, z, 5, DEFAULT_RDP_ORDERS), 1e-6).epsilon
    assert.equal(once.toFixed(3), '13.376')
    const q = 64 / 10000
    const poisson = epsilonFromRdp(DEFAULT_RDP_ORDERS, computeRdp(q, z, Math.ceil(5 / q), DEFAULT_RDP_ORDERS), 1e-6).epsilon
    assert.equal(poisson.toFixed(3), '1.616')
  })

  it('properties: epsilon decreases in the noise, increases in epochs and in the batch (q)', () => {
    const base = { examples: 60000, delta: 1e-5 }
    fc.assert(fc.property(fc.double({ min: 0.5, max: 5, noNaN: true }), fc.double({ min: 0.5, max: 5, noNaN: true }), fc.integer({ min: 16, max: 1024 }), fc.integer({ min: 1, max: 30 }),
      (z1, z2, batchSize, epochs) => {
        const [lo, hi] = z1 < z2 ? [z1, z2] : [z2, z1]
        const a = computeDpSgdPrivacy({ ...base, batchSize, epochs, noiseMultiplier: lo }).epsilon
        const b = computeDpSgdPrivacy({ ...base, batchSize, epochs, noiseMultiplier: hi }).epsilon
        assert.ok(b <= a * (1 + 1e-9), `z ${lo}->${hi}: ${a} -> ${b}`)
      }), { numRuns: 25 })
    fc.assert(fc.property(fc.double({ min: 0.6, max: 5, noNaN: true }), fc.integer({ min: 16, max: 1024 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }),
      (z, batchSize, e1, e2) => {
        const [lo, hi] = e1 < e2 ? [e1, e2] : [e2, e1]
        const a = computeDpSgdPrivacy({ ...base, batchSize, epochs: lo, noiseMultiplier: z }).epsilon
        const b = computeDpSgdPrivacy({ ...base, batchSize, epochs: hi, noiseMultiplier: z }).epsilon
        assert.ok(a <= b * (1 + 1e-9), `epochs ${lo}->${hi}: ${a} -> ${b}`)
      }), { numRuns: 25 })
    fc.assert(fc.property(fc.double({ min: 0.6, max: 5, noNaN: true }), fc.integer({ min: 16, max: 4096 }), fc.integer({ min: 16, max: 4096 }), fc.integer({ min: 1, max: 2000 }),
      (z, b1, b2, steps) => {
        // Fixed step count, growing q: use computeRdp directly so the step count does not change with B.
        const [lo, hi] = b1 < b2 ? [b1, b2] : [b2, b1]
        const e = (q: number): number => epsilonFromRdp(DEFAULT_RDP_ORDERS, computeRdp(q, z, steps, DEFAULT_RDP_ORDERS), 1e-5).epsilon
        assert.ok(e(lo / 60000) <= e(hi / 60000) * (1 + 1e-9) + 1e-12)
      }), { numRuns: 25 })
  })

  it('hostile DP-SGD parameters: typed errors', () => {
    const ok = { examples: 60000, batchSize: 256, noiseMultiplier: 1.1, epochs: 60, delta: 1e-5 }
    const bad: Array<Record<string, unknown>> = [
      { examples: 0 }, { examples: 1.5 }, { examples: Number.NaN }, { batchSize: 0 }, { batchSize: 60001 },
      { batchSize: -5 }, { noiseMultiplier: 0 }, { noiseMultiplier: -1 }, { noiseMultiplier: Number.NaN },
      { noiseMultiplier: Infinity }, { epochs: 0 }, { epochs: -1 }, { epochs: Infinity }, { delta: 0 }, { delta: 1 },
      { delta: 2 }, { delta: Number.NaN }, { epochs: 1e300 }, { orders: [] }, { orders: [0.5] }, { conversion: 'magic' }
    ]
    for (const patch of bad) {
      assert.throws(() => computeDpSgdPrivacy({ ...ok, ...patch } as typeof ok), (e: Error) => e.name === 'InvalidPrivacyParameterError', JSON.stringify(patch))
    }
    assert.throws(() => computeDpSgdPrivacy(null as unknown as typeof ok), (e: Error) => e.name === 'InvalidPrivacyParameterError')
  })
})
