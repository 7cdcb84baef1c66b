/**
 * Issue #4 (scale): contributions reach the round machine from the host's ledger
 * (`RoundConfig.contributionsFromLedger`, `step({kind: 'contribution'})`) instead of a second
 * gossip message. The driver is the synchronous FIFO bus of the simulator with a stand-in for
 * the ledger: every `append` of a contribution is delivered to every other machine as the
 * ledger would deliver it (after the bus messages already queued: the ledger path is slower).
 * Deterministic: seeded keys and randomness, virtual clock.
 */
import assert from 'node:assert/strict'
import { childRng, type Rng } from '../../../src/util/rng.ts'
import { RoundMachine, type RoundOutput, type CompletedCheckpoint } from '../../../src/gossip-fl/round/machine.ts'
import { resolveRoundParams, phaseDeadlines, type RoundParams } from '../../../src/gossip-fl/round/params.ts'
import { ed25519Signer, ed25519Verify } from '../../../src/gossip-fl/round/signer.ts'
import { TOPIC_CONTRIBUTION, TOPIC_PLAN } from '../../../src/gossip-fl/round/messages.ts'
import { Bus } from '../../../src/gossip-fl/sim/bus.ts'

const DIM = 16
const SEED = 'machine-ledger-test'
const PARAMS = { committeeSize: 5, threshold: 2, groupSize: 2, rule: 'mean', clipNorm: 4, maxRetries: 2 }
const PEERS = 8

function seed32(rng: Rng): Uint8Array {
  const w = new Uint32Array(8)
  rng.fillU32(w)
  return new Uint8Array(w.buffer)
}

function nextDeadline(p: RoundParams, now: number): number {
  for (let k = 0; k <= p.maxRetries + 1; k++) {
    const d = phaseDeadlines(p, 0, k)
    for (const t of [d.share, d.receipt, d.plan, d.partial, d.checkpoint]) if (t > now) return t
  }
  return now + 1
}

interface Run {
  ids: string[]
  done: Map<string, CompletedCheckpoint>
  retries: Array<{ peer: string, retry: number, reason: string }>
  rejects: Array<{ reporter: string, peer: string, reason: string }>
  ignores: Array<{ reporter: string, peer: string, reason: string }>
  contributionGossip: number
}

function run(fromLedger: boolean, opts: { dropPlanAtRetry0?: boolean, ledgerFirstRetry?: boolean, lateReceiptsToLeader?: boolean } = {}): Run {
  const params = resolveRoundParams(PARAMS)
  const master = childRng(SEED, 'keys')
  const signers = Array.from({ length: PEERS }, () => ed25519Signer(seed32(master)))
  const ids = signers.map(x => x.peer)
  const index = new Map(ids.map((p, i) => [p, i]))
  const bus = new Bus(ids)
  const prev = seed32(childRng(SEED, 'genesis'))
  const model = new Float32Array(DIM)
  const machines = ids.map((_, i) => new RoundMachine({
    params, round: 1, seed: prev, prevModel: model, candidates: ids.map(p => ({ peer: p, weight: 1 })), contributors: ids, startTime: 0,
    signer: signers[i]!, verify: ed25519Verify, rng: childRng(SEED, `peer/${i}/round/1`), contributionsFromLedger: fromLedger
  }))
  const out: Run = { ids, done: new Map(), retries: [], rejects: [], ignores: [], contributionGossip: 0 }
  const ledger: Array<{ to: number, from: string, retry: number, commitments: Uint8Array[] }> = []
  const trainReq: number[] = []
  const handle = (i: number, outs: RoundOutput[]): void => {
    for (const o of outs) {
      if (o.kind === 'send') bus.send(ids[i]!, o.to, o.family, o.bytes)
      else if (o.kind === 'publish') {
        if (o.topic === TOPIC_CONTRIBUTION) out.contributionGossip++
        if (opts.dropPlanAtRetry0 === true && o.topic === TOPIC_PLAN && machines[i]!.currentRetry === 0) continue
        bus.publish(ids[i]!, o.topic, o.bytes)
      } else if (o.kind === 'append' && o.entry.type === 'contribution') {
        // The ledger: every other peer gets the entry (the machine of its author has it already).
        for (let j = 0; j < PEERS; j++) if (j !== i) ledger.push({ to: j, from: ids[i]!, retry: o.entry.retry, commitments: o.entry.commitments })
      } else if (o.kind === 'train') trainReq.push(i)
      else if (o.kind === 'misbehaviour') (o.severity === 'reject' ? out.rejects : out.ignores).push({ reporter: ids[i]!, peer: o.peer, reason: o.reason })
      else if (o.kind === 'retry') out.retries.push({ peer: ids[i]!, retry: o.retry, reason: o.reason })
      else if (o.kind === 'done') out.done.set(ids[i]!, o.checkpoint)
    }
  }
  machines.forEach((m, i) => handle(i, m.start()))
  for (const i of trainReq) {
    const u = new Float32Array(DIM)
    const rng = childRng(SEED, `train/${i}`)
    for (let j = 0; j < DIM; j++) u[j] = 0.2 * (rng.nextFloat() - 0.5)
    handle(i, machines[i]!.step({ kind: 'trained', update: u }))
  }
  let now = 0
  const leader = index.get(machines[0]!.committee[0]!)!
  const held: Array<{ to: number, from: string, payload: Uint8Array }> = []
  const receiptDeadline = phaseDeadlines(params, 0, 0).receipt
  for (let steps = 0; machines.some(m => !m.isDone); steps++) {
    assert.ok(steps < 200_000, 'round did not end')
    const d = bus.next()
    // Receipts reach the leader only after it ticked at its receipt deadline (a busy leader).
    if (d !== undefined && opts.lateReceiptsToLeader === true && now < receiptDeadline && d.channel === 'round/receipt/2' && index.get(d.to) === leader) { held.push({ to: leader, from: d.from, payload: d.payload }); continue }
    if (d === undefined && now >= receiptDeadline && held.length > 0) {
      for (const h of held.splice(0)) handle(h.to, machines[h.to]!.step({ kind: 'message', from: h.from, payload: h.payload }))
      continue
    }
    if (d !== undefined) { handle(index.get(d.to)!, machines[index.get(d.to)!]!.step({ kind: 'message', from: d.from, payload: d.payload })); continue }
    if (ledger.length > 0) {
      for (const e of ledger.splice(0)) handle(e.to, machines[e.to]!.step({ kind: 'contribution', from: e.from, round: 1, retry: e.retry, commitments: e.commitments }))
      continue
    }
    now = nextDeadline(params, now)
    machines.forEach((m, i) => handle(i, m.step({ kind: 'tick', now })))
  }
  return out
}

const withModel = (r: Run): CompletedCheckpoint => {
  const ck = [...r.done.values()].find(c => c.model !== undefined)
  assert.ok(ck !== undefined, `no checkpoint; retries: ${r.retries.map(x => x.reason).join(' | ')}`)
  return ck
}

describe('round machine: contributions from the ledger (issue #4)', function () {
  this.timeout(60_000)
  let gossip: Run
  let ledger: Run
  before(() => { gossip = run(false); ledger = run(true) })

  it('publishes no contribution on gossip, and ends with the same checkpoint and model as the gossip path', () => {
    assert.equal(gossip.contributionGossip, PEERS, 'the default still publishes every contribution')
    assert.equal(ledger.contributionGossip, 0)
    assert.equal(ledger.retries.length, 0, ledger.retries.map(x => x.reason).join(' | '))
    assert.deepEqual(ledger.rejects, [])
    const a = withModel(gossip)
    const b = withModel(ledger)
    assert.deepEqual(b.body, a.body)
    assert.deepEqual(b.bodyHash, a.bodyHash)
    assert.deepEqual(Buffer.from(b.model!.buffer), Buffer.from(a.model!.buffer))
    assert.equal(b.body.groups.flatMap(g => g.members).length, PEERS, 'every contributor grouped')
    assert.equal(ledger.done.size, PEERS)
  })

  it('a retry takes the new retry\'s ledger contributions (buffered when they come early), as the gossip path does', () => {
    const a = run(false, { dropPlanAtRetry0: true })
    const b = run(true, { dropPlanAtRetry0: true })
    assert.ok(b.retries.length > 0, 'the silent leader caused a retry')
    assert.deepEqual(b.rejects, [])
    assert.equal(withModel(b).body.retry, 1)
    assert.deepEqual(withModel(b).body, withModel(a).body)
  })

  it('a leader whose receipts come after its receipt deadline still plans (before: "no plan" for the attempt, a retry)', () => {
    const r = run(true, { lateReceiptsToLeader: true })
    assert.equal(r.retries.length, 0, r.retries.map(x => x.reason).join(' | '))
    assert.deepEqual(withModel(r).body, withModel(ledger).body)
  })

  it('a ledger contribution from a non-contributor is rejected, a stale or duplicate one ignored, a malformed input throws RoundStateError', () => {
    const params = resolveRoundParams(PARAMS)
    const master = childRng(SEED, 'keys')
    const signers = Array.from({ length: PEERS }, () => ed25519Signer(seed32(master)))
    const ids = signers.map(x => x.peer)
    const stranger = ed25519Signer(seed32(childRng(SEED, 'stranger'))).peer
    const m = new RoundMachine({
      params, round: 1, seed: seed32(childRng(SEED, 'genesis')), prevModel: new Float32Array(DIM), candidates: ids.map(p => ({ peer: p, weight: 1 })),
      contributors: ids, startTime: 0, signer: signers[0]!, verify: ed25519Verify, rng: childRng(SEED, 'x'), contributionsFromLedger: true, contribute: false
    })
    m.start()
    const commitments = Array.from({ length: 5 }, () => new Uint8Array(32))
    const mis = (outs: RoundOutput[]): string[] => outs.filter(o => o.kind === 'misbehaviour').map(o => `${(o as { severity: string }).severity}:${(o as { reason: string }).reason}`)
    assert.deepEqual(mis(m.step({ kind: 'contribution', from: stranger, round: 1, retry: 0, commitments })), ['reject:not-contributor'])
    assert.deepEqual(mis(m.step({ kind: 'contribution', from: ids[1]!, round: 1, retry: 0, commitments })), [])
    assert.deepEqual(mis(m.step({ kind: 'contribution', from: ids[1]!, round: 1, retry: 0, commitments })), ['ignore:duplicate'])
    assert.deepEqual(mis(m.step({ kind: 'contribution', from: ids[2]!, round: 2, retry: 0, commitments })), ['ignore:wrong-round'])
    assert.deepEqual(mis(m.step({ kind: 'contribution', from: ids[2]!, round: 1, retry: 0, commitments: commitments.slice(1) })), ['reject:wrong-length'])
    assert.deepEqual(mis(m.step({ kind: 'contribution', from: ids[3]!, round: 1, retry: 99, commitments })), ['ignore:future-retry'])
    for (const bad of [{ from: 7 }, { retry: -1 }, { retry: 0.5 }, { commitments: 'x' }, { commitments: [1, 2] }]) {
      assert.throws(() => m.step({ kind: 'contribution', from: ids[4]!, round: 1, retry: 0, commitments, ...bad } as never), (e: Error) => e.name === 'RoundStateError')
    }
  })

  it('a non-member\'s retry reason says what it saw, not "zero check pending"', () => {
    // Drive a round whose checkpoint signatures never come: the partial phase is silent for non-members.
    const params = resolveRoundParams(PARAMS)
    const master = childRng(SEED, 'keys')
    const signers = Array.from({ length: PEERS }, () => ed25519Signer(seed32(master)))
    const ids = signers.map(x => x.peer)
    const machines = ids.map((_, i) => new RoundMachine({
      params, round: 1, seed: seed32(childRng(SEED, 'genesis')), prevModel: new Float32Array(DIM), candidates: ids.map(p => ({ peer: p, weight: 1 })),
      contributors: ids, startTime: 0, signer: signers[i]!, verify: ed25519Verify, rng: childRng(SEED, `nm/${i}`), contributionsFromLedger: true
    }))
    const committee = machines[0]!.committee
    const outsider = ids.findIndex(p => !committee.includes(p))
    assert.ok(outsider >= 0)
    const bus = new Bus(ids)
    const reasons: string[] = []
    const trainReq: number[] = []
    const handle = (i: number, outs: RoundOutput[]): void => {
      for (const o of outs) {
        if (o.kind === 'send') bus.send(ids[i]!, o.to, o.family, o.bytes)
        // Checkpoint signatures are lost: no quorum, every machine retries.
        else if (o.kind === 'publish' && !o.topic.includes('checkpoint')) bus.publish(ids[i]!, o.topic, o.bytes)
        else if (o.kind === 'append' && o.entry.type === 'contribution') {
          for (let j = 0; j < PEERS; j++) if (j !== i) handle(j, machines[j]!.step({ kind: 'contribution', from: ids[i]!, round: 1, retry: o.entry.retry, commitments: o.entry.commitments }))
        } else if (o.kind === 'train') trainReq.push(i)
        else if (o.kind === 'retry' && i === outsider) reasons.push(o.reason)
      }
    }
    machines.forEach((m, i) => handle(i, m.start()))
    for (const i of trainReq.splice(0)) handle(i, machines[i]!.step({ kind: 'trained', update: new Float32Array(DIM).fill(0.01 * (i + 1)) }))
    let now = 0
    for (let steps = 0; reasons.length === 0 && steps < 100_000; steps++) {
      const d = bus.next()
      if (d !== undefined) { handle(ids.indexOf(d.to), machines[ids.indexOf(d.to)]!.step({ kind: 'message', from: d.from, payload: d.payload })); continue }
      now = nextDeadline(params, now)
      machines.forEach((m, i) => handle(i, m.step({ kind: 'tick', now })))
    }
    assert.equal(reasons.length, 1)
    assert.ok(!reasons[0]!.includes('zero check pending'), reasons[0])
    assert.match(reasons[0]!, /not a member: zero checks seen [1-5]\/5 \(unverified\), partial sums not visible, signatures 0\/4/)
  })
})
