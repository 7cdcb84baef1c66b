/**
 * The fast path (src/gossip-fl/harness/fast.ts) against the full protocol
 * (src/gossip-fl/sim simulate: real round machines, Shamir shares, masked norm
 * check, partial sums): bit-identical models and checkpoint body hashes, round
 * after round (the body hash is the next round's seed, so committees and groups
 * must match too).
 */
import assert from 'node:assert/strict'
import { simulate } from '../../src/gossip-fl/sim/simulator.ts'
import { fastSimulate } from '../../src/gossip-fl/harness/fast.ts'
import { modelHash } from '../../src/gossip-fl/round/aggregate.ts'
import { childRng, gaussian } from '../../src/util/rng.ts'

const DIM = 300

/** A deterministic non-IID "training": peer i pulls towards its own target, plus seeded jitter. */
function train(i: number, model: Float32Array, round: number): Float32Array {
  const rng = childRng(`train/${i}`, `round/${round}`)
  const u = new Float32Array(DIM)
  for (let j = 0; j < DIM; j++) u[j] = 0.05 * (((i * 7 + j) % 11) / 11 - model[j]!) + 0.01 * gaussian(rng)
  return u
}

function hex(b: Uint8Array): string { return Buffer.from(b).toString('hex') }

async function both(cfgExtra: Record<string, unknown>, rounds: number): Promise<void> {
  const base = { peers: 9, rounds, seed: 'fast-vs-full', initialModel: new Float32Array(DIM), train, ...cfgExtra }
  const full = await simulate(base as Parameters<typeof simulate>[0])
  const fast = await fastSimulate(base as Parameters<typeof fastSimulate>[0])
  assert.deepEqual(fast.peerIds, full.peerIds)
  for (let r = 0; r < rounds; r++) {
    const a = full.reports[r]!
    const b = fast.reports[r]!
    assert.equal(a.retries, 0)
    assert.deepEqual(b.committee, a.committee, `round ${r + 1} committee`)
    assert.deepEqual(b.groups, a.groups, `round ${r + 1} groups`)
    assert.deepEqual(b.refused, a.refused, `round ${r + 1} refused`)
    assert.equal(hex(modelHash(b.model)), hex(modelHash(a.model)), `round ${r + 1} model`)
    assert.equal(hex(b.bodyHash!), hex(a.checkpoint.bodyHash), `round ${r + 1} checkpoint body`)
  }
}

describe('harness fast path = full protocol', function () {
  this.timeout(120_000)

  it('is bit-identical over 4 rounds with noise, IPM attackers and centered clipping (stateful rule)', async () => {
    await both({
      params: { committeeSize: 4, threshold: 2, groupSize: 2, clipNorm: 0.5, noiseMultiplier: 0.5, rule: 'centered-clipping', ruleParams: { tau: 0.3 } },
      faults: { byzantine: { peers: [7, 8], attack: 'ipm' } }
    }, 4)
  })

  it('is bit-identical with an over-norm contributor refused, trimmed mean, g = 3', async () => {
    await both({
      params: { committeeSize: 5, threshold: 2, groupSize: 3, clipNorm: 0.3, rule: 'trimmed-mean' },
      faults: { overNorm: { peers: [2], factor: 10 }, byzantine: { peers: [8], attack: 'gaussian' } }
    }, 3)
  })

  it('refuses committee-side faults (they need the full protocol)', async () => {
    await assert.rejects(fastSimulate({ peers: 5, rounds: 1, seed: 1, initialModel: new Float32Array(4), train: () => new Float32Array(4), faults: { corruptPartials: [{ member: 0 }] } }),
      (e: Error) => e.name === 'InvalidParametersError')
  })
})
