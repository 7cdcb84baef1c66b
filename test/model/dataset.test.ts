import assert from 'node:assert/strict'
import { makeDataset, subset, head, classCounts, featureCount } from '../../src/model/dataset.ts'

describe('model/dataset', () => {
  const d = makeDataset(Float32Array.from({ length: 12 }, (_, i) => i / 12), Uint8Array.of(0, 1, 2), [2, 2], 3)

  it('subset copies the chosen examples in order; head is a prefix view; classCounts counts', () => {
    const s = subset(d, [2, 0])
    assert.deepEqual(Array.from(s.y), [2, 0])
    assert.deepEqual(Array.from(s.x.subarray(0, 4)), Array.from(d.x.subarray(8, 12)))
    assert.equal(head(d, 2).n, 2)
    assert.equal(head(d, 99).n, 3)
    assert.equal(head(d, -1).n, 0)
    assert.deepEqual(classCounts(d), [1, 1, 1])
    assert.equal(featureCount([28, 28, 1]), 784)
  })

  it('hostile inputs give DatasetError', () => {
    const bad: Array<() => unknown> = [
      () => makeDataset(new Float32Array(11), Uint8Array.of(0, 1, 2), [2, 2], 3),
      () => makeDataset(new Float32Array(12), Uint8Array.of(0, 1, 3), [2, 2], 3),
      () => makeDataset(Float32Array.of(NaN, 0, 0, 0), Uint8Array.of(0), [4], 2),
      () => makeDataset(Float32Array.of(Infinity, 0, 0, 0), Uint8Array.of(0), [4], 2),
      () => makeDataset(new Float32Array(4), Uint8Array.of(0), [4], 1),
      () => makeDataset(new Float32Array(4), Uint8Array.of(0), [4], 257),
      () => makeDataset([0, 0, 0, 0] as unknown as Float32Array, Uint8Array.of(0), [4], 2),
      () => makeDataset(new Float32Array(4), [0] as unknown as Uint8Array, [4], 2),
      () => makeDataset(new Float32Array(0), new Uint8Array(0), [], 2),
      () => makeDataset(new Float32Array(0), new Uint8Array(0), [0], 2),
      () => makeDataset(new Float32Array(0), new Uint8Array(0), [1.5], 2),
      () => makeDataset(new Float32Array(0), new Uint8Array(0), [1 << 20, 2], 2),
      () => subset(d, [3]),
      () => subset(d, [-1]),
      () => subset(d, [0.5])
    ]
    for (const f of bad) assert.throws(f, { name: 'DatasetError' }, f.toString())
  })
})
