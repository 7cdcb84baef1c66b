/**
 * What a peer takes from the charter (src/node/peer/charter-params.ts): the
 * training plan (a v2 charter fixes it, flags may only repeat it; a v1 charter
 * leaves it to the flags over the old defaults), the model spec (input = the
 * charter's feature map of the raw example shape) and the round parameters (a
 * rule whose parameters the rule refuses is refused at start, not in every
 * round's aggregation).
 */
import assert from 'node:assert/strict'
import { defaultCharter, makeCharter, parseCharter, V1_TRAINING, type Charter } from '../../src/ledger/charter.ts'
import { charterModelSpec, charterRoundParams, charterTraining, featureShape } from '../../src/node/peer/charter-params.ts'
import { deriveLayout } from '../../src/model/spec.ts'
import { applyFeatures } from '../../src/model/features/index.ts'
import { makeDataset } from '../../src/model/dataset.ts'

function v1Charter (): Charter {
  const { version: _v, training, exclusion: _e, ...rest } = defaultCharter()
  return parseCharter({ ...rest, training: { epochs: 1, batchSize: 32, learningRate: 0.05 } })
}

describe('node: charter parameters of a peer', () => {
  it('a v2 charter fixes the training plan', () => {
    const c = makeCharter({ training: { optimizer: 'momentum', localMomentum: 0.8, steps: 12, workerMomentum: 0.25, fullBudget: false, features: 'pool2', learningRate: 0.01, batchSize: 16 } })
    assert.deepEqual(charterTraining(c), { epochs: 1, batchSize: 16, lr: 0.01, optimizer: 'momentum', localMomentum: 0.8, maxSteps: 12, workerMomentum: 0.25, fullBudget: false, features: 'pool2' })
    // Flags that repeat the charter are accepted.
    assert.equal(charterTraining(c, { steps: 12, optimizer: 'momentum', features: 'pool2' }).maxSteps, 12)
  })

  it('a flag that contradicts a v2 charter is a CharterConflictError naming the flag and the field', () => {
    const c = makeCharter()
    const cases: Array<[Parameters<typeof charterTraining>[1], RegExp]> = [
      [{ optimizer: 'sgd' }, /--optimizer sgd.*training\.optimizer = adam/],
      [{ steps: 10 }, /--steps 10.*training\.steps = 60/],
      [{ workerMomentum: 0 }, /--momentum 0.*training\.workerMomentum = 0\.5/],
      [{ localMomentum: 0.5 }, /--local-momentum/],
      [{ features: 'scatter' }, /--features scatter.*training\.features = none/],
      [{ epochs: 2 }, /--epochs 2/]
    ]
    for (const [flags, msg] of cases) {
      assert.throws(() => charterTraining(c, flags), (err: Error) => err.name === 'CharterConflictError' && msg.test(err.message), JSON.stringify(flags))
    }
    assert.throws(() => charterTraining(makeCharter({ training: { fullBudget: false } }), { fullBudget: true }), { name: 'CharterConflictError' })
  })

  it('a v1 charter leaves the recipe to the flags, over the old flag defaults', () => {
    const c = v1Charter()
    assert.equal(c.version, 1)
    assert.deepEqual(charterTraining(c), { epochs: 1, batchSize: 32, lr: 0.05, optimizer: V1_TRAINING.optimizer, localMomentum: 0.9, maxSteps: 50, workerMomentum: 0, fullBudget: false, features: 'none' })
    const p = charterTraining(c, { optimizer: 'adam', steps: 60, workerMomentum: 0.5, fullBudget: true, features: 'scatter', epochs: 2 })
    assert.deepEqual(p, { epochs: 2, batchSize: 32, lr: 0.05, optimizer: 'adam', localMomentum: 0.9, maxSteps: 60, workerMomentum: 0.5, fullBudget: true, features: 'scatter' })
  })

  it('the model input follows the feature map: the feature code\'s own output shape', () => {
    const img = makeDataset(new Float32Array(2 * 784), new Uint8Array(2), [28, 28, 1], 10)
    for (const f of ['scatter', 'pool2'] as const) {
      const spec = charterModelSpec(makeCharter({ model: { arch: 'softmax' }, training: { features: f } }))
      assert.deepEqual(spec.inputShape, [...applyFeatures(f, img).shape], f)
      assert.deepEqual(featureShape(f, [28, 28, 1], 10), spec.inputShape)
    }
    const sc = charterModelSpec(makeCharter({ model: { arch: 'softmax' }, training: { features: 'scatter' } }))
    assert.equal(deriveLayout(sc).total, (sc.inputShape.reduce((a, b) => a * b, 1) + 1) * 10)
    assert.equal(deriveLayout(sc).total, 1088 * 10 + 10)
    // Raw pixels: the charter's input shape, as before (MLP 784-128-10).
    assert.equal(deriveLayout(charterModelSpec(makeCharter({ model: { arch: 'mlp' } }))).total, 101_770)
  })

  it('a model the feature map cannot feed, or a shape it cannot map, is an UnsupportedCharterError', () => {
    // The cnn's two 5x5 conv + pool stages need more than scatter's 8x8 (or pool2's 14x14 gives 1x1: fine).
    assert.throws(() => charterModelSpec(makeCharter({ model: { arch: 'cnn' }, training: { features: 'scatter' } })), { name: 'UnsupportedCharterError' })
    assert.throws(() => charterModelSpec(makeCharter({ model: { arch: 'softmax', inputShape: [28, 27, 1] }, training: { features: 'scatter' } })), { name: 'UnsupportedCharterError' })
    assert.throws(() => charterModelSpec(makeCharter({ model: { arch: 'transformer' } })), { name: 'UnsupportedCharterError' })
  })

  it('round parameters refuse a rule the rule itself refuses (UnsupportedCharterError), and pass the charter\'s otherwise', () => {
    // A genesis written by 45752c0's init: parseCharter checks structure only, so it loads; the peer refuses it at start.
    const bad = parseCharter({ ...JSON.parse(JSON.stringify(defaultCharter(), (_k, v: unknown) => v)), admission: { mode: 'open', founders: [] }, aggregation: { rule: 'centered-clipping', params: { tau: 8, iterations: 3, momentum: 0.5 } } })
    assert.throws(() => charterRoundParams(bad), (err: Error) => err.name === 'UnsupportedCharterError' && /momentum/.test(err.message))
    const p = charterRoundParams(makeCharter({ committee: { m: 5, t: 2, g: 2 }, aggregation: { rule: 'centered-clipping' } }), 4)
    assert.equal(p.committeeSize, 4)
    assert.deepEqual(p.ruleParams, { tau: 8, iterations: 3 })
    assert.equal(charterRoundParams(makeCharter()).rule, 'coordinate-median')
    assert.equal(p.clipNorm, 8)
  })
})
