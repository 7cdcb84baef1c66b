/**
 * The round machine over G's in-memory Transport (src/node/memory-transport.ts)
 * with real timers: request/response for shares, masks and partial sums, gossip
 * with validators for the rest. Short deadlines keep it fast; they are 2.5x the first version, which missed phases at load 8-19.
 */
import assert from 'node:assert/strict'
import { MemoryNetwork } from '../../src/node/memory-transport.ts'
import { TransportDriver, type DriverResult } from '../../src/gossip-fl/sim/transport-driver.ts'
import { RoundMachine } from '../../src/gossip-fl/round/machine.ts'
import { resolveRoundParams } from '../../src/gossip-fl/round/params.ts'
import { roundSignerFrom, roundVerifyFrom } from '../../src/gossip-fl/round/signer.ts'
import { recomputeFromBlob, modelHash } from '../../src/gossip-fl/round/aggregate.ts'
import { nodeSigner, nodeVerifier } from '../../src/ledger/signature-node.ts'
import { seededRng } from '../../src/util/rng.ts'

const D = 16

async function runRound(n: number, isolate?: (committee: readonly string[]) => string | undefined): Promise<{ results: DriverResult[], ids: string[], committee: readonly string[], isolated?: string }> {
  const params = resolveRoundParams({ committeeSize: 4, threshold: 2, groupSize: 2, rule: 'mean', clipNorm: 10, maxRetries: 2, deadlines: { shareMs: 750, receiptMs: 500, planMs: 500, partialMs: 750, checkpointMs: 750 } })
  const rng = seededRng('transport-test')
  const signers = Array.from({ length: n }, () => { const w = new Uint32Array(8); rng.fillU32(w); return roundSignerFrom(nodeSigner(new Uint8Array(w.buffer))) })
  const ids = signers.map(s => s.peer)
  const net = new MemoryNetwork({ rng: seededRng('net'), maxMessageBytes: 2 * 1024 * 1024, defaultTopicMaxBytes: 1024 * 1024 })
  const transports = ids.map(id => net.createTransport(id))
  for (const t of transports) await t.start()
  const verify = roundVerifyFrom(nodeVerifier({ threadPool: false }))
  const seed = new Uint8Array(32).fill(4)
  const start = Date.now()
  const machines = signers.map((s, i) => new RoundMachine({
    params, round: 1, seed, prevModel: new Float32Array(D), candidates: ids.map(p => ({ peer: p, weight: 1 })), contributors: ids,
    startTime: start, signer: s, verify, rng: seededRng(`m${i}`)
  }))
  const committee = machines[0]!.committee
  const isolated = isolate?.(committee)
  if (isolated !== undefined) net.isolate(isolated)
  const drivers = machines.map((m, i) => new TransportDriver({
    machine: m, transport: transports[i]!, topicPrefix: '/tessera/test/', clock: () => Date.now(), tickMs: 20,
    train: (model) => Float32Array.from(model, (_w, j) => (i + 1) * 0.01 * (j + 1))
  }))
  for (const d of drivers) await d.start()
  const waitFor = drivers.filter((_, i) => ids[i] !== isolated).map(d => d.finished)
  const results = await Promise.race([Promise.all(waitFor), new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout')), 20_000))])
  for (const d of drivers) await d.stop()
  for (const t of transports) await t.stop()
  return { results, ids, committee, isolated }
}

describe('round over the in-memory Transport (real timers)', function () {
  this.timeout(30_000)

  it('completes a round; every member has the same model, reproducible from the group sums', async () => {
    const { results } = await runRound(6)
    const withModel = results.filter(r => r.checkpoint?.model !== undefined)
    assert.ok(withModel.length >= 3)
    const ck = withModel[0]!.checkpoint!
    for (const r of results) assert.deepEqual(r.checkpoint!.bodyHash, ck.bodyHash)
    const re = recomputeFromBlob(new Float32Array(D), ck.groupSums!, { name: 'mean' }, undefined, { serverLr: 1, meanNormBound: 1e9 })
    assert.deepEqual(modelHash(re.model), ck.body.modelHash)
    assert.equal(ck.body.groups.flat().length > 0, true)
  })

  it('retries with a new committee when the leader is cut off from the network', async () => {
    const { results, isolated } = await runRound(6, c => c[0])
    const ck = results.find(r => r.checkpoint?.model !== undefined)!.checkpoint!
    assert.ok(ck.body.retry >= 1)
    assert.ok(!ck.body.committee.includes(isolated!) || ck.body.committee[0] !== isolated)
  })
})
