/**
 * Persistent-outlier exclusion in the live round protocol (issue #5): real round
 * machines over the in-memory simulator record each group's projection on the
 * aggregate on their co-signed checkpoints, exclude from round r whoever the
 * evidence of checkpoints < r convicts (the ledger's rule), refuse plans that group
 * an excluded contributor, and agree bit for bit with the fast engine's protocol mode.
 */
import assert from 'node:assert/strict'
import { sha256 } from '@noble/hashes/sha2.js'
import { simulate, type SimResult } from '../../../src/gossip-fl/sim/simulator.ts'
import { fastSimulate } from '../../../src/gossip-fl/harness/fast.ts'
import { buildPlan, checkPlan, dealerBlocks, type NormVerdicts } from '../../../src/gossip-fl/round/plan.ts'
import { checkCheckpointProjections, modelHash } from '../../../src/gossip-fl/round/aggregate.ts'
import { decodeMessage, encodeMessage, type CheckpointSigMsg } from '../../../src/gossip-fl/round/messages.ts'
import { fixedPointPlan, resolveRoundParams } from '../../../src/gossip-fl/round/params.ts'
import { persistentOutliers } from '../../../src/reputation/outliers.ts'
import { checkpointEvidence } from '../../../src/reputation/outlier-evidence.ts'
import { childRng, gaussian, seededRng } from '../../../src/util/rng.ts'

const DIM = 200
const EXCL = { window: 6, minObservations: 3, tCritical: 2 }
const PARAMS = { committeeSize: 4, threshold: 2, groupSize: 2, clipNorm: 0.5, rule: 'centered-clipping', ruleParams: { tau: 0.3 } }

/** Deterministic non-IID training: peer i pulls towards its own target, plus seeded jitter. */
function train(i: number, model: Float32Array, round: number): Float32Array {
  const rng = childRng(`excl-train/${i}`, `round/${round}`)
  const u = new Float32Array(DIM)
  for (let j = 0; j < DIM; j++) u[j] = 0.05 * (((i * 7 + j) % 11) / 11 + 0.5 - model[j]!) + 0.01 * gaussian(rng)
  return u
}

function hex(b: Uint8Array): string { return Buffer.from(b).toString('hex') }

function peerIds(n: number): string[] {
  const rng = seededRng('excl-test/ids')
  return Array.from({ length: n }, () => { const w = new Uint32Array(8); rng.fillU32(w); return hex(new Uint8Array(w.buffer)) })
}

async function attacked(attack: string, rounds: number): Promise<SimResult> {
  return await simulate({ peers: 9, rounds, seed: `excl-${attack}`, initialModel: new Float32Array(DIM), train, params: PARAMS, faults: { byzantine: { peers: [8], attack } }, exclusion: EXCL })
}

describe('round machines: persistent-outlier exclusion is binding (issue #5)', function () {
  this.timeout(120_000)

  for (const attack of ['ipm', 'sign-flip']) {
    it(`a${attack === 'ipm' ? 'n' : ''} ${attack} attacker is excluded by the live machines from round minObservations + 1 on, and no honest peer is`, async () => {
      const res = await attacked(attack, 7)
      const bad = res.peerIds[8]!
      const first = res.reports.findIndex(r => r.excluded.includes(bad))
      assert.ok(first >= EXCL.minObservations, `excluded in round ${first + 1}, before ${EXCL.minObservations} observations`)
      assert.ok(first >= 0 && first <= 4, `attacker excluded late or never (first ${first + 1})`)
      for (const rep of res.reports.slice(first)) {
        assert.deepEqual(rep.excluded, [bad], `round ${rep.round}: sticky, and nobody else`)
        // Refused by the plan with reason 'excluded' (on the checkpoint), and in no group.
        assert.ok(rep.refused.some(x => x.peer === bad && x.reason === 'excluded'))
        assert.ok(!rep.groups.flat().includes(bad))
      }
      for (const rep of res.reports) {
        assert.ok(rep.excluded.every(p => p === bad), `round ${rep.round}: an honest peer excluded`)
        // The co-signed bodies carry one integer projection per group; the quorum signed them.
        const body = rep.checkpoint.body
        assert.equal(body.projections!.length, body.groups.length)
        assert.ok(body.projections!.every(q => Number.isSafeInteger(q)))
        assert.ok(rep.checkpoint.signatures.length >= 3)
        assert.ok(rep.recomputedEqual)
      }
      // The excluded sets are exactly the ledger rule over the checkpoints' evidence.
      const history = res.reports.map(r => checkpointEvidence(r.checkpoint.body.groups.map(g => g.members), r.checkpoint.body.projections))
      res.reports.forEach((rep, r) => assert.deepEqual(rep.excluded, persistentOutliers(history.slice(0, r), EXCL), `round ${r + 1}`))
    })
  }

  it('the fast engine with exclusionOnCheckpoint computes the same checkpoints, bit for bit (so the same exclusions)', async () => {
    const cfg = { peers: 9, rounds: 6, seed: 'excl-ipm', initialModel: new Float32Array(DIM), train, params: PARAMS, faults: { byzantine: { peers: [8], attack: 'ipm' } }, exclusion: EXCL }
    const full = await simulate(cfg)
    const fast = await fastSimulate({ ...cfg, exclusionOnCheckpoint: true })
    assert.deepEqual(fast.peerIds, full.peerIds)
    for (let r = 0; r < cfg.rounds; r++) {
      const a = full.reports[r]!
      const b = fast.reports[r]!
      assert.deepEqual(b.excluded, a.excluded, `round ${r + 1} excluded`)
      assert.deepEqual(b.body!.projections, a.checkpoint.body.projections, `round ${r + 1} projections`)
      assert.equal(hex(modelHash(b.model)), hex(modelHash(a.model)), `round ${r + 1} model`)
      assert.equal(hex(b.bodyHash!), hex(a.checkpoint.bodyHash), `round ${r + 1} checkpoint body`)
    }
    assert.ok(full.reports.some(r => r.excluded.length > 0), 'the attacker was excluded in this run')
    // Without exclusionOnCheckpoint the fast engine keeps its earlier bodies (no evidence key): archived runs reproduce.
    const legacy = await fastSimulate({ ...cfg, rounds: 2 })
    assert.equal('projections' in legacy.reports[legacy.reports.length - 1]!.body!, false)
  })

  it('a leader that plans an excluded contributor is refused by the members (bad-plan:groups-excluded); the round retries without it', async () => {
    const clean = await attacked('ipm', 5)
    const bad = clean.peerIds[8]!
    const from = clean.reports.findIndex(r => r.excluded.includes(bad)) + 1
    assert.ok(from >= 1 && from <= 5)
    const res = await simulate({
      peers: 9, rounds: from, seed: 'excl-ipm', initialModel: new Float32Array(DIM), train, params: PARAMS, exclusion: EXCL,
      faults: { byzantine: { peers: [8], attack: 'ipm' }, ignoreExclusion: [{ member: 0, rounds: [from] }] }
    })
    // Up to that round the run is the clean one (the fault only acts once someone is excluded).
    for (let r = 0; r < from - 1; r++) assert.equal(hex(res.reports[r]!.checkpoint.bodyHash), hex(clean.reports[r]!.checkpoint.bodyHash))
    const rep = res.reports[from - 1]!
    assert.deepEqual(rep.excluded, [bad])
    const refusals = rep.misbehaviour.filter(m => m.reason === 'bad-plan:groups-excluded')
    assert.ok(refusals.length >= 2, 'members refused the plan')
    assert.ok(refusals.every(m => m.peer === clean.reports[from - 1]!.committee[0] && m.severity === 'reject'), 'the faulty leader is the one charged')
    assert.ok(rep.retries >= 1, 'the round needed a retry')
    assert.ok(!rep.groups.flat().includes(bad), 'the checkpoint does not group the excluded contributor')
    assert.ok(rep.refused.some(x => x.peer === bad && x.reason === 'excluded'))
    // The fast engine refuses the fault (it needs the full protocol).
    await assert.rejects(fastSimulate({ peers: 3, rounds: 1, seed: 1, initialModel: new Float32Array(4), train: () => new Float32Array(4), faults: { ignoreExclusion: [{ member: 0 }] } }), { name: 'InvalidParametersError' })
  })

  it('a verifier holding the group sums recomputes the projections: a tampered one is refused', async () => {
    const res = await attacked('ipm', 2)
    const rep = res.reports[1]!
    const params = resolveRoundParams(PARAMS)
    const fixed = fixedPointPlan(params, DIM)
    const prevModel = res.reports[0]!.model
    const ruleState = res.reports[0]!.checkpoint.ruleState
    const opts = { serverLr: params.serverLr, meanNormBound: fixed.normBound }
    const rule = { name: params.rule, params: params.ruleParams }
    const body = rep.checkpoint.body
    assert.equal(checkCheckpointProjections(body, rep.checkpoint.groupSums!, prevModel, rule, ruleState, opts), null)
    const tampered = { ...body, projections: body.projections!.map((q, j) => j === 1 ? q + 1 : q) }
    assert.equal(checkCheckpointProjections(tampered, rep.checkpoint.groupSums!, prevModel, rule, ruleState, opts), 'projection-mismatch: group 1')
    assert.equal(checkCheckpointProjections({ ...body, projections: undefined }, rep.checkpoint.groupSums!, prevModel, rule, ruleState, opts), 'projections-missing')
    assert.match(checkCheckpointProjections({ ...body, projections: [1] }, rep.checkpoint.groupSums!, prevModel, rule, ruleState, opts)!, /^projections-malformed/)
    assert.match(checkCheckpointProjections({ ...body, projections: body.projections!.map(() => Number.NaN) }, rep.checkpoint.groupSums!, prevModel, rule, ruleState, opts)!, /^projections-malformed/)
  })

  it('checkPlan refuses a plan that groups an excluded contributor (groups-excluded); buildPlan refuses it with reason excluded', () => {
    const ids = peerIds(10)
    const committee = ids.slice(0, 5)
    const contributors = ids.slice(5)
    const seed = sha256(new TextEncoder().encode('seed'))
    const v: NormVerdicts = { admitted: [...contributors].sort(), refused: [], blamed: [], holders: new Map(contributors.map(c => [c, [...committee]])), dealers: [] }
    // the plan names one dealer block (plan.ts dealerBlocks), in peer-id order
    const dealers = [...dealerBlocks(committee, 2)[0]!].sort()
    const plain = buildPlan(v, committee, seed, 2, 2, { recut: true })
    const x = plain.groups[0]!.members[0]!
    assert.equal(checkPlan({ groups: plain.groups, dealers }, committee, new Set(contributors), 2, 2, v, seed), null)
    assert.equal(checkPlan({ groups: plain.groups, dealers }, committee, new Set(contributors), 2, 2, v, seed, new Set([x])), 'groups-excluded')
    assert.equal(checkPlan({ groups: plain.groups, dealers }, committee, new Set(contributors), 2, 2, v, undefined, new Set([x])), 'groups-excluded')
    const excl = buildPlan(v, committee, seed, 2, 2, { recut: true, exclude: new Set([x]) })
    assert.ok(!excl.groups.some(g => g.members.includes(x)))
    assert.deepEqual(excl.refused.filter(r => r.peer === x), [{ peer: x, reason: 'excluded' }])
    assert.equal(checkPlan({ groups: excl.groups, dealers }, committee, new Set(contributors), 2, 2, v, seed, new Set([x])), null)
  })

  it('hostile projections in a checkpoint signature message are MessageDecodeErrors', async () => {
    const res = await attacked('ipm', 1)
    const body = res.reports[0]!.checkpoint.body
    const msg: CheckpointSigMsg = { type: 'ckpt', r: 1, k: 0, from: res.peerIds[0]!, body, sig: new Uint8Array(64) }
    assert.deepEqual((decodeMessage(encodeMessage(msg)) as CheckpointSigMsg).body.projections, body.projections)
    const { projections: _p, ...without } = body
    assert.equal('projections' in (decodeMessage(encodeMessage({ ...msg, body: without })) as CheckpointSigMsg).body, false)
    // NaN: dag-cbor will not write it, so patch a float's bytes (0xfb + IEEE double 1.5) into NaN's.
    const withFloat = encodeMessage({ ...msg, body: { ...body, projections: body.projections!.map((q, j) => j === 0 ? 1.5 : q) } })
    const at = Buffer.from(withFloat).indexOf(Buffer.from([0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]))
    assert.ok(at > 0)
    const nan = Uint8Array.from(withFloat)
    nan.set([0x7f, 0xf8], at + 1)
    assert.throws(() => decodeMessage(nan), (e: Error) => e.name === 'MessageDecodeError')
    const bad: unknown[] = [[0.5], body.projections!.map(() => 2 ** 60), [...body.projections!, 0], [], new Array(70_000).fill(0), body.projections!.map(() => '1'), 'x']
    for (const ps of bad) {
      assert.throws(() => decodeMessage(encodeMessage({ ...msg, body: { ...body, projections: ps as number[] } })), (e: Error) => e.name === 'MessageDecodeError', JSON.stringify(ps).slice(0, 40))
    }
    // Non-zero evidence for a group that was not reconstructed.
    const emptied = { ...body, groups: body.groups.map((g, j) => j === 0 ? { members: [], holders: [] } : g), projections: body.projections!.map(() => 3) }
    assert.throws(() => decodeMessage(encodeMessage({ ...msg, body: emptied })), (e: Error) => e.name === 'MessageDecodeError' && /empty group/.test(e.message))
  })
})
