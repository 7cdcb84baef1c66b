/**
 * The researchers' harness (issue #5), CI-sized: a reduced MNIST run (softmax
 * model, 3,000 training examples, 8 peers, 2 Byzantine) where the defended
 * protocol beats the undefended mean under the Gaussian attack; committee-side
 * faults through the full protocol; determinism for a seed; the output formats
 * (JSONL, CSV, Markdown, Vega-Lite spec, SVG) produced and parseable; typed
 * errors on bad configs.
 */
import assert from 'node:assert/strict'
import { runExperiment, classMatched, type ExperimentResult, type ExperimentData } from '../../src/gossip-fl/harness/experiment.ts'
import { resolveExperiment, parsePartition } from '../../src/gossip-fl/harness/config.ts'
import { robustnessMatrix, privacyMatrix, matrixByName, shardOf } from '../../src/gossip-fl/harness/matrix.ts'
import { toJsonl, toCsv, toMarkdown, toPivotMarkdown, vegaLiteSpec, renderSvg } from '../../src/gossip-fl/harness/output.ts'
import { perExampleLosses } from '../../src/gossip-fl/harness/membership.ts'
import { mnistSpec, initialWeights } from '../../src/model/spec.ts'
import { evaluate } from '../../src/model/train.ts'
import { head } from '../../src/model/dataset.ts'
import { seededRng } from '../../src/util/rng.ts'
import { loadHarnessData } from './harness/mnist-data.ts'

const SMALL = { model: 'softmax' as const, peers: 8, trainExamples: 3000, testExamples: 1000, partition: 'dirichlet:1', localSteps: 5, lr: 0.1, momentum: 0.5, clip: 0.5, evalEvery: 3, seed: 'ci' }

describe('harness (tessera sim)', function () {
  this.timeout(120_000)
  let data: ExperimentData

  before(async () => {
    data = await loadHarnessData()
  })

  describe('robustness, reduced', () => {
    let defended: ExperimentResult
    let undefended: ExperimentResult

    before(async () => {
      const common = { ...SMALL, rounds: 12, byzantine: 2, attack: 'gaussian' }
      undefended = await runExperiment({ ...common, rule: 'mean', group: 1, normCheck: false }, data)
      defended = await runExperiment({ ...common, rule: 'centered-clipping', group: 1, normCheck: true }, data)
    })

    it('the undefended mean collapses under unbounded Gaussian updates; the norm check and centered clipping hold', () => {
      assert.ok(undefended.finalAccuracy < 0.3, `undefended ${undefended.finalAccuracy}`)
      assert.ok(defended.finalAccuracy > 0.7, `defended ${defended.finalAccuracy}`)
      assert.ok(defended.finalAccuracy - undefended.finalAccuracy > 0.4)
    })

    it('records every round, evaluations on schedule, group counts of the protocol', () => {
      assert.equal(defended.records.length, 12)
      assert.deepEqual(defended.records.filter(r => r.accuracy !== null).map(r => r.round), [3, 6, 9, 12])
      for (const r of defended.records) assert.equal(r.groups, 8)
      assert.ok(defended.records.every(r => r.honestMedianNorm > 0))
    })

    it('outputs: JSONL lines parse, CSV has a header and one row per round, Markdown one row per run', () => {
      const both = [undefended, defended]
      const lines = toJsonl(both).trim().split('\n')
      assert.equal(lines.length, 24)
      const first = JSON.parse(lines[0]!) as Record<string, unknown>
      assert.equal(first.round, 1)
      assert.equal(first.seed, 'ci')
      const csv = toCsv(both).trim().split('\n')
      assert.equal(csv.length, 25)
      assert.equal(csv[0], 'label,round,accuracy,groups,refused,blamed,far,retries,honestMedianNorm,seconds')
      for (const row of csv.slice(1)) assert.equal(row.split(',').length, 10)
      const md = toMarkdown(both).trim().split('\n')
      assert.equal(md.filter(l => l.startsWith('| ') && !l.startsWith('| run') && !l.startsWith('| ---')).length, 2)
      // a label's '|' is escaped, so every row has the header's cell count
      const cells = (l: string): number => l.replace(/\\\|/g, '').split('|').length
      for (const l of md.filter(x => x.startsWith('|'))) assert.equal(cells(l), cells(md.find(x => x.startsWith('| run'))!))
      const pivot = toPivotMarkdown(both).trim().split('\n')
      assert.equal(pivot.length, 6) // title, blank, header, rule, 2 defences
      assert.match(pivot[4]!, /^\| undefended mean \| \d+\.\d \(\d+\.\d\) \|$/)
    })

    it('renders the Vega-Lite spec to SVG headlessly (one line per run)', async () => {
      const spec = vegaLiteSpec([undefended, defended])
      const json = JSON.parse(JSON.stringify(spec)) as { $schema: string, data: { values: unknown[] } }
      assert.match(json.$schema, /vega-lite/)
      assert.equal(json.data.values.length, 8)
      const svg = await renderSvg(spec)
      assert.match(svg, /^<svg /)
      assert.ok((svg.match(/<path/g) ?? []).length >= 2)
      assert.ok(svg.includes('test accuracy'))
      const faceted = await renderSvg(vegaLiteSpec([undefended, defended], { facet: 'attack' }))
      assert.match(faceted, /^<svg /)
    })
  })

  it('is deterministic for a seed (same records, same final model hash) and differs across seeds', async () => {
    const cfg = { ...SMALL, rounds: 3, byzantine: 1, attack: 'ipm', rule: 'trimmed-mean', group: 2 }
    const a = await runExperiment(cfg, data)
    const b = await runExperiment(cfg, data)
    const c = await runExperiment({ ...cfg, seed: 'other' }, data)
    const strip = (r: ExperimentResult): unknown => r.records.map(({ seconds: _s, ...x }) => x)
    assert.deepEqual(strip(a), strip(b))
    assert.equal(a.finalModelHash, b.finalModelHash)
    assert.notEqual(a.finalModelHash, c.finalModelHash)
  })

  it('fast and full engines give the same final model for the same seed', async () => {
    const cfg = { ...SMALL, peers: 6, rounds: 2, byzantine: 1, attack: 'alie', rule: 'centered-clipping', group: 2, noise: 0.3 }
    const fast = await runExperiment({ ...cfg, engine: 'fast' }, data)
    const full = await runExperiment({ ...cfg, engine: 'full' }, data)
    assert.equal(fast.finalModelHash, full.finalModelHash)
    assert.ok(fast.epsilonUpdateLevel !== null && fast.epsilonUpdateLevel > 0)
  })

  it('committee-side attacks run through the full protocol: wrong partial sums are blamed, a silent leader costs a retry', async () => {
    const base = { ...SMALL, peers: 6, rounds: 1, evalEvery: 1, engine: 'full' as const, committee: 5, threshold: 2, group: 2 }
    const wrong = await runExperiment({ ...base, attack: 'wrong-partials', byzantine: 1 }, data)
    assert.ok(wrong.records[0]!.blamed >= 1, 'blamed')
    const censor = await runExperiment({ ...base, attack: 'silent-leader', byzantine: 1 }, data)
    assert.ok(censor.records[0]!.retries >= 1, 'retried')
    assert.ok(censor.finalAccuracy > censor.initialAccuracy)
  })

  it('DP-SGD per peer reports a record-level epsilon at delta 1e-5', async () => {
    const r = await runExperiment({ ...SMALL, peers: 4, committee: 3, rounds: 2, dpSgd: { clip: 1, noiseMultiplier: 1.1 } }, data)
    assert.ok(r.epsilonRecordLevel !== null && r.epsilonRecordLevel > 0 && Number.isFinite(r.epsilonRecordLevel))
  })

  it('membership inference: per-example losses agree with TF.js evaluate; AUC reported for the final model', async () => {
    const spec = mnistSpec('mlp')
    const w = initialWeights(spec, seededRng('mi'))
    const d = head(data.test, 300)
    const losses = perExampleLosses(spec, w, d)
    const mean = losses.reduce((a, b) => a + b, 0) / losses.length
    const tf = await evaluate(spec, w, d)
    assert.ok(Math.abs(mean - tf.loss) < 1e-4 * Math.max(1, tf.loss), `${mean} vs ${tf.loss}`)
    assert.throws(() => perExampleLosses(mnistSpec('cnn'), w, d), (e: Error) => e.name === 'InvalidParametersError')
    const r = await runExperiment({ ...SMALL, peers: 5, rounds: 2, membership: 200 }, data)
    assert.ok(r.membership !== null && r.membership.auc >= 0 && r.membership.auc <= 1 && r.membership.members === 200)
    // class-matched non-members: same class counts as the members
    const members = head(data.train, 300)
    const nm = classMatched(data.test, members)
    const counts = (y: Uint8Array): number[] => { const c = new Array<number>(10).fill(0); for (const v of y) c[v]!++; return c }
    assert.deepEqual(counts(nm.y), counts(members.y))
  })

  describe('configs', () => {
    it('typed errors on bad values', () => {
      const bad: Array<Record<string, unknown>> = [
        { peers: 1 }, { peers: 1.5 }, { byzantine: 25 }, { attack: 'nope', byzantine: 1 }, { attack: 'ipm' }, { rounds: 0 },
        { lr: Number.NaN }, { rule: 'nope' }, { partition: 'dirichlet:-1' }, { partition: 'zipf' }, { threshold: 9 },
        { attack: 'wrong-partials', byzantine: 1 }, { normCheck: false, engine: 'full' }, { engine: 'warp' }, { dataset: 'cifar' }, { clip: 0 }, { peers: 4 }
      ]
      for (const b of bad) assert.throws(() => resolveExperiment(b), (e: Error) => e.name === 'InvalidParametersError', JSON.stringify(b))
      assert.deepEqual(parsePartition('shards:2'), { scheme: 'shards', shardsPerPart: 2 })
    })

    it('the robustness matrix: every attack x (undefended + rules x groups), slices partition it', () => {
      const m = robustnessMatrix()
      const attacks = new Set(m.map(c => c.attack))
      assert.ok(attacks.has('ipm') && attacks.has('gaussian') && attacks.has('label-flip') && attacks.has('alie'))
      assert.equal(m.length, attacks.size * (1 + 3 * 5))
      for (const c of m) resolveExperiment(c)
      const parts = [0, 1, 2].map(i => shardOf(m, { index: i, count: 3 }))
      assert.equal(parts.flat().length, m.length)
      assert.equal(new Set(parts.flat().map(c => c.label)).size, m.length)
    })

    it('the privacy matrix: update-level noise levels and DP-SGD levels, all valid; unknown matrix is a typed error', () => {
      const p = privacyMatrix()
      for (const c of p) resolveExperiment(c)
      assert.ok(p.some(c => c.dpSgd !== undefined) && p.some(c => (c.noise ?? 0) > 0))
      assert.throws(() => matrixByName('nope'), (e: Error) => e.name === 'InvalidParametersError')
    })
  })
})
