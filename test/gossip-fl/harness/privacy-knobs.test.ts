/**
 * Harness knobs the privacy matrix uses: a data-independent feature map (`features`) and a
 * per-peer batch proportional to the shard (`samplingRate`), with every peer's record-level
 * epsilon reported. CI-sized: softmax, 2,000 MNIST training images, 4 peers, 1 round.
 */
import assert from 'node:assert/strict'
import { runExperiment, type ExperimentData } from '../../../src/gossip-fl/harness/experiment.ts'
import { resolveExperiment } from '../../../src/gossip-fl/harness/config.ts'
import { loadHarnessData } from './mnist-data.ts'

const TINY = { model: 'softmax' as const, peers: 4, committee: 3, trainExamples: 2000, testExamples: 300, partition: 'dirichlet:0.5', rounds: 1, localSteps: 2, evalEvery: 1, seed: 'knobs' }

describe('harness: features and per-peer sampling rate', function () {
  this.timeout(60_000)
  let data: ExperimentData

  before(async () => {
    data = await loadHarnessData()
  })

  it('samplingRate with DP-SGD: one record-level epsilon per peer (its own shard and batch), the run reports the largest', async () => {
    const r = await runExperiment({ ...TINY, samplingRate: 0.1, dpSgd: { clip: 1, noiseMultiplier: 2 } }, data)
    assert.ok(r.epsilonRecordLevelPerPeer !== null && r.epsilonRecordLevelPerPeer.length === 4)
    assert.equal(r.epsilonRecordLevel, Math.max(...r.epsilonRecordLevelPerPeer))
    // With q ~ 0.1 for every peer, the epsilons are about equal whatever the shard sizes.
    const e = r.epsilonRecordLevelPerPeer
    assert.ok(Math.max(...e) / Math.min(...e) < 1.2, e.join(' '))
    const off = await runExperiment({ ...TINY }, data)
    assert.equal(off.epsilonRecordLevelPerPeer, null)
  })

  it('features pool2: the model sees the mapped inputs (fewer parameters), and trains', async () => {
    const cfg = { ...TINY, partition: 'iid', rounds: 2, localSteps: 20, lr: 0.1, clip: 5, momentum: 0 }
    const raw = await runExperiment(cfg, data)
    const pooled = await runExperiment({ ...cfg, features: 'pool2' }, data)
    assert.ok(pooled.parameters < raw.parameters, `${pooled.parameters} vs ${raw.parameters}`)
    assert.ok(pooled.finalAccuracy > 0.5, `pool2 ${pooled.finalAccuracy} (raw ${raw.finalAccuracy})`)
  })

  it('typed errors: unknown feature map, sampling rate outside [0, 1]', () => {
    for (const bad of [{ features: 'sift' }, { samplingRate: 1.5 }, { samplingRate: -0.1 }, { samplingRate: Number.NaN }]) {
      assert.throws(() => resolveExperiment(bad as never), (e: Error) => e.name === 'InvalidParametersError', JSON.stringify(bad))
    }
  })
})
