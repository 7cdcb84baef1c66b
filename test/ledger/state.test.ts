import assert from 'node:assert/strict'
import { sha256 } from '@noble/hashes/sha2.js'
import { assignGroups, selectCommittee } from '../../src/gossip-fl/committee.ts'
import { committeeCandidates, computeReputation } from '../../src/reputation/index.ts'
import { fromHex, toHex, utf8 } from '../../src/ledger/bytes.ts'
import { cosignCheckpoint, makeCheckpoint, makeEntry, makeEquivocationProof, makeGenesis } from '../../src/ledger/author.ts'
import { defaultCharter } from '../../src/ledger/charter.ts'
import { signEntry, watermarkCommitment, type CheckpointCore, type SignedEntry } from '../../src/ledger/entry.ts'
import type { Signer } from '../../src/ledger/signature.ts'
import type { LedgerRule } from '../../src/ledger/errors.ts'
import { LedgerState, retrySeed, checkpointSeed, genesisSeed } from '../../src/ledger/state.ts'
import { committeeForRound, memberInfo, roundEvidence } from '../../src/ledger/committee.ts'
import { retrySeed as machineRetrySeed } from '../../src/gossip-fl/round/util.ts'
import { cosigningMessage } from '../../src/ledger/entry.ts'
import { accept, makeNet, runRound, signerOf, type Net } from './fixture.ts'

async function rejects(net: Net | LedgerState, e: SignedEntry | Promise<SignedEntry>, rule: LedgerRule): Promise<void> {
  const state = net instanceof LedgerState ? net : net.state
  const before = state.size
  await assert.rejects(async () => accept(state, await e), (err: Error & { rule?: string }) => {
    assert.equal(err.name, 'LedgerVerificationError', err.message)
    assert.equal(err.rule, rule, err.message)
    return true
  })
  assert.equal(state.size, before, 'a rejected entry leaves the state unchanged')
}

const h = (s: string): Uint8Array => sha256(utf8(s))

describe('ledger/state: verification rules', () => {
  it('runs whole rounds: committees from the ledger, co-signed checkpoints, evidence for reputation', async () => {
    const net = await makeNet({ founders: 3, peers: 6, m: 3, t: 2, g: 2 })
    const founders = net.founders.map((f) => toHex(f.publicKey)).sort()
    const r1 = await runRound(net)
    // Round 1: the bootstrap committee is the founders, seeded by the genesis (the SHA-256 digest in its CID).
    assert.deepEqual([...r1.committee].sort(), founders)
    assert.deepEqual(genesisSeed(net.state.genesisCid!), sha256(net.log[0]!.bytes))
    assert.deepEqual(r1.committee, selectCommittee(sha256(net.log[0]!.bytes), founders.map((peer) => ({ peer, weight: 1 })), 3))
    for (let i = 0; i < 4; i++) await runRound(net)
    assert.equal(net.state.lastRound, 5)
    const ev = roundEvidence(net.state)
    assert.equal(ev.length, 5)
    assert.equal(ev[0]!.contributors.length, 6)
    assert.deepEqual(ev[0]!.missed, [])
    // Peers joined before checkpoint 1 covered their join: joinedRound 1; founders 0.
    const info = memberInfo(net.state, 5)
    assert.equal(info.length, 9)
    assert.equal(info.filter((m) => m.joinedRound === 0).length, 3)
    assert.equal(info.filter((m) => m.joinedRound === 1).length, 6)
    // Round 6's committee is drawn over all members, weighted by reputation, seeded by checkpoint 5.
    const c6 = committeeForRound(net.state, 6, 0)
    assert.equal(c6.length, 3)
    // The incremental path gives exactly the contract's definition over the whole history.
    const rep = computeReputation(roundEvidence(net.state), memberInfo(net.state, 5), { ...net.charter.reputation, round: 6 })
    // seed(6, 0) = SHA-256 of the bytes checkpoint 5's quorum co-signed (its core, without co-signatures).
    const core5 = net.state.checkpoints[5]!.body
    const s6 = sha256(cosigningMessage(core5, net.state.genesisCid!))
    assert.deepEqual(net.state.seed(6, 0), s6)
    assert.deepEqual(c6, selectCommittee(s6, committeeCandidates(rep), 3))
    // An old round (late entry) is recomputed from the history up to it, identically.
    const fresh = new LedgerState()
    for (const e of net.log) await accept(fresh, e)
    for (const r of [2, 3, 4, 5, 6]) assert.deepEqual(fresh.committee(r, 0), net.state.committee(r, 0))
    assert.notDeepEqual(committeeForRound(net.state, 6, 1), c6, 'a retry draws a new committee (with overwhelming probability)')
    // Retry k: SHA-256("tessera/retry/v1" || seed || uint32_be(k)), the round machine's definition.
    assert.deepEqual(net.state.seed(6, 1), sha256(new Uint8Array([...utf8('tessera/retry/v1'), ...s6, 0, 0, 0, 1])))
    assert.deepEqual(net.state.seed(6, 2), machineRetrySeed(s6, 2))
    assert.equal(retrySeed, machineRetrySeed, 'one definition')
    assert.deepEqual(retrySeed(new Uint8Array([1]), 0), new Uint8Array([1]))
    assert.equal(net.state.seed(6, 0).length, 32)
  })

  it('the next seed does not depend on which quorum subset co-signed, nor on who appended (no seed grinding)', async () => {
    // m = 5: quorum 4, so the author holds 4 co-signatures and may pick any 3 of them (4 subsets).
    const net = await makeNet({ founders: 5, peers: 6, m: 5, t: 2, g: 2 })
    await runRound(net)
    const a = await runRound(net, { dryCheckpoint: true })
    const { state } = net
    const members = a.committee.map((p) => net.byHex.get(p)!)
    const cosigs = await Promise.all(members.map(async (m) => await cosignCheckpoint(m, a.core, state.genesisCid!)))
    // Two checkpoints with one core: different authors, different co-signer subsets (both quorums).
    const ckA = await makeCheckpoint(state, members[0]!, a.core, [cosigs[1]!, cosigs[2]!, cosigs[3]!])
    const ckB = await makeCheckpoint(state, members[4]!, a.core, [cosigs[0]!, cosigs[2]!, cosigs[3]!])
    assert.notEqual(ckA.cid.toString(), ckB.cid.toString())
    // signers {0, 1, 2, 3} and {4, 0, 2, 3}
    const sA = new LedgerState()
    const sB = new LedgerState()
    for (const e of net.log) { await accept(sA, e); await accept(sB, e) }
    await accept(sA, ckA)
    await accept(sB, ckB)
    assert.equal(sA.lastRound, 2)
    assert.equal(sB.lastRound, 2)
    assert.deepEqual(sA.checkpoints[2]!.seed, checkpointSeed(a.core, state.genesisCid!))
    for (const k of [0, 1, 2]) {
      assert.deepEqual(sA.seed(3, k), sB.seed(3, k))
      assert.deepEqual(sA.committee(3, k), sB.committee(3, k), `round 3 retry ${k}: one committee whichever quorum subset co-signed`)
    }
    // Evidence does not depend on the co-signer subset either (missed = members without a covered receipt).
    assert.deepEqual(sA.evidence, sB.evidence)
  })

  it('every peer computes the same committees whatever the arrival order of independent entries', async () => {
    const net = await makeNet({ peers: 6 })
    await runRound(net)
    await runRound(net)
    // Replay with the joins in reverse order (they are by independent authors).
    const joins = net.log.slice(1, 7).reverse()
    const replay = new LedgerState()
    for (const e of [net.log[0]!, ...joins, ...net.log.slice(7)]) await accept(replay, e)
    assert.equal(replay.lastRound, 2)
    for (const r of [1, 2, 3]) for (const k of [0, 1, 2]) assert.deepEqual(replay.committee(r, k), net.state.committee(r, k))
  })

  it('evidence and committees do not depend on the arrival order of receipts (members that also contribute)', async () => {
    // With 3 founders and 6 peers every peer contributes and, from round 2 on, some
    // contributors sit on the committee: a member's own receipt and the receipts that
    // acknowledge its shares must add up the same whichever arrives first.
    const net = await makeNet({ peers: 6 })
    for (let r = 0; r < 4; r++) await runRound(net)
    const reordered: typeof net.log = []
    let run: typeof net.log = []
    for (const e of net.log) {
      if (e.entry.type === 'receipt') { run.push(e); continue }
      reordered.push(...run.reverse(), e)
      run = []
    }
    reordered.push(...run.reverse())
    assert.notDeepEqual(reordered.map((e) => e.cid.toString()), net.log.map((e) => e.cid.toString()))
    const replay = new LedgerState()
    for (const e of reordered) await accept(replay, e)
    assert.equal(replay.lastRound, 4)
    const both = net.state.evidence.filter((ev) => ev.committee.some((m) => ev.contributors.includes(m)))
    assert.ok(both.length > 0, 'some round has a member that also contributes')
    assert.deepEqual(replay.evidence, net.state.evidence)
    for (const r of [2, 3, 4, 5]) for (const k of [0, 1]) assert.deepEqual(replay.committee(r, k), net.state.committee(r, k))
  })

  it('genesis: first and only once', async () => {
    const a = signerOf(1)
    const state = new LedgerState()
    const g = await makeGenesis(a, defaultCharter())
    await rejects(state, signEntry(a, { type: 'join', seq: 0, prev: null, body: {} }, g.cid), 'genesis')
    await accept(state, g)
    await rejects(state, makeGenesis(signerOf(2), defaultCharter()), 'genesis')
  })

  it('signature, duplicate, seq-gap, chain-prev', async () => {
    const net = await makeNet()
    const p = net.peers[0]!
    const e = await makeEntry(net.state, p, 'watermark', { commitment: h('c'), modelHash: h('m') })
    const forged = { ...e, sig: e.sig.slice() }
    forged.sig[0]! ^= 1
    await rejects(net, forged, 'signature')
    await accept(net.state, e)
    await rejects(net, e, 'duplicate')
    const { seq, prev } = net.state.next(p.publicKey)
    await rejects(net, signEntry(p, { type: 'watermark', seq: seq + 1, prev, body: { commitment: h('c'), modelHash: h('m') } }, net.state.genesisCid), 'seq-gap')
    await rejects(net, signEntry(p, { type: 'watermark', seq, prev: net.state.genesisCid, body: { commitment: h('c'), modelHash: h('m') } }, net.state.genesisCid), 'chain-prev')
    await rejects(net, signEntry(signerOf(99), { type: 'join', seq: 0, prev: net.state.genesisCid, body: {} }, net.state.genesisCid), 'chain-prev')
  })

  it('equivocation: detected, proven by anyone, verified by anyone, author excluded for good', async () => {
    const net = await makeNet()
    const [p, q] = net.peers
    const pos = net.state.next(p!.publicKey)
    const a = await signEntry(p!, { type: 'watermark', ...pos, body: { commitment: h('1'), modelHash: h('m') } }, net.state.genesisCid)
    const b = await signEntry(p!, { type: 'watermark', ...pos, body: { commitment: h('2'), modelHash: h('m') } }, net.state.genesisCid)
    await accept(net.state, a)
    let conflictCid = ''
    await assert.rejects(accept(net.state, b), (err: Error & { rule?: string, conflictCid?: string }) => {
      assert.equal(err.rule, 'equivocation'); conflictCid = err.conflictCid!; return true
    })
    assert.equal(conflictCid, a.cid.toString())
    // Bad proofs.
    await rejects(net, makeEntry(net.state, q!, 'equivocation', { a: { entry: a.bytes, sig: a.sig }, b: { entry: a.bytes, sig: a.sig } }), 'proof')
    const forgedB = { entry: b.bytes, sig: b.sig.slice() }; forgedB.sig[3]! ^= 1
    await rejects(net, makeEntry(net.state, q!, 'equivocation', { a: { entry: a.bytes, sig: a.sig }, b: forgedB }), 'proof')
    const other = await signEntry(p!, { type: 'watermark', seq: pos.seq + 1, prev: a.cid, body: { commitment: h('3'), modelHash: h('m') } }, net.state.genesisCid)
    await rejects(net, makeEntry(net.state, q!, 'equivocation', { a: { entry: a.bytes, sig: a.sig }, b: { entry: other.bytes, sig: other.sig } }), 'proof')
    // The real proof: accepted by a fresh verifier too.
    const proof = await makeEquivocationProof(net.state, q!, a.envelope, b.envelope)
    await accept(net.state, proof)
    assert.equal(net.state.isExcluded(toHex(p!.publicKey)), true)
    await rejects(net, makeEntry(net.state, p!, 'watermark', { commitment: h('4'), modelHash: h('m') }), 'excluded-author')
    await rejects(net, makeEquivocationProof(net.state, net.peers[2]!, a.envelope, b.envelope), 'duplicate')
    const replay = new LedgerState()
    for (const e of net.log) await accept(replay, e)
    await accept(replay, a)
    await accept(replay, proof)
    assert.equal(replay.isExcluded(toHex(p!.publicKey)), true)
    // The exclusion reaches committees once a checkpoint covers the proof.
    await runRound(net)
    assert.equal(memberInfo(net.state, 1).find((m) => m.peer === toHex(p!.publicKey))?.excludedAtRound, 1)
  })

  it('admission: open joins; consortium needs k founders; only founders admit', async () => {
    const open = await makeNet({ mode: 'open' })
    const stranger = signerOf(50)
    await rejects(open, signEntry(stranger, { type: 'watermark', seq: 0, prev: null, body: { commitment: h('c'), modelHash: h('m') } }, open.state.genesisCid), 'not-admitted')
    await rejects(open, makeEntry(open.state, open.founders[0]!, 'admit', { peer: stranger.publicKey }), 'charter-limit')
    await accept(open.state, await makeEntry(open.state, stranger, 'join', {}))
    await rejects(open, makeEntry(open.state, stranger, 'join', {}), 'duplicate')

    const con = await makeNet({ mode: 'consortium', k: 2, founders: 3, peers: 2 })
    const newcomer = signerOf(60)
    await rejects(con, makeEntry(con.state, newcomer, 'join', {}), 'not-admitted')
    await rejects(con, makeEntry(con.state, con.peers[0]!, 'admit', { peer: newcomer.publicKey }), 'not-admitted')
    await accept(con.state, await makeEntry(con.state, con.founders[0]!, 'admit', { peer: newcomer.publicKey }))
    await rejects(con, makeEntry(con.state, con.founders[0]!, 'admit', { peer: newcomer.publicKey }), 'duplicate')
    await rejects(con, makeEntry(con.state, newcomer, 'join', {}), 'not-admitted')
    await accept(con.state, await makeEntry(con.state, con.founders[2]!, 'admit', { peer: newcomer.publicKey }))
    await accept(con.state, await makeEntry(con.state, newcomer, 'join', {}))
    await runRound(con)
    assert.equal(memberInfo(con.state, 1).some((m) => m.peer === toHex(newcomer.publicKey)), true)
  })

  it('contributions, receipts and plans: committee, charter-limit, reference, group, duplicate', async () => {
    const net = await makeNet({ peers: 6, m: 3, t: 2, g: 2 })
    const committee = net.state.committee(1, 0)
    const outsider = net.peers[0]!
    const member = net.byHex.get(committee[1]!)!
    await rejects(net, makeEntry(net.state, outsider, 'contribution', { round: 2, retry: 0, commitments: [h('a'), h('b'), h('c')] }), 'reference')
    await rejects(net, makeEntry(net.state, outsider, 'contribution', { round: 1, retry: 0, commitments: [h('a')] }), 'charter-limit')
    const c = await makeEntry(net.state, outsider, 'contribution', { round: 1, retry: 0, commitments: [h('a'), h('b'), h('c')] })
    await accept(net.state, c)
    await rejects(net, makeEntry(net.state, outsider, 'contribution', { round: 1, retry: 0, commitments: [h('a'), h('b'), h('c')] }), 'duplicate')
    await rejects(net, makeEntry(net.state, outsider, 'receipt', { round: 1, retry: 0, acks: [c.cid] }), 'committee')
    await rejects(net, makeEntry(net.state, member, 'receipt', { round: 1, retry: 0, acks: [net.state.genesisCid!] }), 'reference')
    await rejects(net, makeEntry(net.state, member, 'receipt', { round: 1, retry: 1, acks: [c.cid] }), 'reference')
    await accept(net.state, await makeEntry(net.state, member, 'receipt', { round: 1, retry: 0, acks: [c.cid] }))
    await rejects(net, makeEntry(net.state, member, 'receipt', { round: 1, retry: 0, acks: [c.cid] }), 'duplicate')
    const c2 = await makeEntry(net.state, net.peers[1]!, 'contribution', { round: 1, retry: 0, commitments: [h('a'), h('b'), h('c')] })
    await accept(net.state, c2)
    const leader = net.byHex.get(committee[0]!)!
    const pair = [outsider.publicKey, net.peers[1]!.publicKey]
    await rejects(net, makeEntry(net.state, member, 'plan', { round: 1, retry: 0, groups: [pair] }), 'committee')
    await rejects(net, makeEntry(net.state, leader, 'plan', { round: 1, retry: 0, groups: [[outsider.publicKey], [net.peers[1]!.publicKey]] }), 'group')
    await rejects(net, makeEntry(net.state, leader, 'plan', { round: 1, retry: 0, groups: [[outsider.publicKey, net.peers[2]!.publicKey]] }), 'reference')
    await rejects(net, makeEntry(net.state, leader, 'plan', { round: 1, retry: 0, groups: [[outsider.publicKey, outsider.publicKey]] }), 'group')
    const sorted = [...pair].sort((x, y) => (toHex(x) < toHex(y) ? -1 : 1))
    await accept(net.state, await makeEntry(net.state, leader, 'plan', { round: 1, retry: 0, groups: [sorted] }))
    await rejects(net, makeEntry(net.state, leader, 'plan', { round: 1, retry: 0, groups: [sorted] }), 'duplicate')
  })

  it('checkpoints: quorum, committee, checkpoint-order, heads, reference, unknown-author', async () => {
    const net = await makeNet({ peers: 4, founders: 4, m: 4, t: 2, g: 2 })
    const { state } = net
    // ceil(2*4/3) = 3 signatures: author + 1 co-signer is too few.
    const few = await runRound(net, { cosigners: 1, dryCheckpoint: true })
    await rejects(net, few.checkpoint, 'quorum')
    const leader = net.byHex.get(few.committee[0]!)!
    const outsider = net.peers[0]!
    /** A checkpoint over `core`, properly co-signed by `signers` (default: the rest of the committee). */
    const cp = async (core: CheckpointCore, author: Signer = leader, signers: string[] = few.committee.slice(1)): Promise<SignedEntry> =>
      await makeCheckpoint(state, author, core, await Promise.all(signers.map((m) => cosignCheckpoint(net.byHex.get(m)!, core, state.genesisCid!))))
    const outsiderHex = toHex(outsider.publicKey)
    net.byHex.set(outsiderHex, outsider)
    await rejects(net, cp(few.core, outsider), 'committee')
    await rejects(net, cp(few.core, leader, [...few.committee.slice(1), outsiderHex]), 'committee')
    await rejects(net, cp(few.core, leader, [few.committee[1]!, few.committee[1]!, few.committee[2]!]), 'duplicate')
    // A co-signature over a different body does not count.
    const wrong = await cosignCheckpoint(net.byHex.get(few.committee[1]!)!, { ...few.core, modelHash: h('other') }, state.genesisCid!)
    const right = await cosignCheckpoint(net.byHex.get(few.committee[2]!)!, few.core, state.genesisCid!)
    await rejects(net, makeCheckpoint(state, leader, few.core, [wrong, right]), 'signature')
    await rejects(net, cp({ ...few.core, round: 2 }), 'checkpoint-order')
    await rejects(net, cp({ ...few.core, prev: few.contributions[0]!.cid }), 'checkpoint-order')
    const badHead = { ...few.core.heads[0]!, cid: few.contributions[0]!.cid }
    await rejects(net, cp({ ...few.core, heads: [badHead, ...few.core.heads.slice(1)] }), 'heads')
    await rejects(net, cp({ ...few.core, heads: [...few.core.heads].reverse() }), 'malformed')
    const withoutContributor = few.core.heads.filter((hd) => toHex(hd.author) !== toHex(few.contributions[0]!.entry.author))
    await rejects(net, cp({ ...few.core, heads: withoutContributor }), 'heads')
    await rejects(net, cp({ ...few.core, blame: [signerOf(77).publicKey] }), 'unknown-author')
    await rejects(net, cp({ ...few.core, farGroups: [9] }), 'group')
    await rejects(net, cp({ ...few.core, groups: [] }), 'group')
    // Retry 1 draws the same four founders here, but it has no plan.
    await rejects(net, cp({ ...few.core, retry: 1 }), 'reference')
    // A group emptied (its sum could not be reconstructed) and its culprit blamed: valid.
    const emptied = { ...few.core, groups: few.core.groups.map((g, j) => (j === 0 ? [] : g)), blame: [few.core.groups[0]![0]!], farGroups: [1] }
    await accept(state, await cp(emptied))
    assert.equal(state.lastRound, 1)
    const ev = roundEvidence(state)[0]!
    assert.deepEqual(ev.blamed, [toHex(few.core.groups[0]![0]!)])
    assert.deepEqual([...ev.farGroupMembers].sort(), few.core.groups[1]!.map(toHex).sort())
    await rejects(net, cp(few.core), 'duplicate')
    // Heads never go backwards.
    const r2 = await runRound(net, { dryCheckpoint: true })
    const x = toHex(few.contributions[0]!.entry.author)
    const back = r2.core.heads.map((hd) => (toHex(hd.author) === x ? { author: hd.author, seq: 0, cid: state.entries.get(state.chains.get(x)!.cids[0]!)!.cid } : hd))
    const leader2 = net.byHex.get(r2.committee[0]!)!
    const cs = await Promise.all(r2.committee.slice(1).map((m) => cosignCheckpoint(net.byHex.get(m)!, { ...r2.core, heads: back }, state.genesisCid!)))
    await rejects(net, makeCheckpoint(state, leader2, { ...r2.core, heads: back }, cs), 'heads')
    await accept(state, r2.checkpoint)
    // No plan: 'reference'.
    const c3 = state.committee(3, 0)
    const core3 = { ...r2.core, round: 3, prev: state.checkpointCid(2)!, groups: [], heads: state.heads() }
    await rejects(net, cp(core3, net.byHex.get(c3[0]!)!, c3.slice(1)), 'reference')
  })

  it('a contributor whose admission the checkpoint does not cover leaves no evidence, and later committees still draw', async () => {
    const net = await makeNet({ peers: 4, m: 3, t: 2, g: 2 })
    const { state } = net
    const late = signerOf(40)
    net.byHex.set(toHex(late.publicKey), late)
    await accept(state, await makeEntry(state, late, 'join', {}))
    const committee = state.committee(1, 0)
    const contribs: SignedEntry[] = []
    for (const p of [...net.peers, late]) {
      const e = await makeEntry(state, p, 'contribution', { round: 1, retry: 0, commitments: committee.map((m) => h(`${m}/${toHex(p.publicKey)}`)) })
      await accept(state, e); contribs.push(e)
    }
    for (const m of committee) await accept(state, await makeEntry(state, net.byHex.get(m)!, 'receipt', { round: 1, retry: 0, acks: contribs.map((c) => c.cid) }))
    const planned = net.peers.map((p) => toHex(p.publicKey))
    const groups = assignGroups(state.seed(1, 0), planned, 2).map((g) => g.map((x) => fromHex(x)!))
    const leader = net.byHex.get(committee[0]!)!
    await accept(state, await makeEntry(state, leader, 'plan', { round: 1, retry: 0, groups }))
    const heads = state.heads().filter((hd) => toHex(hd.author) !== toHex(late.publicKey))
    const core = { round: 1, retry: 0, prev: state.genesisCid!, modelHash: h('m1'), groups, groupSumsHash: h('s1'), blame: [], refused: [], farGroups: [], heads }
    const cos = await Promise.all(committee.slice(1).map((m) => cosignCheckpoint(net.byHex.get(m)!, core, state.genesisCid!)))
    await accept(state, await makeCheckpoint(state, leader, core, cos))
    assert.equal(roundEvidence(state)[0]!.delivered[toHex(late.publicKey)], undefined)
    assert.equal(committeeForRound(state, 2, 0).length, 3)
    await runRound(net)
    assert.equal(state.lastRound, 2)
    assert.equal(memberInfo(state, 2).find((m) => m.peer === toHex(late.publicKey))?.joinedRound, 2)
  })

  it('committees need t eligible candidates', async () => {
    const net = await makeNet({ founders: 1, peers: 2, m: 3, t: 2 })
    assert.throws(() => net.state.committee(1, 0), { name: 'LedgerVerificationError', rule: 'committee' })
    await rejects(net, makeEntry(net.state, net.peers[0]!, 'contribution', { round: 1, retry: 0, commitments: [h('a')] }), 'committee')
  })

  it('watermarks and disputes: reference, charter-limit, commitment', async () => {
    const net = await makeNet()
    const owner = net.peers[0]!
    const opening = { scheme: 'trigger-set', key: h('key'), message: utf8('owner'), salt: h('salt') }
    const reg = await makeEntry(net.state, owner, 'watermark', { commitment: watermarkCommitment(opening), modelHash: h('model') })
    await accept(net.state, reg)
    await rejects(net, makeEntry(net.state, owner, 'dispute', { registration: net.state.genesisCid!, opening, suspectModelHash: h('s') }), 'reference')
    await rejects(net, makeEntry(net.state, owner, 'dispute', { registration: reg.cid, opening: { ...opening, salt: h('x') }, suspectModelHash: h('s') }), 'commitment')
    await rejects(net, makeEntry(net.state, owner, 'dispute', { registration: reg.cid, opening: { ...opening, scheme: 'other' }, suspectModelHash: h('s') }), 'charter-limit')
    await accept(net.state, await makeEntry(net.state, owner, 'dispute', { registration: reg.cid, opening, suspectModelHash: h('s') }))
    assert.equal(net.state.disputes.length, 1)
  })
})
