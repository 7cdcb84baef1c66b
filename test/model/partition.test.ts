import assert from 'node:assert/strict'
import fc from 'fast-check'
import { partition, iidPartition, dirichletPartition, shardPartition, sampleDirichlet, sampleGamma, type PartitionScheme } from '../../src/model/partition.ts'
import { parseDataSpec, formatDataSpec } from '../../src/model/partition-spec.ts'
import { loadDataSpec, loadMnist } from '../../src/model/data-node.ts'
import { seededRng } from '../../src/util/rng.ts'

/** Labels 0..classes-1 in blocks, n examples. */
function labels(n: number, classes: number, seed = 1): Uint8Array {
  const rng = seededRng(seed)
  return Uint8Array.from({ length: n }, () => rng.nextU32() % classes)
}

function assertExactCover(parts: Uint32Array[], n: number): void {
  const seen = new Uint8Array(n)
  let total = 0
  for (const p of parts) for (const i of p) { assert.ok(i < n); assert.equal(seen[i], 0, `index ${i} used twice`); seen[i] = 1; total++ }
  assert.equal(total, n)
}

/** Mean over parts of the total-variation distance between the part's and the global label distribution. */
function meanTV(parts: Uint32Array[], y: Uint8Array, classes: number): number {
  const global = new Array(classes).fill(0)
  for (const l of y) global[l]++
  let s = 0
  for (const p of parts) {
    const c = new Array(classes).fill(0)
    for (const i of p) c[y[i]!]++
    let tv = 0
    for (let k = 0; k < classes; k++) tv += Math.abs(c[k] / p.length - global[k] / y.length)
    s += tv / 2
  }
  return s / parts.length
}

describe('model/partition', () => {
  const schemes: PartitionScheme[] = ['iid', 'dirichlet', 'shards']
  it('every scheme uses every index exactly once and is reproducible from the seed (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 20, max: 400 }), fc.integer({ min: 1, max: 10 }), fc.constantFrom(...schemes), fc.integer(), (n, parts, scheme, seed) => {
      const y = labels(n, 10, seed)
      const a = partition(y, 10, parts, { scheme, alpha: 0.5 }, seededRng(seed))
      const b = partition(y, 10, parts, { scheme, alpha: 0.5 }, seededRng(seed))
      assert.equal(a.length, parts)
      assertExactCover(a, n)
      assert.deepEqual(a, b)
    }), { numRuns: 150 })
  })

  it('different seeds give different splits', () => {
    const y = labels(1000, 10)
    assert.notDeepEqual(iidPartition(1000, 4, seededRng(1)), iidPartition(1000, 4, seededRng(2)))
  })

  it('iid parts differ in size by at most one and follow the global label mix', () => {
    const y = labels(10000, 10)
    const parts = iidPartition(10000, 7, seededRng(3))
    const sizes = parts.map((p) => p.length)
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1)
    assert.ok(meanTV(parts, y, 10) < 0.05)
  })

  it('Dirichlet skew is measurable and grows as alpha shrinks (Hsu et al. 2019)', () => {
    const y = labels(20000, 10)
    const tv = (alpha: number): number => meanTV(dirichletPartition(y, 10, 20, alpha, seededRng(4)), y, 10)
    const t01 = tv(0.1); const t05 = tv(0.5); const t100 = tv(100)
    assert.ok(t01 > t05 && t05 > t100, `TV ${t01} > ${t05} > ${t100}`)
    assert.ok(t01 > 0.5, `alpha 0.1 should be strongly skewed, TV ${t01}`)
    assert.ok(t100 < 0.1, `alpha 100 is near iid, TV ${t100}`)
  })

  it('Dirichlet honours minSize and fails with a PartitionError when it cannot', () => {
    const y = labels(2000, 10)
    const parts = dirichletPartition(y, 10, 10, 0.3, seededRng(5), 50)
    assert.ok(parts.every((p) => p.length >= 50))
    assert.throws(() => dirichletPartition(y, 10, 10, 0.3, seededRng(5), 300), { name: 'PartitionError' })
  })

  it('shards: each part holds at most shardsPerPart labels when shards are single-label (McMahan et al. 2017)', () => {
    // 10 classes x 120 examples, 20 shards of 60: each shard is one class.
    const y = Uint8Array.from({ length: 1200 }, (_, i) => Math.floor(i / 120))
    const parts = shardPartition(y, 10, 2, seededRng(6))
    assertExactCover(parts, 1200)
    for (const p of parts) {
      assert.equal(p.length, 120)
      assert.ok(new Set(Array.from(p, (i) => y[i])).size <= 2)
    }
  })

  it('Gamma and Dirichlet samplers have the right means', () => {
    const rng = seededRng(7)
    for (const shape of [0.3, 1, 4.5]) {
      let s = 0
      for (let i = 0; i < 20000; i++) s += sampleGamma(rng, shape)
      assert.ok(Math.abs(s / 20000 - shape) < 0.05 * Math.max(1, shape), `Gamma(${shape}) mean ${s / 20000}`)
    }
    const p = sampleDirichlet(rng, 5, 0.5)
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-12)
  })

  it('rejects impossible parameters with PartitionError', () => {
    const y = labels(10, 10)
    assert.throws(() => partition(y, 10, 11, { scheme: 'iid' }, seededRng(1)), { name: 'PartitionError' })
    assert.throws(() => partition(y, 10, 0, { scheme: 'iid' }, seededRng(1)), { name: 'PartitionError' })
    assert.throws(() => partition(y, 10, 2, { scheme: 'dirichlet', alpha: 0 }, seededRng(1)), { name: 'PartitionError' })
    assert.throws(() => partition(y, 10, 2, { scheme: 'dirichlet', alpha: NaN }, seededRng(1)), { name: 'PartitionError' })
    assert.throws(() => partition(y, 10, 6, { scheme: 'shards', shardsPerPart: 2 }, seededRng(1)), { name: 'PartitionError' })
    assert.throws(() => partition(y, 5, 2, { scheme: 'dirichlet' }, seededRng(1)), { name: 'PartitionError' })
    assert.throws(() => partition(y, 10, 2, { scheme: 'bogus' as PartitionScheme }, seededRng(1)), { name: 'PartitionError' })
  })
})

describe('model/partition-spec: <dataset>:partition=i/n,...', () => {
  it('parses the documented forms', () => {
    assert.deepEqual(parseDataSpec('mnist:partition=3/8'), { dataset: 'mnist', split: 'train', scheme: 'iid', alpha: 0.5, shardsPerPart: 2, seed: '0', partition: { index: 3, count: 8 } })
    const d = parseDataSpec('fashion-mnist:partition=0/25,scheme=dirichlet,alpha=0.1,seed=abc')
    assert.equal(d.scheme, 'dirichlet'); assert.equal(d.alpha, 0.1); assert.equal(d.seed, 'abc'); assert.equal(d.dataset, 'fashion-mnist')
    assert.equal(parseDataSpec('mnist:split=test').split, 'test')
    assert.equal(parseDataSpec('mnist:partition=1/4,scheme=shards,shards=3').shardsPerPart, 3)
    const c = parseDataSpec('csv:path=/tmp/a b.csv,label=last,scale=255,partition=1/4')
    assert.deepEqual(c.csv, { path: '/tmp/a b.csv', label: 'last', scale: 255 })
    assert.equal(parseDataSpec('csv:path=x.csv,label=3').csv!.label, 3)
  })

  it('formatDataSpec is the inverse of parseDataSpec', () => {
    for (const s of ['mnist', 'mnist:partition=3/8', 'mnist:partition=0/25,scheme=dirichlet,alpha=0.1,seed=7', 'fashion-mnist:split=test', 'csv:path=/d/x.csv,label=last,scale=2,partition=1/4,scheme=shards,shards=3']) {
      const p = parseDataSpec(s)
      assert.deepEqual(parseDataSpec(formatDataSpec(p)), p)
    }
  })

  const bad = ['', 'imagenet', 'mnist:', 'mnist:partition=8/8', 'mnist:partition=-1/8', 'mnist:partition=1/0', 'mnist:partition=a/b', 'mnist:partition=1/8,partition=2/8',
    'mnist:foo=1', 'mnist:alpha=0.5', 'mnist:scheme=dirichlet,alpha=-1', 'mnist:scheme=iid,shards=2', 'mnist:scheme=magic', 'mnist:split=val', 'mnist:path=x',
    'csv:label=1', 'csv:path=x,split=test', 'mnist:partition', 'mnist:seed=', 'mnist:' + 'x'.repeat(5000)]
  for (const s of bad) {
    it(`rejects '${s.slice(0, 40)}' with PartitionError`, () => {
      assert.throws(() => parseDataSpec(s), { name: 'PartitionError' })
    })
  }

  it('loadDataSpec: the parts of mnist:partition=i/4 are disjoint and cover the training set', async () => {
    const all = await loadMnist('train')
    const parts = await Promise.all([0, 1, 2, 3].map((i) => loadDataSpec(`mnist:partition=${i}/4,scheme=dirichlet,alpha=0.5,seed=9`)))
    assert.equal(parts.reduce((a, p) => a + p.n, 0), all.n)
    const again = await loadDataSpec('mnist:partition=2/4,scheme=dirichlet,alpha=0.5,seed=9')
    assert.deepEqual(again.y, parts[2]!.y)
  })
})
