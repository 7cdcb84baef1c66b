/**
 * Persistent-outlier exclusion on real libp2p peers (issue #5): a charter v3 network with
 * exclusion on, one peer sending the negative of the honest direction at the same norm
 * (IPM-like). Its groups project to about 0 while honest ones project to about +|d|, so its
 * own-projection estimate is about -|d| every round: after minObservations rounds every
 * peer's ledger excludes it, no later plan groups it, and it stops training.
 */
import assert from 'node:assert/strict'
import { makeNet, testCharter, roundOf, type TestNet } from './helpers.ts'
import type { Peer, Trainer, RoundEvent } from '../../../src/node/peer/peer.ts'
import { toHex } from '../../../src/ledger/index.ts'
import { seededRng, gaussian } from '../../../src/util/rng.ts'

const EXCL = { enabled: true, window: 6, minObservations: 4, tCritical: 2 }

/** Honest: 0.5 d + small noise (d a fixed unit direction); the attacker: -0.5 d + noise. */
function trainer (sign: 1 | -1, tag: string, calls: number[]): Trainer {
  return async (model, round) => {
    calls.push(round)
    const dir = seededRng('excl-live/direction')
    const rng = seededRng(`excl-live/${tag}/${round}`)
    const u = new Float32Array(model.length)
    const d = new Float32Array(model.length)
    let n = 0
    for (let i = 0; i < d.length; i++) { d[i] = gaussian(dir); n += d[i]! * d[i]! }
    const s = 1 / Math.sqrt(n)
    for (let i = 0; i < u.length; i++) u[i] = sign * 0.5 * d[i]! * s + 0.1 * gaussian(rng) / Math.sqrt(u.length)
    return u
  }
}

describe('node/peer: persistent-outlier exclusion on libp2p (charter v3)', function () {
  this.timeout(200_000)
  let net: TestNet
  after(async () => { await net?.stopAll() })

  it('an IPM-like peer is excluded by every peer\'s ledger after minObservations rounds, then never grouped, and stops training', async () => {
    const N = 6
    const ROUNDS = 6
    net = await makeNet(N, testCharter({ exclusion: EXCL }))
    const calls: number[][] = Array.from({ length: N }, () => [])
    let release!: (t: number) => void
    const gate = new Promise<number>(resolve => { release = resolve })
    const peers: Peer[] = []
    for (let i = 0; i < N; i++) peers.push(await net.startPeer(i, { startAt: async () => await gate, maxRounds: ROUNDS }, trainer(i === N - 1 ? -1 : 1, `p${i}`, calls[i]!)))
    // Every round event and warning (issue #5: non-members check the co-signed projections).
    const events: RoundEvent[][] = peers.map(() => [])
    const warnings: string[] = []
    peers.forEach((p, i) => { p.on('round', e => { events[i]!.push(e) }); p.on('warning', w => { warnings.push(w.message) }) })
    await new Promise(resolve => setTimeout(resolve, 1500))
    release(Date.now() + 300)
    await Promise.all(peers.map(async p => await roundOf(p, ROUNDS, 150_000)))
    const bad = net.names[N - 1]!
    const st = peers[0]!.ledger.state
    assert.equal(st.charter!.exclusion.enabled, true)
    // Every checkpoint carries the co-signed evidence; every peer holds the same checkpoints and sets.
    for (let r = 1; r <= ROUNDS; r++) assert.equal(st.checkpoints[r]!.body.projections?.length, st.checkpoints[r]!.body.groups.length)
    for (const p of peers) for (let r = 1; r <= ROUNDS + 1; r++) assert.deepEqual(p.ledger.state.outlierExclusion(r), st.outlierExclusion(r), `round ${r}`)
    // Not before minObservations observations; from then on (sticky), the attacker is excluded.
    for (let r = 1; r <= EXCL.minObservations; r++) assert.ok(!st.outlierExclusion(r).includes(bad), `round ${r}`)
    const from = [...Array(ROUNDS + 1).keys()].slice(1).find(r => st.outlierExclusion(r).includes(bad))
    assert.ok(from !== undefined && from <= EXCL.minObservations + 2, `excluded from round ${String(from)}`)
    for (let r = from; r <= ROUNDS + 1; r++) assert.ok(st.outlierExclusion(r).includes(bad), `round ${r}: sticky`)
    // No plan or checkpoint from then on groups it, and it stopped training.
    for (let r = from; r <= ROUNDS; r++) assert.ok(!st.checkpoints[r]!.body.groups.flat().map(toHex).includes(bad), `round ${r} groups it`)
    assert.ok(calls[N - 1]!.every(r => r < from), `the excluded peer trained in rounds ${calls[N - 1]!.join(',')}`)
    // m = 5 of 6 peers: one non-member per round. Each that ran the round recomputed the co-signed
    // projections from the published group sums (checkpoint-verify.ts) and they matched (so did a
    // member whose own body lost to the quorum's, which holds no model of its own); no peer
    // refused an honest checkpoint.
    let checked = 0
    for (let i = 0; i < N; i++) {
      for (const e of events[i]!) {
        if (!e.projectionsChecked) continue
        checked++
        assert.ok(e.verified, `round ${e.round}: peer ${i}`)
        assert.ok(!e.member, `round ${e.round}: peer ${i} held its own model`)
      }
    }
    // (A non-member whose ledger got the checkpoint before its machine saw the quorum's signatures
    // takes the model by its co-signed hash instead: peer.md, "Non-members and the co-signed projections".)
    assert.ok(checked >= ROUNDS / 2, `${checked} non-member checks in ${ROUNDS} rounds`)
    assert.ok(!warnings.some(w => w.includes('CheckpointMismatchError')), warnings.filter(w => w.includes('Mismatch')).join('\n'))
  })
})
