/**
 * Persistent-outlier exclusion in the protocol's plan (src/reputation/outliers.ts through
 * buildPlan's `exclude`), on the exact fast path. CI-sized: softmax, 3,000 MNIST images,
 * 10 peers of which 2 send full-budget IPM, groups of 2, 12 rounds of 10 Adam steps.
 */
import assert from 'node:assert/strict'
import { runExperiment, type ExperimentData } from '../../../src/gossip-fl/harness/experiment.ts'
import { resolveExperiment } from '../../../src/gossip-fl/harness/config.ts'
import { robustnessMatrix } from '../../../src/gossip-fl/harness/matrix.ts'
import { loadHarnessData } from './mnist-data.ts'

describe('harness: persistent far-group contributors are excluded from the plan', function () {
  this.timeout(120_000)
  let data: ExperimentData

  before(async () => {
    data = await loadHarnessData()
  })

  it('IPM attackers (own projection on the aggregate about -C) are excluded after minObservations rounds, no honest peer is; the rounds before are bit-identical to a run without exclusion', async () => {
    const base = { trainExamples: 3000, testExamples: 500, partition: 'dirichlet:1', rounds: 12, evalEvery: 12, seed: 'excl-ci', model: 'softmax' as const, peers: 10, byzantine: 2, committee: 5, threshold: 2 }
    const [cfg] = robustnessMatrix({ base: { ...base, localSteps: 10, batchSize: 32 }, attacks: ['ipm'], rules: ['centered-clipping'], groups: [2] })
    // 6 observations, t below -3.4 (Student's t at 0.99 with 5 degrees of freedom): a short run can decide.
    const exclusion = { minObservations: 6, window: 12, tCritical: 3.4 }
    const on = await runExperiment({ ...cfg!, exclusion }, data)
    const off = await runExperiment({ ...cfg!, exclusion: false, rounds: 6 }, data)
    const first = on.records.findIndex(r => (r.excluded ?? 0) > 0)
    assert.ok(first >= 6, `first exclusion in round ${first + 1}`)
    const last = on.records[on.records.length - 1]!
    assert.equal(last.excluded, 2, 'both attackers excluded')
    assert.equal(last.honestExcluded, 0, 'no honest peer excluded')
    assert.ok(on.records.every(r => (r.honestExcluded ?? 0) === 0))
    // Excluded contributors are refused by the plan (the checkpoint's refusals), not silently dropped.
    assert.equal(last.refused, 2)
    // Without an exclusion, the plan is the plan without the option: the same 6 rounds give the same model.
    const six = await runExperiment({ ...cfg!, exclusion, rounds: 6 }, data)
    assert.equal(six.finalModelHash, off.finalModelHash)
    assert.ok(on.finalAccuracy > 0.6, `accuracy ${on.finalAccuracy}`)
  })

  it('exclusion: bad parameters are typed errors; every engine takes it (the full one runs the live rule)', () => {
    const ok = { exclusion: { tCritical: 3 } }
    assert.doesNotThrow(() => resolveExperiment(ok))
    assert.doesNotThrow(() => resolveExperiment({ exclusion: false }))
    assert.doesNotThrow(() => resolveExperiment({ exclusion: {}, engine: 'full' }))
    assert.doesNotThrow(() => resolveExperiment({ exclusion: {}, exclusionOnCheckpoint: true }))
    for (const bad of [{ exclusion: { tCritical: -1 } }, { exclusion: { window: 0 } }, { exclusion: { bogus: 1 } }, { exclusion: [] }, { exclusion: {}, exclusionOnCheckpoint: 'yes' }]) {
      assert.throws(() => resolveExperiment(bad as never), (e: Error) => e.name === 'InvalidParametersError', JSON.stringify(bad))
    }
  })
})
