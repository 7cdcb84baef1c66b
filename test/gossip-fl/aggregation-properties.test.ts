/**
 * Robustness properties of the aggregation rules (fast-check), and an exhaustive
 * 0-1-principle check of the sorting networks behind the median and trimmed mean.
 *
 * Convention: inputs 0..h-1 are honest, h..n-1 are Byzantine (arbitrary finite
 * float32 values, including huge ones).
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  coordinateMedian, trimmedMean, krum, multiKrum, geometricMedian, centeredClipping,
  batcherNetwork, selectionNetwork, fuseComparators, expandOps, selectionSchedule, distance
} from '../../src/gossip-fl/aggregation/index.ts'

const RUNS = { numRuns: 150, seed: 20261122 }

const honestValue = fc.float({ min: Math.fround(-10), max: Math.fround(10), noNaN: true, noDefaultInfinity: true })
const anyValue = fc.float({ noNaN: true, noDefaultInfinity: true }) // any finite float32, up to ±3.4e38

/** n, d, and (h honest + f Byzantine) rows with f < n/2. */
function scenario(maxN: number, maxD: number) {
  return fc.record({ n: fc.integer({ min: 1, max: maxN }), d: fc.integer({ min: 1, max: maxD }) }).chain(({ n, d }) =>
    fc.integer({ min: 0, max: Math.floor((n - 1) / 2) }).chain((f) =>
      fc.record({
        honest: fc.array(fc.array(honestValue, { minLength: d, maxLength: d }), { minLength: n - f, maxLength: n - f }),
        byz: fc.array(fc.array(anyValue, { minLength: d, maxLength: d }), { minLength: f, maxLength: f })
      }).map(({ honest, byz }) => ({ n, d, f, honest: honest.map((r) => Float32Array.from(r)), byz: byz.map((r) => Float32Array.from(r)) }))
    )
  )
}

function honestRange(honest: Float32Array[], j: number): [number, number] {
  let lo = Infinity
  let hi = -Infinity
  for (const x of honest) { lo = Math.min(lo, x[j]); hi = Math.max(hi, x[j]) }
  return [lo, hi]
}

describe('gossip-fl/aggregation: robustness properties (fast-check)', () => {
  it('coordinate median stays inside the honest range per coordinate with f < n/2 outliers', () => {
    fc.assert(fc.property(scenario(25, 6), fc.boolean(), ({ d, honest, byz }, mix) => {
      const inputs = mix ? [...byz, ...honest] : [...honest, ...byz]
      const m = coordinateMedian(inputs).aggregate
      for (let j = 0; j < d; j++) {
        const [lo, hi] = honestRange(honest, j)
        if (!(m[j] >= lo && m[j] <= hi)) return false
      }
      return true
    }), RUNS)
  })

  it('trimmed mean stays inside the honest range when the trim count b >= f', () => {
    fc.assert(fc.property(scenario(25, 6), fc.integer({ min: 0, max: 12 }), ({ n, d, f, honest, byz }, extra) => {
      const b = Math.min(f + extra, Math.floor((n - 1) / 2))
      const m = trimmedMean([...byz, ...honest], undefined, { trimCount: b }).aggregate
      for (let j = 0; j < d; j++) {
        const [lo, hi] = honestRange(honest, j)
        if (!(m[j] >= lo && m[j] <= hi)) return false
      }
      return true
    }), RUNS)
  })

  it('Krum and Multi-Krum (m <= n - f) never select a far outlier', () => {
    const arb = fc.record({ f: fc.integer({ min: 0, max: 4 }), extra: fc.integer({ min: 0, max: 6 }), d: fc.integer({ min: 1, max: 5 }) }).chain(({ f, extra, d }) => {
      const h = f + 3 + extra // n = h + f >= 2f + 3
      const far = fc.float({ min: Math.fround(1000), max: Math.fround(1e30), noNaN: true })
      return fc.record({
        f: fc.constant(f),
        honest: fc.array(fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: d, maxLength: d }), { minLength: h, maxLength: h }),
        // Each outlier has at least one coordinate of magnitude >= 1000; the rest is arbitrary.
        byz: fc.array(fc.tuple(fc.array(anyValue, { minLength: d, maxLength: d }), fc.integer({ min: 0, max: d - 1 }), far, fc.boolean()), { minLength: f, maxLength: f }),
        m: fc.integer({ min: 1, max: h })
      })
    })
    fc.assert(fc.property(arb, ({ f, honest, byz, m }) => {
      const h = honest.length
      const outliers = byz.map(([row, k, mag, neg]) => {
        const x = Float32Array.from(row)
        x[k] = neg ? -mag : mag
        return x
      })
      const inputs = [...honest.map((r) => Float32Array.from(r)), ...outliers]
      const k = krum(inputs, undefined, { f })
      const mk = multiKrum(inputs, undefined, { f, m })
      return k.selected!.every((i) => i < h) && mk.selected!.every((i) => i < h)
    }), RUNS)
  })

  it('geometric median moves at most C_α · r from the honest centre under f < n/2 outliers (Minsker 2015, Lemma 2.1)', () => {
    fc.assert(fc.property(scenario(15, 4), ({ n, f, honest, byz }) => {
      // Honest centre y = their coordinate mean; r = max honest distance to y.
      const d = honest[0].length
      const y = new Float32Array(d)
      for (const x of honest) for (let j = 0; j < d; j++) y[j] += x[j] / honest.length
      let r = 0
      for (const x of honest) r = Math.max(r, distance(x, y))
      const alpha = Math.max(f / n, 1e-9)
      const bound = ((1 - alpha) / Math.sqrt(1 - 2 * alpha)) * r
      const g = geometricMedian([...byz, ...honest], undefined, { maxIterations: 3000, tolerance: 0, smoothing: 1e-9 }).aggregate
      const moved = distance(g, y)
      // Slack covers the finite iteration count and float32 rounding of y and g.
      return moved <= bound * 1.01 + 1e-3
    }), { ...RUNS, numRuns: 100 })
  })

  it('centered clipping: one step moves at most tau; f Byzantine inputs shift it by at most 2·tau·f/n', () => {
    const arb = fc.record({
      sc: scenario(20, 5),
      tau: fc.double({ min: 0.01, max: 50, noNaN: true }),
      center: fc.array(honestValue, { minLength: 5, maxLength: 5 }),
      seedByz: fc.array(fc.array(anyValue, { minLength: 5, maxLength: 5 }), { minLength: 10, maxLength: 10 })
    })
    fc.assert(fc.property(arb, ({ sc, tau, center, seedByz }) => {
      const { n, d, f, honest, byz } = sc
      const state = { rule: 'centered-clipping' as const, center: Float32Array.from(center.slice(0, d)) }
      const a = centeredClipping([...honest, ...byz], state, { tau }).aggregate
      // Same honest inputs, different Byzantine inputs.
      const byz2 = byz.map((_, i) => Float32Array.from(seedByz[i].slice(0, d)))
      const b = centeredClipping([...honest, ...byz2], state, { tau }).aggregate
      const slack = 1e-5 * (1 + tau + Math.sqrt(d) * 10)
      const step = distance(a, state.center)
      return step <= tau + slack && distance(a, b) <= (2 * tau * f) / n + slack
    }), RUNS)
  })
})

describe('gossip-fl/aggregation: sorting networks (0-1 principle, exhaustive)', () => {
  /**
   * Bit-parallel 0-1 check: wire i holds, for every m in [0, 2^n), bit i of m. A
   * network sorts all inputs iff it sorts all 0-1 inputs (Knuth, TAOCP 5.3.4,
   * Theorem Z). Comparators on 0-1 values are AND (min) and OR (max).
   */
  function run01(n: number, net: Int32Array): Uint32Array[] {
    const words = Math.max(1, (1 << n) >>> 5)
    const wires: Uint32Array[] = []
    for (let i = 0; i < n; i++) {
      const w = new Uint32Array(words)
      for (let k = 0; k < words; k++) {
        if (i < 5) {
          // bit i of m for m = 32k + b, b = 0..31
          let word = 0
          for (let b = 0; b < 32; b++) if ((b >> i) & 1) word |= 1 << b
          w[k] = word >>> 0
        } else {
          w[k] = ((k >> (i - 5)) & 1) === 1 ? 0xffffffff : 0
        }
      }
      wires.push(w)
    }
    for (let c = 0; c < net.length; c += 2) {
      const a = wires[net[c]]
      const b = wires[net[c + 1]]
      for (let k = 0; k < words; k++) {
        const x = a[k]
        const y = b[k]
        a[k] = x & y
        b[k] = x | y
      }
    }
    return wires
  }
  // Valid patterns: m < 2^n; for n < 5 only the low 2^n bits of the single word count.
  const mask = (n: number): number => (n >= 5 ? 0xffffffff : ((1 << (1 << n)) - 1) >>> 0)

  it('Batcher networks, plain and fused, sort every 0-1 input for n = 2..21', () => {
    for (let n = 2; n <= 21; n++) {
      for (const w of [run01(n, batcherNetwork(n)), run01(n, expandOps(fuseComparators(batcherNetwork(n))))]) {
        for (let i = 0; i + 1 < n; i++) {
          for (let k = 0; k < w[i].length; k++) assert.equal(((w[i][k] & ~w[i + 1][k]) & mask(n)) >>> 0, 0, `n=${n} wires ${i},${i + 1}`)
        }
      }
    }
  })

  it('pruned selection networks produce the same order statistics as the full network', () => {
    for (let n = 2; n <= 21; n++) {
      const full = run01(n, batcherNetwork(n))
      const ranges: Array<[number, number]> = [[(n - 1) >> 1, n >> 1], [0, 0], [n - 1, n - 1], [Math.floor(n / 4), n - 1 - Math.floor(n / 4)]]
      for (const [lo, hi] of ranges) {
        const net = selectionNetwork(n, lo, hi)
        assert.ok(net.length <= batcherNetwork(n).length)
        // The fused schedule the kernel runs is the same network, reordered.
        const fused = expandOps(selectionSchedule(n, lo, hi))
        assert.equal(fused.length, net.length)
        for (const w of [run01(n, net), run01(n, fused)]) {
          for (let i = lo; i <= hi; i++) {
            for (let k = 0; k < w[i].length; k++) assert.equal(((w[i][k] ^ full[i][k]) & mask(n)) >>> 0, 0, `n=${n} [${lo},${hi}] wire ${i}`)
          }
        }
      }
    }
  })
})
