import assert from 'node:assert/strict'
import { fashionFromClassRows } from '../../src/model/fashion-mnist.ts'
import { loadFashionMnist } from '../../src/model/data-node.ts'
import { classCounts } from '../../src/model/dataset.ts'

describe('model/fashion-mnist', () => {
  it('loads the package data as 60,000 train / 10,000 test, 6,000 / 1,000 per class', async function () {
    this.timeout(120_000)
    const train = await loadFashionMnist('train')
    const test = await loadFashionMnist('test')
    assert.equal(train.n, 60000)
    assert.equal(test.n, 10000)
    assert.deepEqual(classCounts(train), new Array(10).fill(6000))
    assert.deepEqual(classCounts(test), new Array(10).fill(1000))
    // The fixed-seed order mixes classes: the first 100 examples are not one class.
    assert.ok(new Set(train.y.subarray(0, 100)).size >= 8)
    for (let i = 0; i < 784 * 50; i++) assert.ok(train.x[i]! >= 0 && train.x[i]! <= 1)
  })

  it('skips empty rows, rejects non-byte pixels and missing classes with DatasetError', () => {
    const row = (v: number): number[] => new Array(784).fill(v)
    const classes = Array.from({ length: 10 }, (_, c) => [row(c), [], row(c + 1), row(c + 2)])
    const d = fashionFromClassRows(classes, 'test', 2)
    assert.equal(d.n, 10)
    assert.deepEqual(classCounts(d), new Array(10).fill(1))
    const bad = classes.map((rows) => rows.map((r) => [...r]))
    bad[3]![0]![5] = 256
    assert.throws(() => fashionFromClassRows(bad, 'train', 2), { name: 'DatasetError' })
    assert.throws(() => fashionFromClassRows(classes.slice(0, 9), 'train', 2), { name: 'DatasetError' })
    assert.throws(() => fashionFromClassRows(classes, 'train', 3), { name: 'DatasetError' })
  })
})
