/**
 * The round state machine end to end over the deterministic in-process bus, with
 * tiny vectors and a real (linear least-squares) training step, and hostile
 * inputs thrown at a single machine. No network.
 */
import assert from 'node:assert/strict'
import { simulate, type SimConfig } from '../../src/gossip-fl/sim/simulator.ts'
import { roundSignerFrom, roundVerifyFrom } from '../../src/gossip-fl/round/signer.ts'
import { nodeSigner, nodeVerifier } from '../../src/ledger/signature-node.ts'
import { decodeMessage, encodeMessage, signingBytes, FAMILY_SHARE, FAMILY_PARTIAL, type ShareMsg, type PartialMsg, type ContributionMsg } from '../../src/gossip-fl/round/messages.ts'
import { recomputeFromBlob, modelHash, decodeGroupSums } from '../../src/gossip-fl/round/aggregate.ts'
import { RoundMachine, type RoundOutput } from '../../src/gossip-fl/round/machine.ts'
import { resolveRoundParams, phaseDeadlines } from '../../src/gossip-fl/round/params.ts'
import { selectCommittee } from '../../src/gossip-fl/committee.ts'
import { seededRng } from '../../src/util/rng.ts'
import { decodeFixed } from '../../src/gossip-fl/round/sharing.ts'

const D = 24
const verify = roundVerifyFrom(nodeVerifier({ threadPool: false }))
const signerFor = (s: Uint8Array) => roundSignerFrom(nodeSigner(s))

/**
 * Peer i holds a few points (x, y) of the linear model y = <w*, x> with its own
 * offset (non-IID); its update is one gradient step of the squared loss.
 */
function linearTrainer(peers: number): (i: number, model: Float32Array) => Float32Array {
  const rng = seededRng('linear-data')
  const wStar = Float32Array.from({ length: D }, () => rng.nextFloat() * 2 - 1)
  const data = Array.from({ length: peers }, (_, i) => Array.from({ length: 8 }, () => {
    const x = Float32Array.from({ length: D }, () => rng.nextFloat() * 2 - 1 + 0.1 * i)
    let y = 0
    for (let j = 0; j < D; j++) y += wStar[j]! * x[j]!
    return { x, y }
  }))
  return (i, model) => {
    const g = new Float32Array(D)
    for (const { x, y } of data[i]!) {
      let pred = 0
      for (let j = 0; j < D; j++) pred += model[j]! * x[j]!
      for (let j = 0; j < D; j++) g[j] = g[j]! - 0.05 * (pred - y) * x[j]!
    }
    return g
  }
}

function base(over: Partial<SimConfig> = {}): SimConfig {
  return {
    peers: 8,
    rounds: 1,
    seed: 7,
    initialModel: new Float32Array(D),
    params: { committeeSize: 5, threshold: 2, groupSize: 2, rule: 'mean', clipNorm: 4 },
    train: linearTrainer(8),
    signerFor,
    verify,
    ...over
  }
}

describe('round state machine (sim, no network)', function () {
  this.timeout(60_000)

  it('completes a round with honest peers; the model equals recomputation from the published group sums, bit for bit', async () => {
    const train = linearTrainer(8)
    const res = await simulate(base({ train, rounds: 2 }))
    for (const rep of res.reports) {
      assert.equal(rep.retries, 0)
      assert.equal(rep.refused.length, 0)
      assert.equal(rep.blamed.length, 0)
      assert.equal(rep.groups.flat().length, 8, 'every contributor is in a group')
      assert.equal(rep.checkpoint.signatures.length >= Math.ceil((2 * 5) / 3), true)
      assert.ok(rep.recomputedEqual)
    }
    // Independent re-run of the aggregation from the blob of round 1, starting from the initial model.
    const ck = res.reports[0]!.checkpoint
    const re = recomputeFromBlob(new Float32Array(D), ck.groupSums!, { name: 'mean' }, undefined, { serverLr: 1, meanNormBound: 1e9 })
    assert.deepEqual(modelHash(re.model), ck.body.modelHash)
    assert.deepEqual(Buffer.from(re.model.buffer), Buffer.from(res.reports[0]!.model.buffer))
    // With the mean rule and equal group sizes the aggregate is the mean of the (clipped) updates, up to fixed-point rounding.
    const updates = Array.from({ length: 8 }, (_, i) => train(i, new Float32Array(D)))
    const blob = decodeGroupSums(ck.groupSums!)
    const scale = 2 ** blob.bits
    for (let j = 0; j < D; j++) {
      const want = updates.reduce((a, u) => a + u[j]!, 0) / 8
      assert.ok(Math.abs(re.model[j]! - want) <= 2 / scale, `coordinate ${j}: ${re.model[j]} vs ${want}`)
    }
    // The group sums decode to sums of the members' updates.
    const g0 = ck.body.groups[0]!.members.map(p => res.peerIds.indexOf(p))
    const s0 = decodeFixed(blob.sums[0]!, scale)
    assert.ok(Math.abs(s0[0]! - g0.reduce((a, i) => a + updates[i]![0]!, 0)) <= g0.length / scale)
  })

  it('blames a member that sends wrong partial sums, and the aggregate is unchanged (bit for bit)', async () => {
    const honest = await simulate(base())
    const bad = await simulate(base({ faults: { corruptPartials: [{ member: 1 }] } }))
    const rep = bad.reports[0]!
    const culprit = rep.committee[1]!
    assert.deepEqual(rep.blamed, [{ peer: culprit, reason: 'wrong-partial-sum' }])
    assert.ok(rep.misbehaviour.some(m => m.peer === culprit && m.reason === 'wrong-partial-sum' && m.severity === 'reject'))
    assert.deepEqual(rep.checkpoint.body.modelHash, honest.reports[0]!.checkpoint.body.modelHash)
    assert.ok(rep.recomputedEqual)
  })

  it('refuses an over-norm contributor from the masked norm points, without reconstructing its update', async () => {
    const seen: Array<{ round: number, type: string }> = []
    const res = await simulate(base({ faults: { overNorm: { peers: [3], factor: 50 } }, observe: (_r, d) => { if (d.channel.includes('partial')) seen.push({ round: _r, type: 'partial' }) } }))
    const rep = res.reports[0]!
    const p3 = res.peerIds[3]!
    assert.deepEqual(rep.refused, [{ peer: p3, reason: 'over-norm' }])
    assert.ok(rep.groups.every(g => !g.includes(p3)), 'the refused update is in no group, so no sum containing it is ever reconstructed')
    assert.equal(rep.groups.flat().length, 7)
    assert.ok(seen.length > 0)
  })

  it('detects a dealer whose norm masks are not shares of zero, before any partial sum is revealed, and retries', async () => {
    const partialsAtRetry0: number[] = []
    const res = await simulate(base({
      faults: { badZeroDeal: [{ member: 1, delta: 1000 }] },
      observe: (_r, d) => {
        if (!d.channel.includes('partial')) return
        const m = decodeMessage(d.payload)
        if (m.k === 0) partialsAtRetry0.push(1)
      }
    }))
    const rep = res.reports[0]!
    assert.ok(rep.retries >= 1)
    assert.equal(partialsAtRetry0.length, 0, 'no partial sum of the aborted attempt travelled')
    const dealer = (await simulate(base({ rounds: 1 }))).reports[0]!.committee[1]!
    const reports = rep.misbehaviour.filter(m => m.reason === 'bad-zero-deal')
    assert.ok(reports.length >= 3 && reports.every(m => m.peer === dealer && m.severity === 'reject'))
    assert.ok(rep.recomputedEqual)
  })

  it('completes with the rest when a member goes silent after its receipt', async () => {
    const res = await simulate(base({ faults: { silent: [{ member: 2, after: 'receipt' }] } }))
    const rep = res.reports[0]!
    assert.equal(rep.retries, 0)
    assert.ok(!rep.checkpoint.signatures.some(s => s.peer === rep.committee[2]))
    assert.ok(rep.recomputedEqual)
  })

  it('retries with a new committee when the leader is silent from the start', async () => {
    const res = await simulate(base({ faults: { silent: [{ member: 0, after: 'start' }] } }))
    const rep = res.reports[0]!
    assert.ok(rep.retries >= 1)
    assert.equal(rep.checkpoint.body.retry, rep.retries)
    assert.ok(rep.recomputedEqual)
  })

  it('sends shares only to committee members, one per member per contributor (no member holds >= t shares of one update)', async () => {
    const perPair = new Map<string, number>()
    const receivers = new Set<string>()
    const res = await simulate(base({
      observe: (_r, d) => {
        if (d.channel !== FAMILY_SHARE) return
        const m = decodeMessage(d.payload) as ShareMsg
        const key = `${d.to}/${m.from}/${m.k}`
        perPair.set(key, (perPair.get(key) ?? 0) + 1)
        receivers.add(d.to)
      }
    }))
    const committee = new Set(res.reports[0]!.committee)
    for (const r of receivers) assert.ok(committee.has(r), 'a non-member received a share')
    for (const [k, n] of perPair) assert.equal(n, 1, `${k} received ${n} shares`)
    assert.ok(res.params.threshold >= 2)
    // every contributor that is not itself a member sent one share to each of the m members
    const nonMemberContributors = res.peerIds.filter(p => !committee.has(p)).length
    assert.equal(perPair.size, nonMemberContributors * 5 + (8 - nonMemberContributors) * 4)
  })

  it('sends one partial-sum message per (holder, member), carrying every group the holder sums', async () => {
    const perPair = new Map<string, number[][]>()
    const res = await simulate(base({
      rounds: 1,
      observe: (_r, d) => {
        if (d.channel !== FAMILY_PARTIAL) return
        const m = decodeMessage(d.payload) as PartialMsg
        const key = `${m.from}/${d.to}/${m.k}`
        perPair.set(key, [...(perPair.get(key) ?? []), m.g])
      }
    }))
    const rep = res.reports[0]!
    assert.equal(rep.retries, 0)
    const groups = rep.groups.length
    assert.ok(groups >= 2, 'the test needs a holder with several groups')
    const committee = rep.committee
    // every member holds every group here (all shares delivered), so each holder sends all groups
    // in ONE message to each of the other m - 1 members (its own copy never leaves the machine)
    assert.equal(perPair.size, committee.length * (committee.length - 1))
    for (const [key, msgs] of perPair) {
      assert.equal(msgs.length, 1, `${key}: ${msgs.length} messages`)
      assert.deepEqual(msgs[0], [...Array(groups).keys()], key)
    }
    assert.ok(rep.recomputedEqual)
  })

  it('names the Byzantine contributor\'s group as far from the aggregate, in every round (regrouping singles it out)', async () => {
    const rng = seededRng('similar-updates')
    const dirs = Array.from({ length: 8 }, () => Float32Array.from({ length: D }, () => rng.nextFloat() * 0.2 + 1))
    const res = await simulate(base({
      rounds: 3, seed: 5, train: (i) => dirs[i]!,
      params: { committeeSize: 5, threshold: 2, groupSize: 2, rule: 'coordinate-median', clipNorm: 4 },
      faults: { byzantine: { peers: [5], attack: 'sign-flip' } }
    }))
    const attacker = res.peerIds[5]!
    const partners = new Set<string>()
    for (const rep of res.reports) {
      assert.equal(rep.far.length, 1, `round ${rep.round}`)
      assert.ok(rep.far[0]!.includes(attacker))
      for (const p of rep.far[0]!) if (p !== attacker) partners.add(p)
      assert.ok(rep.recomputedEqual)
    }
    assert.ok(partners.size >= 2, 'the attacker\'s partner changes between rounds')
  })

  it('is deterministic for a seed', async () => {
    const a = await simulate(base({ seed: 3 }))
    const b = await simulate(base({ seed: 3 }))
    assert.deepEqual(a.reports[0]!.checkpoint.bodyHash, b.reports[0]!.checkpoint.bodyHash)
  })
})

describe('round state machine: hostile inputs to one machine', function () {
  this.timeout(30_000)
  const params = resolveRoundParams({ committeeSize: 3, threshold: 2, groupSize: 2, rule: 'mean' })
  const rng = seededRng('hostile')
  const keys = Array.from({ length: 5 }, () => { const w = new Uint32Array(8); rng.fillU32(w); return new Uint8Array(w.buffer) })
  const signers = keys.map(signerFor)
  const ids = signers.map(s => s.peer)
  const seed = new Uint8Array(32).fill(9)
  const committee = selectCommittee(seed, ids.map(p => ({ peer: p, weight: 1 })), 3)
  const memberIdx = ids.indexOf(committee[1]!)
  const outsider = keys.map(signerFor)[0]!.peer === committee[0] ? null : null
  void outsider

  function machine(contributors = ids.slice(0, 4)): RoundMachine {
    return new RoundMachine({ params, round: 5, seed, prevModel: new Float32Array(D), candidates: ids.map(p => ({ peer: p, weight: 1 })), contributors, startTime: 0, signer: signers[memberIdx]!, verify, rng: seededRng('m') })
  }
  const mis = (outs: RoundOutput[]) => outs.filter(o => o.kind === 'misbehaviour') as Array<Extract<RoundOutput, { kind: 'misbehaviour' }>>

  it('turns malformed, stale, duplicate, unauthorized and wrong-length messages into misbehaviour outputs and keeps going', () => {
    const m = machine()
    m.start()
    const x = committee.indexOf(ids[memberIdx]!) + 1
    const contributor = ids.find(p => p !== ids[memberIdx] && ids.slice(0, 4).includes(p))!
    const notContributor = ids[4]!
    const share = (from: string, over: Partial<ShareMsg> = {}): Uint8Array => encodeMessage({ type: 'share', r: 5, k: 0, from, x, data: new Uint32Array(D).fill(3), ...over } as ShareMsg)

    const cases: Array<[Uint8Array, string, string, string]> = [
      [new Uint8Array([0xff, 0x00, 0x13]), contributor, 'malformed', 'MessageDecodeError'],
      [new Uint8Array(0), contributor, 'malformed', 'MessageDecodeError'],
      [share(contributor, { r: 4 }), contributor, 'wrong-round', 'WrongRoundError'],
      [share(notContributor), notContributor, 'not-contributor', 'UnauthorizedSenderError'],
      [share(contributor, { data: new Uint32Array(D + 1) }), contributor, 'wrong-length', 'ProtocolViolationError'],
      [share(contributor, { x: x === 1 ? 2 : 1 }), contributor, 'wrong-share-index', 'ProtocolViolationError'],
      [share(contributor), notContributor, 'spoofed-sender', 'UnauthorizedSenderError']
    ]
    for (const [bytes, from, reason, error] of cases) {
      const out = mis(m.step({ kind: 'message', from, payload: bytes }))
      assert.equal(out.length, 1, reason)
      assert.equal(out[0]!.reason, reason)
      assert.equal(out[0]!.error, error)
    }
    // A valid share is accepted (no misbehaviour), a second one is a duplicate (ignore).
    assert.equal(mis(m.step({ kind: 'message', from: contributor, payload: share(contributor) })).length, 0)
    const dup = mis(m.step({ kind: 'message', from: contributor, payload: share(contributor) }))
    assert.equal(dup[0]!.reason, 'duplicate')
    assert.equal(dup[0]!.severity, 'ignore')
    // A partial sum from a non-member, with a valid signature.
    const nonMember = ids.find(p => !committee.includes(p))!
    const p: Omit<PartialMsg, 'sig'> = { type: 'partial', r: 5, k: 0, from: nonMember, g: [0], data: new Uint32Array(D) }
    const sig = signers[ids.indexOf(nonMember)]!.sign(signingBytes(p as PartialMsg))
    const pm = mis(m.step({ kind: 'message', from: nonMember, payload: encodeMessage({ ...p, sig } as PartialMsg) }))
    assert.equal(pm[0]!.reason, 'not-member')
    // A contribution with a forged signature.
    const c: ContributionMsg = { type: 'contribution', r: 5, k: 0, from: contributor, dim: D, commitments: [new Uint8Array(32), new Uint8Array(32), new Uint8Array(32)], sig: new Uint8Array(64) }
    assert.equal(mis(m.step({ kind: 'message', from: contributor, payload: encodeMessage(c) }))[0]!.reason, 'bad-signature')
    // Random garbage never throws out of step.
    const g = seededRng('garbage')
    for (let i = 0; i < 200; i++) {
      const b = new Uint8Array(g.nextU32() % 300)
      for (let j = 0; j < b.length; j++) b[j] = g.nextU32() & 0xff
      const out = m.step({ kind: 'message', from: contributor, payload: b })
      assert.ok(out.every(o => o.kind === 'misbehaviour'))
    }
    // The machine keeps going: at the share deadline it publishes its receipt, listing the one valid share.
    const outs = m.step({ kind: 'tick', now: phaseDeadlines(params, 0, 0).share })
    const receipt = outs.find(o => o.kind === 'append' && o.entry.type === 'receipt')
    assert.ok(receipt !== undefined && receipt.kind === 'append' && receipt.entry.type === 'receipt')
    assert.deepEqual(receipt.entry.held.map(h => h.c), [contributor])
  })

  it('survives replayed and mutated real traffic (fuzz): never throws, only typed misbehaviour', async () => {
    // Record a real round's traffic, then replay it, mutated, into fresh machines of the same round.
    const traffic: Array<{ from: string, payload: Uint8Array }> = []
    const res = await simulate(base({ peers: 6, seed: 21, train: linearTrainer(6), observe: (_r, d) => { if (traffic.length < 3000) traffic.push({ from: d.from, payload: d.payload }) } }))
    const rep = res.reports[0]!
    assert.ok(traffic.length > 50)
    const g = seededRng('fuzz')
    const pick = <T>(a: readonly T[]): T => a[g.nextU32() % a.length]!
    const errors = new Set<string>()
    for (const target of [rep.committee[0]!, rep.committee[2]!, res.peerIds.find(p => !rep.committee.includes(p))!]) {
      const i = res.peerIds.indexOf(target)
      const keysRng = seededRng('tessera-sim/21')
      const seeds = Array.from({ length: 6 }, () => { const w = new Uint32Array(8); keysRng.fillU32(w); return new Uint8Array(w.buffer) })
      const m = new RoundMachine({
        params: resolveRoundParams({ committeeSize: 5, threshold: 2, groupSize: 2, rule: 'mean', clipNorm: 4 }), round: 1,
        seed: rep.checkpoint.body.prev, prevModel: new Float32Array(D), candidates: res.peerIds.map(p => ({ peer: p, weight: 1 })),
        contributors: res.peerIds, startTime: 0, signer: signerFor(seeds[i]!), verify, rng: seededRng('fuzz-m')
      })
      assert.equal(m.self, target, 'the fuzzed machine plays the recorded peer\'s role')
      m.start()
      for (let n = 0; n < 600; n++) {
        const t = pick(traffic)
        let b = Uint8Array.from(t.payload)
        const op = g.nextU32() % 4
        if (op === 1 && b.length > 0) b[g.nextU32() % b.length] ^= 1 << (g.nextU32() % 8)
        if (op === 2) b = b.subarray(0, g.nextU32() % (b.length + 1))
        const from = op === 3 ? pick(res.peerIds) : t.from
        const outs = m.step({ kind: 'message', from, payload: b })
        for (const o of outs) if (o.kind === 'misbehaviour') errors.add(o.error)
        if (n % 100 === 99) m.step({ kind: 'tick', now: n * 200 })
      }
    }
    const typed = ['MessageDecodeError', 'MessageTooLargeError', 'WrongRoundError', 'DuplicateMessageError', 'UnauthorizedSenderError', 'BadSignatureError', 'ProtocolViolationError']
    for (const e of errors) assert.ok(typed.includes(e), e)
    assert.ok(errors.has('MessageDecodeError') && errors.has('DuplicateMessageError'))
  })

  it('rejects host errors with a typed error (wrong update length, NaN, step before start)', () => {
    assert.throws(() => machine().step({ kind: 'tick', now: 1 }), (e: Error) => e.name === 'RoundStateError')
    const m = machine()
    m.start()
    assert.throws(() => m.start(), (e: Error) => e.name === 'RoundStateError')
    assert.throws(() => m.step({ kind: 'trained', update: new Float32Array(D + 1) }), (e: Error) => e.name === 'RoundStateError')
    assert.throws(() => m.step({ kind: 'trained', update: new Float32Array(D).fill(NaN) }), (e: Error) => e.name === 'RoundStateError')
  })
})
