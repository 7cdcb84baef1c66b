/**
 * The privacy matrix's rounds are the accountant's (src/gossip-fl/harness/matrix.ts,
 * PRIVACY_ROUNDS): recomputed here from the seed-1 partitions of MNIST's training labels,
 * exactly as the harness splits them, with planPeerDpSgd. Every peer's epsilon <= 2 and one
 * more round would exceed it for some peer.
 */
import assert from 'node:assert/strict'
import { loadMnist } from '../../../src/model/data-node.ts'
import { partition } from '../../../src/model/partition.ts'
import { parsePartition, resolveExperiment } from '../../../src/gossip-fl/harness/config.ts'
import { seededRng } from '../../../src/util/rng.ts'
import { planPeerDpSgd, dpSgdPeerEpsilons } from '../../../src/model/privacy/peer-plan.ts'
import { privacyMatrix, PRIVACY_DP, PRIVACY_ROUNDS, PRIVACY_LOCAL_STEPS, UPDATE_LEVEL_ROUNDS, UPDATE_NOISE_LEVELS } from '../../../src/gossip-fl/harness/matrix.ts'
import { peerEpsilonKnownRounds } from '../../../src/model/privacy/user-level.ts'

describe('privacy matrix: rounds chosen by the accountant', function () {
  this.timeout(60000)

  it('PRIVACY_ROUNDS = planPeerDpSgd on the seed-1 shards, every peer at epsilon <= 2', async () => {
    const train = await loadMnist('train')
    for (const key of Object.keys(PRIVACY_ROUNDS)) {
      const [peers, part] = key.split('/') as [string, string]
      const sizes = partition(train.y, train.classes, Number(peers), parsePartition(part), seededRng('harness/1/split')).map(p => p.length)
      const plan = planPeerDpSgd({ shardSizes: sizes, samplingRate: PRIVACY_DP.samplingRate, noiseMultiplier: PRIVACY_DP.noiseMultiplier, epsilon: PRIVACY_DP.epsilon, delta: 1e-5, localSteps: PRIVACY_LOCAL_STEPS })
      assert.equal(PRIVACY_ROUNDS[key], plan.rounds, key)
      assert.ok(plan.maxEpsilon <= 2, key)
      const next = dpSgdPeerEpsilons({ shardSizes: sizes, batchSizes: plan.batchSizes, noiseMultiplier: PRIVACY_DP.noiseMultiplier, steps: plan.steps + PRIVACY_LOCAL_STEPS, delta: 1e-5 })
      assert.ok(Math.max(...next) > 2, key)
    }
  })

  it('every row validates; DP-SGD rows use the planned rounds; update-level epsilons as documented', () => {
    const m = privacyMatrix()
    for (const c of m) resolveExperiment(c)
    const dp = m.filter(c => c.dpSgd !== undefined)
    assert.equal(dp.length, 5)
    for (const c of dp) assert.equal(c.rounds, PRIVACY_ROUNDS[`${c.peers}/${c.partition}`])
    const up = m.filter(c => c.dpSgd === undefined)
    assert.deepEqual(up.map(c => c.noise), [...UPDATE_NOISE_LEVELS])
    const eps = UPDATE_NOISE_LEVELS.filter(z => z > 0).map(z => peerEpsilonKnownRounds({ roundsTaken: UPDATE_LEVEL_ROUNDS, noiseMultiplier: z, delta: 1e-5 }).epsilon)
    assert.ok(Math.abs(eps[eps.length - 1]! - 1.91) < 0.01)
    assert.ok(eps.every((e, i) => i === 0 || e < eps[i - 1]!))
  })
})
