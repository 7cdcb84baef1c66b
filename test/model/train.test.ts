import assert from 'node:assert/strict'
import * as tf from '@tensorflow/tfjs'
import { initBackend } from '../../src/model/backend.ts'
import { loadMnist } from '../../src/model/data-node.ts'
import { head, makeDataset, type Dataset } from '../../src/model/dataset.ts'
import { initialWeights, mnistSpec } from '../../src/model/spec.ts'
import { trainLocal, evaluate, predict } from '../../src/model/train.ts'
import { toLayersModel } from '../../src/model/network.ts'
import { seededRng } from '../../src/util/rng.ts'

describe('model/train: local training and evaluation', () => {
  let train: Dataset
  let test: Dataset
  before(async () => {
    const info = await initBackend({ quiet: true })
    assert.equal(info.name, 'wasm')
    train = await loadMnist('train')
    test = await loadMnist('test')
  })

  it('softmax regression on 5,000 MNIST examples reaches > 85% test accuracy', async () => {
    const spec = mnistSpec('softmax')
    const r = await trainLocal(spec, initialWeights(spec, seededRng(1)), head(train, 5000), { epochs: 3, batchSize: 64, lr: 0.1, seed: 1 })
    const ev = await evaluate(spec, r.weights, test)
    assert.ok(ev.accuracy > 0.85, `accuracy ${ev.accuracy}`)
    assert.equal(ev.n, 10000)
    assert.equal(r.metrics.steps, 3 * Math.ceil(5000 / 64))
    assert.equal(r.metrics.examples, 15000)
    assert.ok(r.metrics.epochLosses[2]! < r.metrics.epochLosses[0]!)
    assert.equal(r.metrics.backend, 'wasm')
  })

  it('yields to the event loop between steps (a peer keeps serving its sockets while it trains), with the same weights', async () => {
    const spec = mnistSpec('mlp')
    const w0 = initialWeights(spec, seededRng(3))
    const d = head(train, 2048)
    let ticks = 0
    const timer = setInterval(() => { ticks++ }, 0)
    const a = await trainLocal(spec, w0, d, { batchSize: 32, lr: 0.05, seed: 'y', maxSteps: 40 })
    clearInterval(timer)
    const b = await trainLocal(spec, w0, d, { batchSize: 32, lr: 0.05, seed: 'y', maxSteps: 40, yieldEvery: 0 })
    assert.ok(ticks >= 10, `a timer ran ${ticks} times during 40 steps`)
    assert.deepEqual(a.weights, b.weights)
    await assert.rejects(trainLocal(spec, w0, d, { yieldEvery: -1 }), (e: Error) => e.name === 'TrainingParamsError')
    await assert.rejects(trainLocal(spec, w0, d, { yieldEvery: 0.5 }), (e: Error) => e.name === 'TrainingParamsError')
  })

  it('is deterministic from the seed and seed-dependent', async () => {
    const spec = mnistSpec('mlp')
    const w0 = initialWeights(spec, seededRng(2))
    const d = head(train, 512)
    const a = await trainLocal(spec, w0, d, { batchSize: 32, lr: 0.05, seed: 'x' })
    const b = await trainLocal(spec, w0, d, { batchSize: 32, lr: 0.05, seed: 'x' })
    const c = await trainLocal(spec, w0, d, { batchSize: 32, lr: 0.05, seed: 'y' })
    assert.deepEqual(a.weights, b.weights)
    assert.notDeepEqual(a.weights, c.weights)
    assert.notDeepEqual(a.weights, w0)
  })

  for (const optimizer of ['sgd', 'momentum', 'adam'] as const) {
    it(`${optimizer}: the MLP's training loss falls`, async () => {
      const spec = mnistSpec('mlp')
      const lr = optimizer === 'adam' ? 1e-3 : 0.05
      const r = await trainLocal(spec, initialWeights(spec, seededRng(3)), head(train, 2000), { epochs: 2, batchSize: 64, lr, optimizer, seed: 1 })
      assert.ok(r.metrics.epochLosses[1]! < r.metrics.epochLosses[0]!, JSON.stringify(r.metrics.epochLosses))
    })
  }

  it('the cnn trains on the WASM backend (through the JS Conv2DBackpropFilter kernel)', async () => {
    const spec = mnistSpec('cnn')
    const w0 = initialWeights(spec, seededRng(4))
    const small = head(train, 1024)
    const before = await evaluate(spec, w0, small)
    const r = await trainLocal(spec, w0, small, { epochs: 2, batchSize: 32, lr: 0.1, optimizer: 'momentum', seed: 1 })
    const after = await evaluate(spec, r.weights, small)
    assert.equal(r.metrics.backend, 'wasm')
    assert.ok(after.loss < before.loss * 0.7, `loss ${before.loss} -> ${after.loss}`)
    assert.ok(after.accuracy > 0.6, `accuracy ${after.accuracy}`)
  })

  it('maxSteps bounds the work; onEpoch sees each epoch', async () => {
    const spec = mnistSpec('softmax')
    const seen: number[] = []
    const r = await trainLocal(spec, initialWeights(spec, seededRng(1)), head(train, 1000), { epochs: 3, batchSize: 100, maxSteps: 15, onEpoch: (e) => { seen.push(e) } })
    assert.equal(r.metrics.steps, 15)
    // Epoch 1 was cut after 5 of its 10 steps: it is reported, with the loss of those steps.
    assert.deepEqual(seen, [0, 1])
    assert.equal(r.metrics.epochs, 2)
    assert.ok(Number.isFinite(r.metrics.loss) && r.metrics.loss > 0, `loss ${r.metrics.loss}`)
    // A limit on an epoch boundary reports no empty epoch.
    const seen2: number[] = []
    const r2 = await trainLocal(spec, initialWeights(spec, seededRng(1)), head(train, 1000), { epochs: 3, batchSize: 100, maxSteps: 10, onEpoch: (e) => { seen2.push(e) } })
    assert.deepEqual(seen2, [0])
    assert.ok(Number.isFinite(r2.metrics.loss))
  })

  it('does not leak tensors across repeated rounds (tf.memory().numTensors stable)', async () => {
    for (const arch of ['softmax', 'mlp', 'cnn'] as const) {
      const spec = mnistSpec(arch)
      let w = initialWeights(spec, seededRng(5))
      const d = head(train, 64)
      const round = async (): Promise<void> => {
        w = (await trainLocal(spec, w, d, { batchSize: 32, lr: 0.01, optimizer: 'adam', seed: 1 })).weights
        w = (await trainLocal(spec, w, d, { batchSize: 32, lr: 0.01, optimizer: 'momentum', seed: 1 })).weights
        w = (await trainLocal(spec, w, d, { batchSize: 32, lr: 0.01, optimizer: 'momentum', seed: 1, dp: { clip: 1, noiseMultiplier: 1 } })).weights
        w = (await trainLocal(spec, w, d, { batchSize: 32, lr: 0.01, optimizer: 'adam', seed: 1, dp: { clip: 1, noiseMultiplier: 1 } })).weights
        await evaluate(spec, w, d)
        await predict(spec, w, d)
      }
      await round()
      const base = tf.memory().numTensors
      for (let i = 0; i < 3; i++) await round()
      assert.equal(tf.memory().numTensors, base, `${arch}: ${base} -> ${tf.memory().numTensors}`)
    }
  })

  it('toLayersModel gives the same predictions as the functional forward pass', async () => {
    for (const arch of ['softmax', 'mlp', 'cnn'] as const) {
      const spec = mnistSpec(arch)
      const w = initialWeights(spec, seededRng(6))
      const d = head(test, 200)
      const ours = await predict(spec, w, d)
      const m = toLayersModel(spec, w)
      const theirs = tf.tidy(() => (tf.argMax(m.predict(tf.tensor(d.x, [d.n, 28, 28, 1])) as tf.Tensor, 1).dataSync()))
      m.dispose()
      assert.deepEqual(Array.from(ours), Array.from(theirs), arch)
    }
  })

  it('hostile inputs give typed errors', async () => {
    const spec = mnistSpec('softmax')
    const w = initialWeights(spec, seededRng(1))
    const d = head(train, 10)
    for (const bad of [{ epochs: 0 }, { epochs: 1.5 }, { batchSize: 0 }, { lr: NaN }, { lr: -1 }, { optimizer: 'rmsprop' }, { momentum: 1 }, { maxSteps: 0 }, { dp: { clip: 0, noiseMultiplier: 1 } }, { dp: { clip: 1, noiseMultiplier: NaN } }]) {
      await assert.rejects(trainLocal(spec, w, d, bad as never), { name: 'TrainingParamsError' }, JSON.stringify(bad))
    }
    await assert.rejects(trainLocal(spec, w.subarray(1), d), { name: 'LayoutMismatchError' })
    const nan = Float32Array.from(w); nan[0] = NaN
    await assert.rejects(trainLocal(spec, nan, d), { name: 'LayoutMismatchError' })
    const other = makeDataset(new Float32Array(20), Uint8Array.of(0, 1), [10], 2)
    await assert.rejects(trainLocal(spec, w, other), { name: 'DatasetError' })
    await assert.rejects(evaluate(spec, w, other), { name: 'DatasetError' })
    await assert.rejects(trainLocal(spec, w, head(train, 0)), { name: 'TrainingParamsError' })
  })
})
