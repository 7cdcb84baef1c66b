import assert from 'node:assert/strict'
import fc from 'fast-check'
import { clipL2, l2Norm, addGaussianNoise, gaussianFill, privatizeUpdate, difference, addScaled } from '../../src/model/update.ts'
import { quantizeInt8, dequantizeInt8 } from '../../src/model/quantize.ts'
import { deriveLayout, initialWeights, mnistSpec } from '../../src/model/spec.ts'
import { seededRng } from '../../src/util/rng.ts'

const vec = fc.float32Array({ minLength: 1, maxLength: 300, noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 })

describe('model/update: clipping and Gaussian noise', () => {
  it('clipL2: result norm <= C, direction kept, short vectors untouched (property)', () => {
    fc.assert(fc.property(vec, fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (v, C) => {
      const { vector, norm, factor } = clipL2(v, C)
      assert.ok(l2Norm(vector) <= C, `${l2Norm(vector)} > ${C}`)
      assert.ok(Math.abs(norm - l2Norm(v)) <= 1e-9 * Math.max(1, norm))
      if (norm <= C) { assert.equal(factor, 1); assert.deepEqual(vector, v) } else {
        assert.ok(l2Norm(vector) > C * (1 - 1e-5))
        for (let i = 0; i < v.length; i++) assert.ok(Math.abs(vector[i]! - v[i]! * factor) <= 1e-6 * Math.abs(v[i]!) + 1e-30)
      }
    }), { numRuns: 500 })
  })

  it('Gaussian noise: mean 0, std sigma*C, no lag-1 correlation; seeded and reproducible', () => {
    const n = 200_000
    const sigma = 1.3; const C = 0.7
    const out = addGaussianNoise(new Float32Array(n), sigma, C, seededRng(11))
    let s = 0; let s2 = 0; let s4 = 0; let lag = 0
    for (let i = 0; i < n; i++) { s += out[i]!; s2 += out[i]! ** 2; s4 += out[i]! ** 4; if (i > 0) lag += out[i]! * out[i - 1]! }
    const std = sigma * C
    const mean = s / n; const varr = s2 / n - mean * mean
    // 5-sigma bounds for n = 200,000 draws
    assert.ok(Math.abs(mean) < 5 * std / Math.sqrt(n), `mean ${mean}`)
    assert.ok(Math.abs(varr / (std * std) - 1) < 5 * Math.sqrt(2 / n), `var ratio ${varr / std ** 2}`)
    assert.ok(Math.abs(s4 / n / std ** 4 - 3) < 0.1, `kurtosis ${s4 / n / std ** 4}`)
    assert.ok(Math.abs(lag / n / std ** 2) < 5 / Math.sqrt(n), `lag-1 corr ${lag / n / std ** 2}`)
    assert.deepEqual(addGaussianNoise(new Float32Array(10), 1, 1, seededRng(1)), addGaussianNoise(new Float32Array(10), 1, 1, seededRng(1)))
    assert.notDeepEqual(addGaussianNoise(new Float32Array(10), 1, 1, seededRng(1)), addGaussianNoise(new Float32Array(10), 1, 1, seededRng(2)))
    assert.deepEqual(addGaussianNoise(Float32Array.of(1, 2, 3), 0, 1, seededRng(1)), Float32Array.of(1, 2, 3))
    assert.ok(gaussianFill(new Float32Array(1001), 1, seededRng(3)).every(Number.isFinite))
  })

  it('privatizeUpdate = clip then noise; difference/addScaled invert', () => {
    const v = Float32Array.of(3, 4)
    const p = privatizeUpdate(v, 1, 0, seededRng(1))
    assert.equal(p.norm, 5)
    assert.ok(Math.abs(l2Norm(p.vector) - 1) < 1e-5)
    const a = Float32Array.of(1, 2, 3); const b = Float32Array.of(0.5, 0.5, 0.5)
    assert.deepEqual(addScaled(b, difference(a, b)), a)
  })

  it('hostile parameters give TrainingParamsError', () => {
    for (const C of [0, -1, NaN, Infinity]) assert.throws(() => clipL2(Float32Array.of(1), C), { name: 'TrainingParamsError' })
    assert.throws(() => clipL2(Float32Array.of(NaN), 1), { name: 'TrainingParamsError' })
    assert.throws(() => addGaussianNoise(Float32Array.of(1), -1, 1, seededRng(1)), { name: 'TrainingParamsError' })
    assert.throws(() => addGaussianNoise(Float32Array.of(1), NaN, 1, seededRng(1)), { name: 'TrainingParamsError' })
    assert.throws(() => difference(Float32Array.of(1), Float32Array.of(1, 2)), { name: 'TrainingParamsError' })
  })
})

describe('model/quantize: int8 per-tensor symmetric', () => {
  it('dequantize(quantize(w)) is within half a step of w, per tensor (property)', () => {
    fc.assert(fc.property(vec, (w) => {
      const q = quantizeInt8(w)
      const d = dequantizeInt8(q)
      const step = q.scales[0]!
      for (let i = 0; i < w.length; i++) assert.ok(Math.abs(d[i]! - w[i]!) <= step / 2 * (1 + 1e-6) + 1e-30)
      assert.ok(q.q.every((x) => x >= -127 && x <= 127))
    }), { numRuns: 300 })
  })

  it('uses one scale per layout tensor; max |w| maps to 127', () => {
    const spec = mnistSpec('mlp')
    const layout = deriveLayout(spec)
    const w = initialWeights(spec, seededRng(5))
    const q = quantizeInt8(w, layout)
    assert.equal(q.scales.length, 4)
    assert.equal(q.scales[1], 1) // zero biases: scale 1, all q = 0
    const k0 = layout.tensors[0]!
    let maxq = 0
    for (let i = 0; i < k0.size; i++) maxq = Math.max(maxq, Math.abs(q.q[i]!))
    assert.equal(maxq, 127)
    assert.throws(() => quantizeInt8(w.subarray(1), layout), { name: 'TrainingParamsError' })
    assert.throws(() => quantizeInt8(Float32Array.of(1, NaN)), { name: 'TrainingParamsError' })
  })
})
