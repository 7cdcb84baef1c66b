import assert from 'node:assert/strict'
import * as tf from '@tensorflow/tfjs'
import { initBackend } from '../../src/model/backend.ts'
import { loadMnist } from '../../src/model/data-node.ts'
import { deriveLayout, initialWeights, mnistSpec, type ModelSpec } from '../../src/model/spec.ts'
import { ghostClippedGradSum, microbatchClippedGradSum, type ClippedSum } from '../../src/model/dp-sgd.ts'
import { forward, paramTensors, perExampleLoss } from '../../src/model/network.ts'
import { clipL2, l2Norm } from '../../src/model/update.ts'
import { trainLocal } from '../../src/model/train.ts'
import { head } from '../../src/model/dataset.ts'
import type { Dataset } from '../../src/model/dataset.ts'
import { seededRng } from '../../src/util/rng.ts'

function batch(data: Dataset, spec: ModelSpec, from: number, b: number, scaleFirst = 1): { x: tf.Tensor, onehot: tf.Tensor2D } {
  const f = 784
  const xs = Float32Array.from(data.x.subarray(from * f, (from + b) * f))
  for (let i = 0; i < f; i++) xs[i] = xs[i]! * scaleFirst // one outlier example with a huge gradient
  return {
    x: tf.tensor(xs, [b, ...spec.inputShape]),
    onehot: tf.oneHot(tf.tensor1d(Array.from(data.y.subarray(from, from + b)), 'int32'), 10).toFloat() as tf.Tensor2D
  }
}

function flat(ts: tf.Tensor[]): Float32Array {
  const parts = ts.map((t) => t.dataSync() as Float32Array)
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

/** The naive reference: each example's gradient alone, clipped with the pure clipL2, summed. */
function naiveClippedSum(spec: ModelSpec, params: tf.Tensor[], x: tf.Tensor, onehot: tf.Tensor2D, C: number): { sum: Float32Array, norms: number[], contributions: Float32Array[] } {
  const B = x.shape[0]!
  const total = params.reduce((a, p) => a + p.size, 0)
  const sum = new Float32Array(total)
  const norms: number[] = []
  const contributions: Float32Array[] = []
  for (let i = 0; i < B; i++) {
    const g = tf.tidy(() => {
      const f = (...ps: tf.Tensor[]): tf.Scalar => tf.sum(perExampleLoss(forward(spec, ps, x.slice(i, 1)), onehot.slice(i, 1))) as tf.Scalar
      return flat(tf.grads(f)(params))
    })
    norms.push(l2Norm(g))
    const c = clipL2(g, C).vector
    contributions.push(c)
    for (let k = 0; k < total; k++) sum[k]! += c[k]!
  }
  return { sum, norms, contributions }
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let num = 0
  let den = 0
  for (let i = 0; i < a.length; i++) { num = Math.max(num, Math.abs(a[i]! - b[i]!)); den = Math.max(den, Math.abs(b[i]!)) }
  return num / Math.max(den, 1e-12)
}

describe('model/dp-sgd: per-example clipping (ghost norms and microbatches)', () => {
  let data: Dataset
  before(async () => {
    await initBackend({ quiet: true })
    data = await loadMnist('train')
  })

  for (const arch of ['softmax', 'mlp'] as const) {
    it(`${arch}: ghost-norm clipped sum equals the naive per-example computation; each contribution <= C`, () => {
      const spec = mnistSpec(arch)
      const params = paramTensors(deriveLayout(spec), initialWeights(spec, seededRng(3)))
      const { x, onehot } = batch(data, spec, 100, 6, 40)
      const C = 0.5
      const naive = naiveClippedSum(spec, params, x, onehot, C)
      const [ghostSum, ghostNorms] = tf.tidy(() => { const g = ghostClippedGradSum(params, x, onehot, C); return [flat(g.sum), Array.from(g.norms.dataSync())] })
      for (let i = 0; i < 6; i++) assert.ok(Math.abs(ghostNorms[i]! - naive.norms[i]!) <= 1e-4 * naive.norms[i]!, `norm ${i}: ghost ${ghostNorms[i]} naive ${naive.norms[i]}`)
      assert.ok(naive.norms[0]! > C && naive.norms.some((n) => n < 40 * C), 'the batch mixes clipped and barely clipped examples')
      assert.ok(maxRelDiff(ghostSum!, naive.sum) < 1e-4, `rel diff ${maxRelDiff(ghostSum!, naive.sum)}`)
      for (const c of naive.contributions) assert.ok(l2Norm(c) <= C)
      // Linearity: the batch sum is the sum of single-example clipped sums, each of norm <= C.
      const singles = Array.from({ length: 6 }, (_, i) => tf.tidy(() => flat(ghostClippedGradSum(params, x.slice(i, 1), onehot.slice(i, 1), C).sum)))
      for (const s of singles) assert.ok(l2Norm(s) <= C * (1 + 1e-5), `single contribution ${l2Norm(s)} > C`)
      const summed = singles.reduce((a, s) => a.map((v, k) => v + s[k]!), new Float32Array(ghostSum!.length))
      assert.ok(maxRelDiff(ghostSum!, summed) < 1e-4)
      x.dispose(); onehot.dispose(); params.forEach((p) => p.dispose())
    })
  }

  it('cnn: microbatch clipping equals the naive computation and bounds each example', () => {
    const spec = mnistSpec('cnn')
    const params = paramTensors(deriveLayout(spec), initialWeights(spec, seededRng(4)))
    const { x, onehot } = batch(data, spec, 7, 3, 30)
    const C = 0.3
    const naive = naiveClippedSum(spec, params, x, onehot, C)
    const got = tf.tidy(() => { const g: ClippedSum = microbatchClippedGradSum(spec, params, x, onehot, C); return { sum: flat(g.sum), norms: Array.from(g.norms.dataSync()) } })
    got.norms.forEach((n, i) => assert.ok(Math.abs(n - naive.norms[i]!) <= 1e-4 * naive.norms[i]!))
    assert.ok(maxRelDiff(got.sum, naive.sum) < 1e-4)
    assert.ok(l2Norm(got.sum) <= 3 * C)
    x.dispose(); onehot.dispose(); params.forEach((p) => p.dispose())
  })

  it('DP-SGD training runs with Poisson sampling, reports its accounting inputs, and is reproducible', async () => {
    const spec = mnistSpec('softmax')
    const w0 = initialWeights(spec, seededRng(1))
    const opts = { epochs: 1, batchSize: 64, lr: 0.5, seed: 5, dp: { clip: 1, noiseMultiplier: 1.1 } }
    const small = head(data, 2000)
    const a = await trainLocal(spec, w0, small, opts)
    const b = await trainLocal(spec, w0, small, opts)
    assert.deepEqual(a.weights, b.weights)
    assert.equal(a.metrics.dp!.method, 'ghost')
    assert.equal(a.metrics.dp!.steps, Math.round(2000 / 64))
    assert.ok(Math.abs(a.metrics.dp!.samplingRate - 64 / 2000) < 1e-12)
    assert.ok(a.metrics.dp!.clippedFraction > 0 && a.metrics.dp!.clippedFraction <= 1)
    assert.ok(Math.abs(a.metrics.examples - 2000) < 300, `Poisson batches sum to about n, got ${a.metrics.examples}`)
    const c = await trainLocal(spec, w0, small, { ...opts, seed: 6 })
    assert.notDeepEqual(a.weights, c.weights)
    await assert.rejects(trainLocal(mnistSpec('cnn'), initialWeights(mnistSpec('cnn'), seededRng(1)), small, { ...opts, dp: { clip: 1, noiseMultiplier: 1, method: 'ghost' } }), { name: 'TrainingParamsError' })
  })
})
