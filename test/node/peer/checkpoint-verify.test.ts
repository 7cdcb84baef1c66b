/**
 * A non-member's check of a co-signed checkpoint against its published group sums
 * (src/node/peer/checkpoint-verify.ts, issue #5): protocol logic, so real round machines on
 * the in-memory simulator produce the round (checkpoint body with projections, group sums
 * blob, previous model and rule state), and the check is run on it and on tampered copies,
 * as a colluding quorum would sign them. The networked path (a non-member Peer on libp2p
 * running this check each round) is asserted in exclusion.test.ts.
 */
import assert from 'node:assert/strict'
import { simulate, type SimResult } from '../../../src/gossip-fl/sim/simulator.ts'
import { fixedPointPlan, resolveRoundParams } from '../../../src/gossip-fl/round/params.ts'
import { childRng, gaussian } from '../../../src/util/rng.ts'
import { nativeSha256 } from '../../../src/node/peer/peer.ts'
import { verifyFromSums, projectionMismatch, type VerifyInputs } from '../../../src/node/peer/checkpoint-verify.ts'

const DIM = 120
const PARAMS = { committeeSize: 4, threshold: 2, groupSize: 2, clipNorm: 0.5, rule: 'centered-clipping', ruleParams: { tau: 0.3 } }

function train (i: number, model: Float32Array, round: number): Float32Array {
  const rng = childRng(`cv-train/${i}`, `round/${round}`)
  const u = new Float32Array(DIM)
  for (let j = 0; j < DIM; j++) u[j] = 0.05 * (((i * 7 + j) % 11) / 11 + 0.5 - model[j]!) + 0.01 * gaussian(rng)
  return u
}

describe('node/peer: checkpoint check against the published group sums (issue #5)', function () {
  this.timeout(60_000)
  let res: SimResult
  let inputs: (exclusion: boolean, res: SimResult) => VerifyInputs

  before(async () => {
    res = await simulate({ peers: 8, rounds: 2, seed: 'cv', initialModel: new Float32Array(DIM), train, params: PARAMS, exclusion: { window: 6, minObservations: 3, tCritical: 2 } })
    inputs = (exclusion, r) => {
      const rep = r.reports[1]!
      const params = resolveRoundParams(PARAMS)
      const b = rep.checkpoint.body
      return {
        body: { round: b.round, groups: b.groups.map(g => g.members), modelHash: b.modelHash, ruleStateHash: b.ruleStateHash, ...(b.projections === undefined ? {} : { projections: b.projections }) },
        blob: rep.checkpoint.groupSums!,
        prevModel: r.reports[0]!.model,
        ruleState: r.reports[0]!.checkpoint.ruleState,
        rule: { name: params.rule, params: params.ruleParams },
        opts: { serverLr: params.serverLr, meanNormBound: fixedPointPlan(params, DIM).normBound },
        exclusion,
        signers: rep.checkpoint.signatures.map(s => s.peer),
        hash: nativeSha256
      }
    }
  })

  it('the honest round: the model and every projection recompute; the model is the members\' bit for bit', () => {
    const i = inputs(true, res)
    assert.ok(i.body.projections !== undefined && i.body.projections.length === i.body.groups.length)
    const v = verifyFromSums(i)
    assert.equal(v.verified, true)
    assert.equal(v.projectionsChecked, true)
    assert.deepEqual(new Uint8Array(v.model.buffer), new Uint8Array(res.reports[1]!.model.buffer))
  })

  it('a co-signed projection that differs by one unit is refused with CheckpointMismatchError naming the group and the signers', () => {
    const i = inputs(true, res)
    const j = i.body.groups.findIndex(g => g.length > 0)
    const tampered = { ...i, body: { ...i.body, projections: i.body.projections!.map((q, k) => k === j ? q + 1 : q) } }
    assert.throws(() => verifyFromSums(tampered), (e: Error & { reason?: string, signers?: string[], round?: number }) => {
      assert.equal(e.name, 'CheckpointMismatchError')
      assert.equal(e.reason, `projection-mismatch: group ${j}`)
      assert.equal(e.round, 2)
      assert.deepEqual(e.signers, i.signers)
      assert.ok(e.signers!.length >= 3)
      return true
    })
  })

  it('a co-signed model hash the sums do not give is refused; projections missing, malformed or without exclusion too', () => {
    const i = inputs(true, res)
    const mh = i.body.modelHash.slice()
    mh[0]! ^= 1
    assert.throws(() => verifyFromSums({ ...i, body: { ...i.body, modelHash: mh } }), (e: Error & { reason?: string }) => e.name === 'CheckpointMismatchError' && e.reason === 'model-hash-mismatch')
    const { projections: _p, ...noProj } = i.body
    assert.throws(() => verifyFromSums({ ...i, body: noProj }), (e: Error & { reason?: string }) => e.name === 'CheckpointMismatchError' && e.reason === 'projections-missing')
    for (const bad of [[1], i.body.projections!.map(() => Number.NaN), i.body.projections!.map(() => 2 ** 60), i.body.projections!.map(() => 0.5)]) {
      assert.throws(() => verifyFromSums({ ...i, body: { ...i.body, projections: bad } }), (e: Error & { reason?: string }) => e.name === 'CheckpointMismatchError' && /^projections-malformed/.test(e.reason ?? ''), JSON.stringify(bad.slice(0, 2)))
    }
    // A network without exclusion: projections on a body are refused, their absence is fine.
    assert.throws(() => verifyFromSums({ ...i, exclusion: false }), (e: Error & { reason?: string }) => e.name === 'CheckpointMismatchError' && e.reason === 'projections-without-exclusion')
    const plain = verifyFromSums({ ...i, exclusion: false, body: noProj })
    assert.equal(plain.projectionsChecked, false)
    assert.equal(plain.verified, true)
    // A rule state hash that differs clears `verified` only (the ledger core does not carry it).
    const rs = i.body.ruleStateHash!.slice()
    rs[3]! ^= 0x80
    assert.equal(verifyFromSums({ ...i, body: { ...i.body, ruleStateHash: rs } }).verified, false)
  })

  it('hostile inputs: a malformed blob, or sums of other groups, are typed errors, never a crash', () => {
    const i = inputs(true, res)
    for (const blob of [new Uint8Array(0), new Uint8Array([0xff, 0x00]), i.blob.subarray(0, i.blob.length >> 1)]) {
      assert.throws(() => verifyFromSums({ ...i, blob }), (e: Error) => e.name !== 'TypeError' && e.name !== 'RangeError' && e.name !== 'Error', `${blob.length} bytes`)
    }
    // Means of another number of groups than the body's non-empty ones.
    const means = [new Float32Array(DIM)]
    assert.equal(projectionMismatch(i.body, means, new Float32Array(DIM), true), 'group-sums-do-not-match-groups')
  })
})
