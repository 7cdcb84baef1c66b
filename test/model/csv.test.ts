import assert from 'node:assert/strict'
import fc from 'fast-check'
import { mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseCsv } from '../../src/model/csv.ts'
import { loadDataSpec } from '../../src/model/data-node.ts'

describe('model/csv: users\' own data', () => {
  it('parses a header, label column by name, delimiters and scale', () => {
    const d = parseCsv('f1;f2;label\r\n0;255;1\n\n255;0;0\n', { labelColumn: 'label', scale: 255 })
    assert.equal(d.n, 2)
    assert.deepEqual(d.shape, [2])
    assert.equal(d.classes, 2)
    assert.deepEqual(Array.from(d.x), [0, 1, 1, 0])
    assert.deepEqual(Array.from(d.y), [1, 0])
  })

  it('reads label first by default without header, with shape and classes', () => {
    const d = parseCsv('2,1,2,3,4\n0,5,6,7,8\n', { shape: [2, 2], classes: 3 })
    assert.deepEqual(d.shape, [2, 2])
    assert.equal(d.classes, 3)
    assert.deepEqual(Array.from(d.y), [2, 0])
    assert.deepEqual(Array.from(d.x.subarray(4)), [5, 6, 7, 8])
  })

  const bad: Array<[string, string, object]> = [
    ['empty', '', {}],
    ['only header', 'a,b\n', {}],
    ['ragged row', '1,2,3\n0,1\n', {}],
    ['NaN feature', '1,NaN\n', {}],
    ['text feature', '1,2\n0,abc\n', {}],
    ['fractional label', '1.5,2\n', {}],
    ['negative label', '-1,2\n', {}],
    ['label >= classes', '3,2\n', { classes: 3 }],
    ['unknown label column', 'a,b\n1,2\n', { labelColumn: 'c' }],
    ['label column out of range', '1,2\n', { labelColumn: 5 }],
    ['wrong shape', '1,2,3\n', { shape: [3] }],
    ['one column', '1\n2\n', {}],
    ['too many rows', '1,2\n1,2\n1,2\n', { maxRows: 2 }]
  ]
  for (const [name, text, opts] of bad) {
    it(`rejects ${name} with CsvFormatError`, () => {
      assert.throws(() => parseCsv(text, opts), { name: 'CsvFormatError' })
    })
  }

  it('loadDataSpec reads a CSV file and partitions it (csv:path=...,label=last,partition=i/n)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tessera-csv-'))
    try {
      const file = path.join(dir, 'data.csv')
      const rows = Array.from({ length: 40 }, (_, i) => `${i},${2 * i},${i % 3}`)
      await writeFile(file, 'a,b,label\n' + rows.join('\n'))
      const parts = await Promise.all([0, 1, 2].map((i) => loadDataSpec(`csv:path=${file},label=last,scale=10,partition=${i}/3,seed=s`)))
      assert.deepEqual(parts.map((p) => p.n), [14, 13, 13])
      const firsts = parts.flatMap((p) => Array.from({ length: p.n }, (_, k) => Math.round(p.x[2 * k]! * 10))).sort((a, b) => a - b)
      assert.deepEqual(firsts, Array.from({ length: 40 }, (_, i) => i))
      for (const p of parts) for (let k = 0; k < p.n; k++) assert.equal(p.y[k], Math.round(p.x[2 * k]! * 10) % 3)
      await assert.rejects(loadDataSpec(`csv:path=${path.join(dir, 'missing.csv')}`), { name: 'DatasetError' })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('random text gives a Dataset or a CsvFormatError, nothing else (property)', () => {
    fc.assert(fc.property(fc.string({ maxLength: 80 }), (s) => {
      try { parseCsv(s) } catch (e) { return (e as Error).name === 'CsvFormatError' }
      return true
    }), { numRuns: 1000 })
  })
})
