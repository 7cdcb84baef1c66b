/**
 * One short simulation on real MNIST: 4 peers, softmax model, 2 rounds of the
 * full protocol (shares, norm check, group sums, robust rule, co-signed
 * checkpoints). The model must learn, and every checkpoint must be reproducible
 * from its published group sums.
 */
import assert from 'node:assert/strict'
import { simulate } from '../../src/gossip-fl/sim/simulator.ts'
import { roundSignerFrom, roundVerifyFrom } from '../../src/gossip-fl/round/signer.ts'
import { nodeSigner, nodeVerifier } from '../../src/ledger/signature-node.ts'
import { loadMnist } from '../../src/model/data-node.ts'
import { head, subset } from '../../src/model/dataset.ts'
import { partition } from '../../src/model/partition.ts'
import { mnistSpec, initialWeights } from '../../src/model/spec.ts'
import { trainLocal, evaluate } from '../../src/model/train.ts'
import { initBackend } from '../../src/model/backend.ts'
import { seededRng } from '../../src/util/rng.ts'

describe('sim on real MNIST', function () {
  this.timeout(120_000)
  it('4 peers, softmax, 2 rounds: accuracy rises well above chance and checkpoints verify', async () => {
    await initBackend({ quiet: true })
    const train = head(await loadMnist('train'), 4000)
    const test = head(await loadMnist('test'), 1000)
    const spec = mnistSpec('softmax')
    const parts = partition(train.y, 10, 4, { scheme: 'dirichlet', alpha: 0.5, minSize: 32 }, seededRng('sim-split'))
    const shards = parts.map(p => subset(train, p))
    const init = initialWeights(spec, seededRng('sim-init'))
    const accs: number[] = []
    const res = await simulate({
      peers: 4, rounds: 2, seed: 11, initialModel: init,
      params: { committeeSize: 3, threshold: 2, groupSize: 2, rule: 'mean', clipNorm: 10 },
      signerFor: (s) => roundSignerFrom(nodeSigner(s)), verify: roundVerifyFrom(nodeVerifier({ threadPool: false })),
      train: async (i, model, round) => {
        const r = await trainLocal(spec, model, shards[i]!, { epochs: 1, batchSize: 32, lr: 0.1, maxSteps: 30, seed: `${i}/${round}` })
        return r.weights.map((w, j) => w - model[j]!)
      },
      evaluate: async (m) => (await evaluate(spec, m, test)).accuracy,
      onRound: (r) => accs.push(r.accuracy!)
    })
    assert.equal(res.reports.length, 2)
    for (const r of res.reports) assert.ok(r.recomputedEqual)
    assert.ok(accs[1]! > 0.6, `accuracy after 2 rounds: ${accs.join(', ')}`)
  })
})
