/**
 * The round machine with an outside retry schedule (what the node gives it from
 * the ledger: LedgerState.seed(r, k) and committee(r, k)): committees and groups
 * of every retry follow the schedule, and the leader's plan is exactly
 * assignGroups(seed of the retry, planned contributors, g), re-cut after drops,
 * which is what E's ledger checks for a plan entry.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { sha256 } from '@noble/hashes/sha2.js'
import { simulate } from '../../../src/gossip-fl/sim/simulator.ts'
import { RoundMachine, type RoundSchedule } from '../../../src/gossip-fl/round/machine.ts'
import { buildPlan, checkPlan, dealerBlocks, type NormVerdicts } from '../../../src/gossip-fl/round/plan.ts'
import { resolveRoundParams, phaseDeadlines } from '../../../src/gossip-fl/round/params.ts'
import { ed25519Signer, ed25519Verify } from '../../../src/gossip-fl/round/signer.ts'
import { assignGroups, selectCommittee } from '../../../src/gossip-fl/committee.ts'
import { retrySeed } from '../../../src/gossip-fl/round/util.ts'
import { TOPIC_RECEIPT } from '../../../src/gossip-fl/round/messages.ts'
import { seededRng } from '../../../src/util/rng.ts'

const D = 8
const enc = new TextEncoder()

/** A ledger-like schedule that differs from the machine's default derivation. */
function otherSchedule (ids: string[], m: number): (round: number, s: Uint8Array) => RoundSchedule {
  return (_round, s) => {
    const seed = (k: number): Uint8Array => k === 0 ? s : sha256(new Uint8Array([...enc.encode('test/other-retry'), ...s, k]))
    return { seed, committee: (k) => selectCommittee(seed(k), ids.map(peer => ({ peer, weight: 1 })), m) }
  }
}

function peerIds (n: number): string[] {
  const rng = seededRng('schedule-test/ids')
  return Array.from({ length: n }, () => { const w = new Uint32Array(8); rng.fillU32(w); return [...new Uint8Array(w.buffer)].map(b => b.toString(16).padStart(2, '0')).join('') })
}

describe('round machine: an outside retry schedule (the ledger\'s seeds and committees)', function () {
  this.timeout(60_000)

  it('a retry runs with the schedule\'s committee, and its plan is assignGroups(seed of the retry, planned, g)', async () => {
    const cfg = {
      peers: 8, rounds: 1, seed: 'schedule', initialModel: new Float32Array(D),
      params: { committeeSize: 5, threshold: 2, groupSize: 2, rule: 'mean', clipNorm: 4 },
      train: (i: number) => Float32Array.from({ length: D }, (_, j) => ((i * 7 + j) % 5) / 10 - 0.2),
      // The leader of retry 0 is silent: the round needs retry 1.
      faults: { silent: [{ member: 0, after: 'start' as const }] }
    }
    // Peer ids derive from the simulator's seed: learn them from a default run (which also retries).
    const ids = (await simulate(cfg)).peerIds
    const sched = otherSchedule(ids, 5)
    const rep = (await simulate({ ...cfg, schedule: sched })).reports[0]!
    const body = rep.checkpoint.body
    assert.ok(body.retry >= 1, 'the silent leader cost a retry')
    const s = sched(1, body.prev)
    assert.deepEqual(body.committee, [...s.committee(body.retry)], 'the committee of the retry is the schedule\'s')
    assert.notDeepEqual(body.committee, selectCommittee(retrySeed(body.prev, body.retry), ids.map(peer => ({ peer, weight: 1 })), 5), 'not the machine\'s default derivation')
    const groups = body.groups.map(g => g.members)
    const planned = groups.flat()
    assert.ok(planned.length >= 4)
    assert.deepEqual(groups, assignGroups(s.seed(body.retry), planned, 2), 'groups cut with the seed of the retry')
    assert.ok(rep.recomputedEqual)
  })

  it('buildPlan with re-cut: groups are exactly assignGroups(seed, planned, g), each with >= t common holders (property)', () => {
    const ids = peerIds(24)
    const committee = ids.slice(0, 5)
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 20 }), fc.integer({ min: 2, max: 3 }), fc.integer({ min: 1, max: 3 }),
      fc.array(fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), { minLength: 20, maxLength: 20 }), fc.uint8Array({ minLength: 32, maxLength: 32 }),
      (n, g, t, holds, seed) => {
        const admitted = ids.slice(4, 4 + n).sort()
        const holders = new Map(admitted.map((c, i) => [c, committee.filter((_, j) => holds[i]![j]!)]))
        const v: NormVerdicts = { admitted, refused: [], blamed: [], holders, dealers: [] }
        const plan = buildPlan(v, committee, seed, g, t, { recut: true })
        const planned = plan.groups.flatMap(x => x.members)
        if (planned.length > 0) assert.deepEqual(plan.groups.map(x => x.members), assignGroups(seed, planned, g))
        for (const grp of plan.groups) {
          assert.ok(grp.members.length >= g && grp.holders.length >= t)
          for (const h of grp.holders) for (const c of grp.members) assert.ok(holders.get(c)!.includes(h))
        }
        // Everyone admitted is either planned or refused, once.
        assert.deepEqual([...planned, ...plan.refused.map(x => x.peer)].sort(), admitted)
        // Nobody is dropped while holding is complete.
        if (admitted.every(c => holders.get(c)!.length === 5) && admitted.length >= g) assert.equal(plan.refused.length, 0)
      }), { numRuns: 200 })
  })

  it('members refuse a plan whose groups are not the assigned partition (with a schedule)', () => {
    const ids = peerIds(10)
    const committee = ids.slice(0, 5)
    const contributors = ids.slice(5)
    const seed = sha256(enc.encode('seed'))
    const full = new Map(contributors.map(c => [c, [...committee]]))
    const v: NormVerdicts = { admitted: [...contributors].sort(), refused: [], blamed: [], holders: full, dealers: [] }
    const plan = buildPlan(v, committee, seed, 2, 2, { recut: true })
    // the plan names one dealer block (plan.ts dealerBlocks), in peer-id order
    const dealers = [...dealerBlocks(committee, 2)[0]!].sort()
    const msg = { groups: plan.groups, dealers }
    assert.equal(checkPlan(msg, committee, new Set(contributors), 2, 2, v, seed), null)
    // Swap two contributors between the first two groups: still groups of >= g, but not assignGroups.
    const g0 = plan.groups[0]!.members
    const g1 = plan.groups[1]!.members
    const swapped = [{ ...plan.groups[0]!, members: [g1[0]!, ...g0.slice(1)].sort() }, { ...plan.groups[1]!, members: [g0[0]!, ...g1.slice(1)].sort() }]
    assert.equal(checkPlan({ groups: swapped, dealers }, committee, new Set(contributors), 2, 2, v, seed), 'groups-not-assigned')
    // Without a schedule (no group seed) the machine's default check does not ask for it.
    assert.equal(checkPlan({ groups: swapped, dealers }, committee, new Set(contributors), 2, 2, v), null)
  })

  it('a schedule that cannot name a retry\'s committee ends the machine with \'failed\', never a throw', () => {
    const params = resolveRoundParams({ committeeSize: 3, threshold: 2, groupSize: 2, maxRetries: 2 })
    const signer = ed25519Signer(sha256(enc.encode('k0')))
    const others = peerIds(4)
    const candidates = [signer.peer, ...others].map(peer => ({ peer, weight: 1 }))
    const s = sha256(enc.encode('round seed'))
    const schedule: RoundSchedule = {
      seed: (k) => retrySeed(s, k),
      committee: (k) => { if (k > 0) throw new Error('no committee for this retry'); return selectCommittee(s, candidates, 3) }
    }
    const m = new RoundMachine({ params, round: 1, seed: s, prevModel: new Float32Array(D), candidates, contributors: [], startTime: 0, signer, verify: ed25519Verify, rng: seededRng('x'), schedule })
    m.start()
    const outs = m.step({ kind: 'tick', now: phaseDeadlines(params, 0, 0).checkpoint })
    const failed = outs.find(o => o.kind === 'failed')
    assert.ok(failed !== undefined && failed.kind === 'failed' && failed.reason.includes('no committee for this retry'))
    assert.ok(m.isDone)
    // A committee of the wrong size is a typed error at construction.
    assert.throws(() => new RoundMachine({ params, round: 1, seed: s, prevModel: new Float32Array(D), candidates, contributors: [], startTime: 0, signer, verify: ed25519Verify, rng: seededRng('x'), schedule: { seed: () => s, committee: () => others.slice(0, 2) } }), (e: Error) => e.name === 'RoundStateError')
  })
})

describe('round machine: a member waits for late zero masks (maskWaitMs)', () => {
  const params = resolveRoundParams({ committeeSize: 3, threshold: 2, groupSize: 2 })
  const signers = [0, 1, 2].map(i => ed25519Signer(sha256(enc.encode(`mask-wait/${i}`))))
  const candidates = signers.map(s => ({ peer: s.peer, weight: 1 }))
  const s = sha256(enc.encode('mask-wait seed'))
  const make = (i: number, maskWaitMs?: number): RoundMachine => new RoundMachine({
    params, round: 1, seed: s, prevModel: new Float32Array(D), candidates, contributors: [], startTime: 0,
    signer: signers[i]!, verify: ed25519Verify, rng: seededRng(`mask-wait/rng/${i}`), ...(maskWaitMs === undefined ? {} : { maskWaitMs })
  })
  /** The zero-mask deal `from` sends to `to` when it starts. */
  const dealTo = (from: number, to: string): Uint8Array => {
    const out = make(from).start().find(o => o.kind === 'send' && o.to === to && o.family === '/tessera/round-zero/1.0.0')
    assert.ok(out !== undefined && out.kind === 'send')
    return out.bytes
  }
  const receipt = (outs: ReturnType<RoundMachine['step']>): boolean => outs.some(o => o.kind === 'publish' && o.topic === TOPIC_RECEIPT)
  const share = phaseDeadlines(params, 0, 0).share

  it('publishes at the share deadline by default, with whatever masks it holds', () => {
    const a = make(0)
    a.start()
    a.step({ kind: 'message', from: signers[1]!.peer, payload: dealTo(1, signers[0]!.peer) })
    assert.ok(receipt(a.step({ kind: 'tick', now: share })))
  })

  it('with maskWaitMs: waits for the missing mask, publishes as soon as it arrives', () => {
    const a = make(0, 3000)
    a.start()
    a.step({ kind: 'message', from: signers[1]!.peer, payload: dealTo(1, signers[0]!.peer) })
    assert.ok(!receipt(a.step({ kind: 'tick', now: share })), 'no receipt while a mask is missing')
    assert.ok(!receipt(a.step({ kind: 'tick', now: share + 2000 })))
    assert.ok(receipt(a.step({ kind: 'message', from: signers[2]!.peer, payload: dealTo(2, signers[0]!.peer) })), 'receipt when the last mask arrives')
  })

  it('with maskWaitMs: gives up after the wait (capped at half the receipt phase) and publishes without the mask', () => {
    const a = make(0, 10 * params.deadlines.receiptMs)
    a.start()
    a.step({ kind: 'message', from: signers[1]!.peer, payload: dealTo(1, signers[0]!.peer) })
    assert.ok(!receipt(a.step({ kind: 'tick', now: share + params.deadlines.receiptMs / 2 - 1 })))
    assert.ok(receipt(a.step({ kind: 'tick', now: share + params.deadlines.receiptMs / 2 })))
  })
})

describe('round machine: early receipt (earlyReceipt, the node sets it)', () => {
  const params = resolveRoundParams({ committeeSize: 3, threshold: 2, groupSize: 2 })
  const signers = [0, 1, 2, 3].map(i => ed25519Signer(sha256(enc.encode(`early-receipt/${i}`))))
  const candidates = signers.slice(0, 3).map(s => ({ peer: s.peer, weight: 1 }))
  const s = sha256(enc.encode('early-receipt seed'))
  const make = (i: number, contributors: string[], earlyReceipt?: boolean): RoundMachine => new RoundMachine({
    params, round: 1, seed: s, prevModel: new Float32Array(D), candidates, contributors, startTime: 0,
    signer: signers[i]!, verify: ed25519Verify, rng: seededRng(`early-receipt/rng/${i}`), ...(earlyReceipt === undefined ? {} : { earlyReceipt })
  })
  const dealTo = (from: number, to: string, contributors: string[]): Uint8Array => {
    const out = make(from, contributors).start().find(o => o.kind === 'send' && o.to === to && o.family === '/tessera/round-zero/1.0.0')
    assert.ok(out !== undefined && out.kind === 'send')
    return out.bytes
  }
  const receipt = (outs: ReturnType<RoundMachine['step']>): boolean => outs.some(o => o.kind === 'publish' && o.topic === TOPIC_RECEIPT)
  const share = phaseDeadlines(params, 0, 0).share

  it('publishes once every mask (and every eligible share) is in, before the share deadline', () => {
    const a = make(0, [], true)
    a.start()
    assert.ok(!receipt(a.step({ kind: 'message', from: signers[1]!.peer, payload: dealTo(1, signers[0]!.peer, []) })), 'one mask still missing')
    assert.ok(receipt(a.step({ kind: 'message', from: signers[2]!.peer, payload: dealTo(2, signers[0]!.peer, []) })), 'the last mask completes it')
  })

  it('default: waits for the share deadline even when everything is in', () => {
    const a = make(0, [])
    a.start()
    a.step({ kind: 'message', from: signers[1]!.peer, payload: dealTo(1, signers[0]!.peer, []) })
    assert.ok(!receipt(a.step({ kind: 'message', from: signers[2]!.peer, payload: dealTo(2, signers[0]!.peer, []) })))
    assert.ok(receipt(a.step({ kind: 'tick', now: share })))
  })

  it('an eligible contributor that has not delivered holds the receipt until the share deadline', () => {
    const contributors = [signers[3]!.peer]
    const a = make(0, contributors, true)
    a.start()
    a.step({ kind: 'message', from: signers[1]!.peer, payload: dealTo(1, signers[0]!.peer, contributors) })
    assert.ok(!receipt(a.step({ kind: 'message', from: signers[2]!.peer, payload: dealTo(2, signers[0]!.peer, contributors) })))
    assert.ok(!receipt(a.step({ kind: 'tick', now: share - 1 })))
    assert.ok(receipt(a.step({ kind: 'tick', now: share })))
  })
})
