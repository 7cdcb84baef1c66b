/**
 * The censoring leader (issue #5) on real round machines: a leader that drops
 * its targets' contribution gossip publishes a plan without them; every honest
 * member accepts that plan (no 'reject' misbehaviour), the round completes, and
 * the checkpoint equals the fast path's (fast.ts `censor`) bit for bit. The
 * audit of the round's public receipts against the plan (evidence.ts) names
 * exactly the targets and charges the leader, which then loses reputation.
 *
 * The driver below is H's simulate loop (src/gossip-fl/sim/simulator.ts) for
 * one round with one change: deliveries can be dropped. simulate has no such
 * hook, so the test carries its own 40 lines rather than editing H's file.
 */
import assert from 'node:assert/strict'
import { seededRng, childRng, type Rng } from '../../../src/util/rng.ts'
import { RoundMachine, type RoundOutput, type CompletedCheckpoint } from '../../../src/gossip-fl/round/machine.ts'
import { resolveRoundParams, phaseDeadlines, fixedPointPlan, type RoundParams } from '../../../src/gossip-fl/round/params.ts'
import { ed25519Signer, ed25519Verify } from '../../../src/gossip-fl/round/signer.ts'
import { decodeMessage, TOPIC_CONTRIBUTION, TOPIC_RECEIPT, type ContributionMsg, type ReceiptMsg } from '../../../src/gossip-fl/round/messages.ts'
import { normVerdicts } from '../../../src/gossip-fl/round/plan.ts'
import { modelHash } from '../../../src/gossip-fl/round/aggregate.ts'
import { Bus, type Delivery } from '../../../src/gossip-fl/sim/bus.ts'
import { fastSimulate } from '../../../src/gossip-fl/harness/fast.ts'
import { roundEvidence, censoredContributors, reputationAfter } from '../../../src/gossip-fl/harness/evidence.ts'
import type { RoundEvidence } from '../../../src/reputation/types.ts'

const DIM = 200
const SEED = 'censor-test'
const PARAMS = { committeeSize: 5, threshold: 2, groupSize: 2, rule: 'centered-clipping', ruleParams: { tau: 0.5 }, clipNorm: 1, noiseMultiplier: 0.5 }

function train(i: number, model: Float32Array, round: number): Float32Array {
  const rng = childRng(`censor-train/${i}`, `round/${round}`)
  const u = new Float32Array(DIM)
  for (let j = 0; j < DIM; j++) u[j] = 0.05 * (((i * 5 + j) % 7) / 7 - model[j]!) + 0.01 * (rng.nextFloat() - 0.5)
  return u
}

function seed32(rng: Rng): Uint8Array {
  const w = new Uint32Array(8)
  rng.fillU32(w)
  return new Uint8Array(w.buffer)
}

function nextDeadline(p: RoundParams, start: number, now: number): number {
  for (let k = 0; k <= p.maxRetries + 1; k++) {
    const d = phaseDeadlines(p, start, k)
    for (const t of [d.share, d.receipt, d.plan, d.partial, d.checkpoint]) if (t > now) return t
  }
  return now + 1
}

/** Round 1 of `peers` real machines over the bus, dropping deliveries `drop` selects. */
async function fullRound(peers: number, drop: (d: Delivery, ids: string[]) => boolean): Promise<{ ids: string[], ck: CompletedCheckpoint, rejects: Array<{ reporter: string, peer: string, reason: string }>, receipts: Map<string, ReceiptMsg>, contributions: Map<string, ContributionMsg> }> {
  const params = resolveRoundParams(PARAMS)
  const master = seededRng(`tessera-sim/${SEED}`)
  const signers = Array.from({ length: peers }, () => ed25519Signer(seed32(master)))
  const ids = signers.map(s => s.peer)
  const index = new Map(ids.map((p, i) => [p, i]))
  const bus = new Bus(ids)
  const prev = seed32(childRng(SEED, 'genesis'))
  const model = new Float32Array(DIM)
  const machines = ids.map((_, i) => new RoundMachine({
    params, round: 1, seed: prev, prevModel: model, candidates: ids.map(p => ({ peer: p, weight: 1 })), contributors: ids, startTime: 0,
    signer: signers[i]!, verify: ed25519Verify, rng: childRng(SEED, `peer/${i}/round/1`)
  }))
  const done = new Map<string, CompletedCheckpoint>()
  const rejects: Array<{ reporter: string, peer: string, reason: string }> = []
  const receipts = new Map<string, ReceiptMsg>()
  const contributions = new Map<string, ContributionMsg>()
  const trainReq: number[] = []
  const handle = (i: number, outs: RoundOutput[]): void => {
    for (const o of outs) {
      if (o.kind === 'send') bus.send(ids[i]!, o.to, o.family, o.bytes)
      else if (o.kind === 'publish') {
        bus.publish(ids[i]!, o.topic, o.bytes)
        // A public verifier's view: every receipt and contribution published.
        if (o.topic === TOPIC_RECEIPT) { const m = decodeMessage(o.bytes) as ReceiptMsg; receipts.set(m.from, m) }
        if (o.topic === TOPIC_CONTRIBUTION) { const m = decodeMessage(o.bytes) as ContributionMsg; contributions.set(m.from, m) }
      } else if (o.kind === 'train') trainReq.push(i)
      else if (o.kind === 'misbehaviour' && o.severity === 'reject') rejects.push({ reporter: ids[i]!, peer: o.peer, reason: o.reason })
      else if (o.kind === 'done') done.set(ids[i]!, o.checkpoint)
    }
  }
  machines.forEach((m, i) => handle(i, m.start()))
  for (const i of trainReq) handle(i, machines[i]!.step({ kind: 'trained', update: train(i, model, 1) }))
  let now = 0
  for (let steps = 0; machines.some(m => !m.isDone); steps++) {
    assert.ok(steps < 2_000_000, 'round did not end')
    const d = bus.next()
    if (d !== undefined) {
      if (drop(d, ids)) continue
      handle(index.get(d.to)!, machines[index.get(d.to)!]!.step({ kind: 'message', from: d.from, payload: d.payload }))
      continue
    }
    now = nextDeadline(params, 0, now)
    machines.forEach((m, i) => handle(i, m.step({ kind: 'tick', now })))
  }
  const ck = [...done.values()].find(c => c.model !== undefined)
  assert.ok(ck !== undefined, 'no checkpoint')
  return { ids, ck, rejects, receipts, contributions }
}

describe('harness: censoring leader', function () {
  this.timeout(60_000)
  const base = { peers: 9, rounds: 1, seed: SEED, initialModel: new Float32Array(DIM), train, params: PARAMS }

  it('real machines accept a censored plan; the fast path gives the same checkpoint; the receipts-vs-plan audit charges the leader', async () => {
    const honest = await fastSimulate(base)
    const leader = honest.reports[0]!.committee[0]!
    const leaderIdx = honest.peerIds.indexOf(leader)
    const targets = [0, 1, 2, 3].filter(i => i !== leaderIdx).slice(0, 2)
    const targetIds = new Set(targets.map(i => honest.peerIds[i]!))

    const fast = await fastSimulate({ ...base, censor: { leaders: [leaderIdx], targets } })
    const full = await fullRound(9, (d, ids) => d.to === leader && d.channel === TOPIC_CONTRIBUTION && targetIds.has(d.from) && ids.includes(d.from))

    // Members accepted the plan: nobody was rejected, and the targets are neither grouped nor refused.
    assert.deepEqual(full.rejects, [])
    const grouped = full.ck.body.groups.flatMap(g => g.members)
    for (const t of targetIds) {
      assert.ok(!grouped.includes(t), 'target grouped')
      assert.ok(!full.ck.body.refused.some(r => r.peer === t), 'target refused')
    }
    // Bit-identical to the fast path.
    assert.equal(Buffer.from(fast.reports[0]!.bodyHash!).toString('hex'), Buffer.from(full.ck.bodyHash).toString('hex'))
    assert.equal(Buffer.from(modelHash(fast.reports[0]!.model)).toString('hex'), Buffer.from(modelHash(full.ck.model!)).toString('hex'))
    assert.deepEqual(fast.reports[0]!.censored, [...targetIds].sort())
    // and differs from the honest round (the targets' updates are missing).
    assert.notEqual(Buffer.from(honest.reports[0]!.bodyHash!).toString('hex'), Buffer.from(full.ck.bodyHash).toString('hex'))

    // The audit on the real round's public messages: receipts show the targets' shares delivered, their norm admitted.
    const committee = full.ck.body.committee
    const verdicts = normVerdicts({ committee, t: 2, receipts: full.receipts, contributions: full.contributions, normBoundField: fixedPointPlan(resolveRoundParams(PARAMS), DIM).normBoundField })
    for (const t of targetIds) assert.ok(verdicts.admitted.includes(t), 'public verdict admits the target')
    for (const t of targetIds) assert.ok([...full.receipts.values()].some(r => r.held.some(h => h.c === t)), 'a receipt acknowledges the target')
    const view = {
      round: 1, committee, receipts: new Map([...full.receipts].map(([m, r]) => [m, r.held.map(h => h.c)])), admitted: verdicts.admitted,
      planGroups: full.ck.body.groups.map(g => g.members), planRefused: full.ck.body.refused, blamed: full.ck.body.blamed, far: []
    }
    assert.deepEqual(censoredContributors(view), [...targetIds].sort())
    const audited = roundEvidence(view)
    assert.equal(audited.chargedLeader, leader)
    assert.ok(audited.evidence.blamed.includes(leader))
    // Without the audit, E's evidence has nothing against the leader (the ledger today).
    const plain = roundEvidence(view, false)
    assert.equal(plain.chargedLeader, null)
    assert.ok(!plain.evidence.blamed.includes(leader))
    // Consequence: the charged leader's reputation falls below every honest member's.
    const rep = reputationAfter([audited.evidence], full.ids)
    const others = committee.slice(1).map(p => rep.get(p)!.score)
    assert.ok(others.every(s => s > rep.get(leader)!.score), `${rep.get(leader)!.score} vs ${others.join(',')}`)
    const repPlain = reputationAfter([plain.evidence], full.ids)
    assert.ok(repPlain.get(leader)!.score >= Math.min(...committee.slice(1).map(p => repPlain.get(p)!.score)))
  })

  it('audit: an honest plan has no censored contributor; evidence follows the ledger formula; hostile views are typed errors', () => {
    const ids = Array.from({ length: 4 }, (_, i) => String(i).repeat(64))
    const view = {
      round: 3, committee: [ids[0]!, ids[1]!, ids[3]!], receipts: new Map([[ids[0]!, [ids[2]!, ids[3]!]], [ids[1]!, [ids[2]!]]]), admitted: [ids[2]!, ids[3]!],
      planGroups: [[ids[2]!, ids[3]!]], planRefused: [], blamed: [], far: []
    }
    const ev = roundEvidence(view)
    assert.equal(ev.chargedLeader, null)
    assert.deepEqual(ev.evidence.delivered, { [ids[0]!]: 2, [ids[1]!]: 1, [ids[2]!]: 2, [ids[3]!]: 1 })
    assert.deepEqual(ev.evidence.missed, [ids[3]!]) // a member without a receipt (E's rule)
    // A contributor refused by the plan is accounted for (the plan must say why; not censorship).
    assert.deepEqual(censoredContributors({ ...view, planGroups: [[ids[2]!]], planRefused: [{ peer: ids[3]!, reason: 'group-too-small' }] }), [])
    assert.deepEqual(censoredContributors({ ...view, planGroups: [[ids[2]!]] }), [ids[3]!])
    assert.throws(() => roundEvidence({ ...view, committee: [] }), (e: Error) => e.name === 'InvalidParametersError')
    const bad: RoundEvidence = { ...ev.evidence, blamed: ['nope'] }
    assert.throws(() => reputationAfter([bad], ids), (e: Error) => e.name === 'InvalidPeerIdError' || e.name === 'InvalidParametersError')
  })
})
