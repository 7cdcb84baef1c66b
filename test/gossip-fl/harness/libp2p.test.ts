/**
 * `tessera sim --network libp2p` (src/gossip-fl/harness/libp2p-node.ts): 4 real
 * libp2p peers on 127.0.0.1 (E's ledger, co-signed checkpoints), 2 rounds,
 * softmax, a deterministic synthetic trainer, no noise. What must be equal to
 * the in-memory engine for the same seed, and is:
 * - peer ids (keys derived from the seed as the simulator derives them);
 * - round 1 entirely: with the ledger's genesis seed and initial model, the fast
 *   path draws the same committee and groups and gives the same model hash;
 * - every round's model, given the groups the network formed (replay.ts).
 * What is not: from round 2 the ledger seeds rounds with its checkpoint core,
 * which names entries carrying wall-clock timestamps (see libp2p-node.ts).
 */
import assert from 'node:assert/strict'
import { CID } from 'multiformats/cid'
import { runOverLibp2p, type Libp2pRunResult } from '../../../src/gossip-fl/harness/libp2p-node.ts'
import { replayOnFastPath } from '../../../src/gossip-fl/harness/replay.ts'
import { fastSimulate } from '../../../src/gossip-fl/harness/fast.ts'
import { modelHash } from '../../../src/gossip-fl/round/aggregate.ts'
import { mnistSpec } from '../../../src/model/spec.ts'
import { childRng } from '../../../src/util/rng.ts'
import { runExperiment } from '../../../src/gossip-fl/harness/experiment.ts'
import { loadMnist } from '../../../src/model/data-node.ts'
import { initBackend } from '../../../src/model/backend.ts'

const SEED = 'libp2p-test'
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** Deterministic in (peer, model, round): a pull towards a per-peer target plus seeded jitter. */
async function train(i: number, model: Float32Array, round: number): Promise<Float32Array> {
  const rng = childRng(`libp2p-train/${i}`, `round/${round}`)
  const u = new Float32Array(model.length)
  for (let j = 0; j < u.length; j++) u[j] = 0.02 * (((i * 3 + j) % 5) / 5 - model[j]!) + 0.002 * (rng.nextFloat() - 0.5)
  return u
}

const CFG = { peers: 4, rounds: 2, seed: SEED, spec: mnistSpec('softmax'), committee: 3, threshold: 2, group: 2, rule: 'centered-clipping', ruleParams: { tau: 0.5 }, clip: 1, noise: 0, train }
const PARAMS = { committeeSize: 3, threshold: 2, groupSize: 2, rule: 'centered-clipping', ruleParams: { tau: 0.5 }, clipNorm: 1, noiseMultiplier: 0 }

describe('harness: --network libp2p', function () {
  this.timeout(150_000)
  let run: Libp2pRunResult

  before(async () => { run = await runOverLibp2p(CFG) })

  it('4 peers finish 2 rounds and agree on every model', () => {
    assert.equal(run.rounds.length, 2)
    assert.ok(run.agreed)
    for (const r of run.rounds) {
      assert.equal(hex(modelHash(r.model)), r.modelHash)
      assert.ok(r.groups.length >= 1)
    }
  })

  it('same seed, same peer ids and the same round 1 as the fast path given the ledger\'s genesis seed', async () => {
    const genesisSeed = CID.parse(run.genesisCid).multihash.digest
    const fast = await fastSimulate({ peers: 4, rounds: 1, seed: SEED, initialModel: run.initialModel, params: PARAMS, genesisSeed, train })
    assert.deepEqual(fast.peerIds, run.peerIds)
    assert.deepEqual(fast.reports[0]!.committee, run.rounds[0]!.committee)
    assert.deepEqual(fast.reports[0]!.groups, run.rounds[0]!.groups)
    assert.equal(hex(modelHash(fast.reports[0]!.model)), run.rounds[0]!.modelHash)
  })

  it('every round\'s model equals the fast path\'s, given the groups the network formed', async () => {
    const replay = await replayOnFastPath(run, SEED, PARAMS)
    assert.ok(replay.peerIdsEqual)
    assert.equal(replay.rounds.length, 2)
    for (const r of replay.rounds) {
      assert.ok(r.trainedFromSameModel, `round ${r.round}: trained from the same model`)
      assert.equal(r.replay, r.network, `round ${r.round}`)
    }
    // The replay can fail: other groups give another model.
    const swapped = { ...run, rounds: run.rounds.map(r => ({ ...r, groups: r.round === 1 ? [r.groups.flat()] : r.groups })) }
    const bad = await replayOnFastPath(swapped, SEED, PARAMS)
    assert.ok(bad.rounds.some(r => !r.equal) || run.rounds[0]!.groups.length === 1)
  })

  it('runExperiment on MNIST with --network libp2p: records per round, peers agree, the replay reproduces every model; no runner is a typed error', async () => {
    await initBackend({ quiet: true })
    const [tr, te] = await Promise.all([loadMnist('train'), loadMnist('test')])
    const cfg = { model: 'softmax' as const, peers: 4, committee: 3, threshold: 2, group: 2, rounds: 2, trainExamples: 2000, testExamples: 500, localSteps: 5, clip: 0.5, evalEvery: 1, seed: 'ci-libp2p', engine: 'libp2p' as const }
    const r = await runExperiment(cfg, { train: tr, test: te }, { network: runOverLibp2p })
    assert.equal(r.records.length, 2)
    assert.ok(r.network !== null && r.network.agreed && r.network.replayEqual && r.network.peerIdsEqual, JSON.stringify(r.network))
    assert.ok(r.records.every(x => x.accuracy !== null && x.groups >= 1))
    await assert.rejects(runExperiment(cfg, { train: tr, test: te }), (e: Error) => e.name === 'InvalidParametersError')
  })

  it('typed errors before any socket opens', async () => {
    await assert.rejects(runOverLibp2p({ ...CFG, peers: 1 }), (e: Error) => e.name === 'InvalidParametersError')
    await assert.rejects(runOverLibp2p({ ...CFG, rounds: 0 }), (e: Error) => e.name === 'InvalidParametersError')
    await assert.rejects(runOverLibp2p({ ...CFG, ruleParams: { tau: { x: 1 } } as unknown as Record<string, number> }), (e: Error) => e.name === 'InvalidParametersError')
  })
})
