/**
 * Data-independent feature maps (src/model/features): the FFT against the DFT
 * definition, the scattering transform's defining invariances (zero-mean
 * wavelets, homogeneity, covariance to 2^J translations), pooling, and hostile inputs.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { fftPlan, fft1d, fft2d } from '../../../src/model/features/fft.ts'
import { scatteringBank, scatterImages } from '../../../src/model/features/scattering.ts'
import { applyFeatures, isFeatureName, FEATURE_NAMES } from '../../../src/model/features/index.ts'
import { makeDataset } from '../../../src/model/dataset.ts'
import { seededRng } from '../../../src/util/rng.ts'

const isParamError = (e: Error): boolean => e.name === 'InvalidParametersError'

function randomArray(n: number, seed: string): Float64Array {
  const rng = seededRng(seed)
  return Float64Array.from({ length: n }, () => rng.nextFloat() * 2 - 1)
}

/** A 28 x 28 image: random strokes in rows/cols [6, 22). */
function image(seed: string): Float32Array {
  const rng = seededRng(seed)
  const x = new Float32Array(28 * 28)
  for (let i = 6; i < 22; i++) for (let j = 6; j < 22; j++) x[i * 28 + j] = rng.nextFloat() < 0.3 ? rng.nextFloat() : 0
  return x
}

describe('model/features/fft', function () {
  this.timeout(60000)

  it('matches the DFT definition X[k] = sum x[t] e^(-2 pi i k t / n), and the inverse undoes it', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 1e6 }), (b, s) => {
      const n = 1 << b
      const re = randomArray(n, `re${s}`)
      const im = randomArray(n, `im${s}`)
      const r = Float64Array.from(re); const i = Float64Array.from(im)
      const plan = fftPlan(n)
      fft1d(plan, r, i)
      for (let k = 0; k < n; k++) {
        let sr = 0; let si = 0
        for (let t = 0; t < n; t++) {
          const a = -2 * Math.PI * k * t / n
          sr += re[t]! * Math.cos(a) - im[t]! * Math.sin(a)
          si += re[t]! * Math.sin(a) + im[t]! * Math.cos(a)
        }
        assert.ok(Math.abs(sr - r[k]!) < 1e-9 && Math.abs(si - i[k]!) < 1e-9)
      }
      fft1d(plan, r, i, 0, 1, true)
      for (let t = 0; t < n; t++) assert.ok(Math.abs(r[t]! - re[t]!) < 1e-12 && Math.abs(i[t]! - im[t]!) < 1e-12)
    }), { numRuns: 30, seed: 1 })
  })

  it('2-D: Parseval (sum |X|^2 = n^2 sum |x|^2) and round trip', () => {
    const n = 16
    const re = randomArray(n * n, 'a'); const im = new Float64Array(n * n)
    const r = Float64Array.from(re); const i = Float64Array.from(im)
    const plan = fftPlan(n)
    fft2d(plan, r, i)
    let e0 = 0; let e1 = 0
    for (let t = 0; t < n * n; t++) { e0 += re[t]! ** 2; e1 += r[t]! ** 2 + i[t]! ** 2 }
    assert.ok(Math.abs(e1 / (n * n) - e0) < 1e-9 * e0)
    fft2d(plan, r, i, true)
    for (let t = 0; t < n * n; t++) assert.ok(Math.abs(r[t]! - re[t]!) < 1e-12)
  })

  it('hostile lengths are typed errors', () => {
    for (const n of [0, 3, 12, -8, 1.5, Number.NaN, 1 << 20]) assert.throws(() => fftPlan(n), isParamError)
    assert.throws(() => fft2d(fftPlan(8), new Float64Array(63), new Float64Array(64)), isParamError)
  })
})

describe('model/features/scattering', function () {
  this.timeout(60000)
  const raw = scatteringBank(28, { normalize: 'none' })

  it('shape: J = 2, L = 8 gives 17 channels (order 1) and 81 (order 2) on an 8 x 8 grid', () => {
    assert.deepEqual(raw.outShape, [8, 8, 17])
    assert.equal(raw.n, 32)
    assert.deepEqual(scatteringBank(28, { order: 2 }).outShape, [8, 8, 81])
    assert.equal(scatteringBank(28, { J: 3, L: 4 }).channels, 13)
  })

  it('the wavelets have zero mean: a constant image has zero order-1 coefficients', () => {
    for (const psi of raw.psi) assert.ok(Math.abs(psi[0]!) < 1e-9)
    const side = 28
    const x = new Float32Array(side * side).fill(0.7)
    // a constant over the whole padded grid: use a bank whose padding is zero-width is impossible, so check the centre instead
    const out = scatterImages(raw, x, 1)
    const K = raw.channels
    const centre = (3 * 8 + 3) * K
    assert.ok(out[centre]! > 0.3) // order 0 ~ local mean
    for (let c = 1; c < K; c++) assert.ok(Math.abs(out[centre + c]!) < 0.02 * out[centre]!, `channel ${c}: ${out[centre + c]}`)
  })

  it('homogeneous: S(a x) = |a| S(x) for a > 0 (order 0 is linear, modulus is 1-homogeneous)', () => {
    const x = image('h')
    const a = 2.5
    const s1 = scatterImages(raw, x, 1)
    const s2 = scatterImages(raw, x.map(v => v * a), 1)
    for (let k = 0; k < s1.length; k++) assert.ok(Math.abs(s2[k]! - a * s1[k]!) < 1e-4 * (1 + Math.abs(a * s1[k]!)))
  })

  it('covariant to translations by 2^J: shifting the digit 4 pixels shifts every map by one position', () => {
    const x = image('t')
    const y = new Float32Array(28 * 28)
    for (let i = 0; i < 28; i++) for (let j = 0; j + 4 < 28; j++) y[i * 28 + j + 4] = x[i * 28 + j]!
    const bank2 = scatteringBank(28, { normalize: 'none', order: 2 })
    const sx = scatterImages(bank2, x, 1)
    const sy = scatterImages(bank2, y, 1)
    const K = bank2.channels
    for (let a = 0; a < 8; a++) {
      for (let b = 0; b < 8; b++) {
        for (let c = 0; c < K; c++) {
          const want = sx[(a * 8 + ((b + 7) % 8)) * K + c]!
          assert.ok(Math.abs(sy[(a * 8 + b) * K + c]! - want) < 1e-5, `(${a},${b},${c})`)
        }
      }
    }
  })

  it("'group' normalisation: unit-norm feature vectors, finite", () => {
    const bank = scatteringBank(28)
    const out = scatterImages(bank, Float32Array.from([...image('a'), ...image('b')]), 2)
    const per = 8 * 8 * 17
    for (let i = 0; i < 2; i++) {
      let s = 0
      for (let k = 0; k < per; k++) { assert.ok(Number.isFinite(out[i * per + k]!)); s += out[i * per + k]! ** 2 }
      assert.ok(Math.abs(s - 1) < 1e-4)
    }
    // an all-zero image stays zero (no division by zero)
    assert.ok(scatterImages(bank, new Float32Array(784), 1).every(v => v === 0))
  })

  it('hostile inputs are typed errors', () => {
    for (const o of [{ J: 0 }, { J: 5 }, { L: 0 }, { L: 17 }, { order: 3 }, { normalize: 'x' }, { J: 1.5 }]) assert.throws(() => scatteringBank(28, o as never), isParamError)
    for (const s of [3, 257, 28.5, Number.NaN]) assert.throws(() => scatteringBank(s), isParamError)
    assert.throws(() => scatterImages(raw, new Float32Array(783), 1), isParamError)
    assert.throws(() => scatterImages(raw, new Float32Array(784), 2), isParamError)
    assert.throws(() => scatterImages(raw, new Float32Array(784).fill(Number.NaN), 1), isParamError)
    assert.throws(() => scatterImages(raw, [0] as never, 1), isParamError)
  })
})

describe('model/features: applyFeatures', function () {
  this.timeout(60000)
  const x = new Float32Array(3 * 784)
  x.set(image('p'), 0); x.set(image('q'), 784); x.set(image('r'), 1568)
  const data = makeDataset(x, Uint8Array.from([1, 2, 3]), [28, 28, 1], 10)

  it('names, memoisation, and pool2 values', () => {
    assert.deepEqual([...FEATURE_NAMES], ['none', 'scatter', 'scatter2', 'pool2'])
    assert.ok(isFeatureName('scatter') && !isFeatureName('SCATTER') && !isFeatureName(3))
    assert.equal(applyFeatures('none', data), data)
    const s = applyFeatures('scatter', data)
    assert.deepEqual(s.shape, [8, 8, 17]); assert.equal(s.n, 3); assert.deepEqual([...s.y], [1, 2, 3])
    assert.equal(applyFeatures('scatter', data), s) // memoised
    const p = applyFeatures('pool2', data)
    assert.deepEqual(p.shape, [14, 14, 1])
    for (const [a, b] of [[3, 4], [7, 9], [10, 10]]) {
      const q = 2 * a * 28 + 2 * b
      assert.ok(Math.abs(p.x[a * 14 + b]! - (x[q]! + x[q + 1]! + x[q + 28]! + x[q + 29]!) / 4) < 1e-7)
    }
  })

  it('hostile inputs are typed errors', () => {
    assert.throws(() => applyFeatures('sift', data), isParamError)
    assert.throws(() => applyFeatures('scatter', null as never), isParamError)
    const rect = makeDataset(new Float32Array(2 * 28 * 14), Uint8Array.from([0, 1]), [28, 14, 1], 10)
    assert.throws(() => applyFeatures('scatter', rect), isParamError)
    const odd = makeDataset(new Float32Array(9), Uint8Array.from([0]), [3, 3, 1], 10)
    assert.throws(() => applyFeatures('pool2', odd), isParamError)
    const rgb = makeDataset(new Float32Array(2 * 8 * 8 * 3), Uint8Array.from([0, 1]), [8, 8, 3], 10)
    assert.throws(() => applyFeatures('scatter', rgb), isParamError)
  })
})
