import assert from 'node:assert/strict'
import fc from 'fast-check'
import { parseIdx, datasetFromIdx, encodeIdx } from '../../src/model/idx.ts'
import { loadMnist } from '../../src/model/data-node.ts'
import { classCounts } from '../../src/model/dataset.ts'

describe('model/idx: strict IDX parser', () => {
  it('reads the real MNIST files: 60,000 / 10,000 examples, first labels 5,0,4,1,9 and 7,2,1,0,4', async () => {
    // First labels as printed by LeCun's distribution and every MNIST tutorial.
    const train = await loadMnist('train')
    const test = await loadMnist('test')
    assert.equal(train.n, 60000)
    assert.equal(test.n, 10000)
    assert.deepEqual(train.shape, [28, 28, 1])
    assert.deepEqual(Array.from(train.y.subarray(0, 5)), [5, 0, 4, 1, 9])
    assert.deepEqual(Array.from(test.y.subarray(0, 5)), [7, 2, 1, 0, 4])
    // Known class counts of the MNIST training set (e.g. 5,923 zeros, 6,742 ones).
    const counts = classCounts(train)
    assert.deepEqual(counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    let min = Infinity; let max = -Infinity
    for (const v of train.x) { if (v < min) min = v; if (v > max) max = v }
    assert.equal(min, 0)
    assert.equal(max, 1)
  })

  const good = encodeIdx([2, 2, 3], Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255]))
  const labels = encodeIdx([2], Uint8Array.from([3, 9]))

  it('round-trips encodeIdx / parseIdx', () => {
    const a = parseIdx(good)
    assert.deepEqual(a.dims, [2, 2, 3])
    assert.deepEqual(Array.from(a.data), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255])
    const d = datasetFromIdx(good, labels)
    assert.equal(d.n, 2)
    assert.deepEqual(d.shape, [2, 3, 1])
    assert.equal(d.x[11], 1)
  })

  const bad: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['short magic', Uint8Array.of(0, 0, 8)],
    ['nonzero magic', Uint8Array.from([1, ...good.subarray(1)])],
    ['float type', Uint8Array.from([0, 0, 0x0d, ...good.subarray(3)])],
    ['zero dims', Uint8Array.of(0, 0, 8, 0)],
    ['truncated header', good.subarray(0, 10)],
    ['truncated data', good.subarray(0, good.length - 1)],
    ['trailing bytes', Uint8Array.from([...good, 0])],
    ['zero-size dimension', encodeHeader([2, 0, 3])],
    ['huge header', encodeHeader([0xffffffff, 0xffffffff, 0xffffffff])]
  ]
  for (const [name, bytes] of bad) {
    it(`rejects malformed input with IdxFormatError: ${name}`, () => {
      assert.throws(() => parseIdx(bytes), (e: Error) => e.name === 'IdxFormatError')
    })
  }

  it('rejects mismatched image/label files and out-of-range labels', () => {
    assert.throws(() => datasetFromIdx(good, encodeIdx([3], Uint8Array.of(1, 2, 3))), { name: 'IdxFormatError' })
    assert.throws(() => datasetFromIdx(good, encodeIdx([2], Uint8Array.of(1, 10))), { name: 'IdxFormatError' })
    assert.throws(() => datasetFromIdx(labels, labels), { name: 'IdxFormatError' })
  })

  it('never throws anything but IdxFormatError on random bytes (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (bytes, prefix) => {
      const input = prefix ? Uint8Array.from([0, 0, 8, bytes.length % 4, ...bytes]) : bytes
      try {
        parseIdx(input)
      } catch (e) {
        return (e as Error).name === 'IdxFormatError'
      }
      return true
    }), { numRuns: 2000 })
  })
})

function encodeHeader(dims: number[]): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length)
  out[2] = 8
  out[3] = dims.length
  const v = new DataView(out.buffer)
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false))
  return out
}
