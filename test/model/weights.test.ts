import assert from 'node:assert/strict'
import fc from 'fast-check'
import { deriveLayout, initialWeights, mnistSpec, normalizeSpec, type ModelSpec } from '../../src/model/spec.ts'
import { flatten, unflatten, verifyWeights } from '../../src/model/weights.ts'
import { seededRng } from '../../src/util/rng.ts'

describe('model/spec and model/weights: layouts, hashes, flat vectors', () => {
  it('parameter counts: softmax 7,850, MLP 784-128-10 101,770, CNN 5,994', () => {
    assert.equal(deriveLayout(mnistSpec('softmax')).total, 7850)
    assert.equal(deriveLayout(mnistSpec('mlp')).total, 101770)
    assert.equal(deriveLayout(mnistSpec('cnn')).total, 5994)
    assert.deepEqual(deriveLayout(mnistSpec('cnn')).tensors.map((t) => t.name), ['conv0/kernel', 'conv0/bias', 'conv1/kernel', 'conv1/bias', 'dense0/kernel', 'dense0/bias'])
    assert.deepEqual(deriveLayout(mnistSpec('mlp')).tensors.map((t) => [t.shape, t.offset]), [[[784, 128], 0], [[128], 100352], [[128, 10], 100480], [[10], 101760]])
  })

  it('layout hash is stable, 64 hex chars, and differs across specs', () => {
    const h = deriveLayout(mnistSpec('mlp')).hash
    assert.match(h, /^[0-9a-f]{64}$/)
    assert.equal(deriveLayout({ arch: 'mlp', inputShape: [28, 28, 1], classes: 10 }).hash, h) // default hidden [128]
    const others: ModelSpec[] = [mnistSpec('softmax'), mnistSpec('cnn'), { ...mnistSpec('mlp'), hidden: [129] }, { ...mnistSpec('mlp'), classes: 11 }, { ...mnistSpec('mlp'), inputShape: [784] }]
    for (const s of others) assert.notEqual(deriveLayout(s).hash, h)
  })

  it('initial weights are deterministic from the seed, Glorot-bounded, zero biases', () => {
    const spec = mnistSpec('mlp')
    const a = initialWeights(spec, seededRng(1))
    assert.deepEqual(a, initialWeights(spec, seededRng(1)))
    assert.notDeepEqual(a, initialWeights(spec, seededRng(2)))
    const layout = deriveLayout(spec)
    const [k0, b0] = unflatten(a, layout)
    const limit = Math.sqrt(6 / (784 + 128))
    assert.ok(k0!.every((v) => Math.abs(v) <= limit))
    assert.ok(b0!.every((v) => v === 0))
  })

  it('flatten / unflatten round-trip (property)', () => {
    const layout = deriveLayout(mnistSpec('cnn'))
    fc.assert(fc.property(fc.integer(), (seed) => {
      const w = initialWeights(mnistSpec('cnn'), seededRng(seed))
      const parts = unflatten(w, layout).map((p) => Float32Array.from(p))
      assert.deepEqual(flatten(parts, layout), w)
      parts.forEach((p, i) => assert.equal(p.length, layout.tensors[i]!.size))
    }), { numRuns: 30 })
  })

  it('verifyWeights rejects a wrong hash, wrong length and non-finite values with LayoutMismatchError', () => {
    const spec = mnistSpec('softmax')
    const layout = deriveLayout(spec)
    const w = initialWeights(spec, seededRng(1))
    assert.equal(verifyWeights(w, spec, layout.hash).hash, layout.hash)
    assert.throws(() => verifyWeights(w, spec, deriveLayout(mnistSpec('mlp')).hash), { name: 'LayoutMismatchError' })
    assert.throws(() => verifyWeights(w.subarray(1), spec), { name: 'LayoutMismatchError' })
    assert.throws(() => verifyWeights(new Float32Array(101770), spec), { name: 'LayoutMismatchError' })
    for (const v of [NaN, Infinity, -Infinity]) {
      const bad = Float32Array.from(w); bad[7849] = v
      assert.throws(() => verifyWeights(bad, spec), { name: 'LayoutMismatchError' })
    }
    assert.throws(() => verifyWeights(new Float64Array(7850) as unknown as Float32Array, spec), { name: 'LayoutMismatchError' })
    assert.throws(() => flatten([new Float32Array(7841), new Float32Array(9)], layout), { name: 'LayoutMismatchError' })
    assert.throws(() => flatten([new Float32Array(7840)], layout), { name: 'LayoutMismatchError' })
  })

  it('rejects bad specs with ModelSpecError', () => {
    const bad: unknown[] = [null, {}, { arch: 'rnn', inputShape: [784], classes: 10 }, { arch: 'mlp', inputShape: [], classes: 10 }, { arch: 'mlp', inputShape: [0], classes: 10 },
      { arch: 'mlp', inputShape: [784], classes: 1 }, { arch: 'mlp', inputShape: [784], classes: 10, hidden: [] }, { arch: 'mlp', inputShape: [784], classes: 10, hidden: [1.5] },
      { arch: 'softmax', inputShape: [784], classes: 10, hidden: [3] }, { arch: 'cnn', inputShape: [784], classes: 10 }, { arch: 'cnn', inputShape: [8, 8, 1], classes: 10 },
      { arch: 'mlp', inputShape: [65536, 65536], classes: 10, hidden: [65536] }]
    for (const s of bad) assert.throws(() => deriveLayout(s as ModelSpec), { name: 'ModelSpecError' }, JSON.stringify(s))
    assert.deepEqual(normalizeSpec({ arch: 'mlp', inputShape: [784], classes: 10 }).hidden, [128])
  })
})
