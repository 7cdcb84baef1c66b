/**
 * The ledger checkpoint's co-signing (src/node/peer/checkpoint-cosign.ts) on a
 * MemoryTransport, with real ledgers (LevelDB in temp dirs) holding a real
 * round 1 (E's test fixture: genesis, joins, contributions, receipts, plan):
 * concurrent proposers end with exactly one checkpoint (the earliest member's,
 * the others yield), and a proposal that fails releases its signers at once
 * (the livelock behind the end-to-end tests' timeouts under load: bindings that
 * were never released, and a new core at every attempt).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sha256 } from '@noble/hashes/sha2.js'
import { makeNet, runRound, type Net } from '../../ledger/fixture.ts'
import { Ledger, toHex } from '../../../src/ledger/index.ts'
import { nodeVerifier } from '../../../src/ledger/signature-node.ts'
import { MemoryNetwork, type MemoryTransport } from '../../../src/node/memory-transport.ts'
import { CheckpointCosign } from '../../../src/node/peer/checkpoint-cosign.ts'
import { LedgerWriter } from '../../../src/node/peer/ledger-writer.ts'
import type { CheckpointBody } from '../../../src/gossip-fl/round/messages.ts'

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

interface Member { name: string, ledger: Ledger, transport: MemoryTransport, cosign: CheckpointCosign }

/** Round 1 up to its plan, on 5 members' ledgers, each with its co-signing service and its machine's body. */
async function setup (root: string): Promise<{ net: Net, members: Member[], body: CheckpointBody }> {
  const net = await makeNet({ founders: 5, peers: 4, m: 5, t: 2, g: 2 })
  const r1 = await runRound(net, { dryCheckpoint: true })
  const network = new MemoryNetwork()
  const members: Member[] = []
  for (const name of r1.committee) {
    const ledger = await Ledger.open({ location: join(root, name.slice(0, 8)), verifier: nodeVerifier() })
    await ledger.appendMany(net.log)
    const transport = network.createTransport(name)
    await transport.start()
    const signer = net.byHex.get(name)!
    const writer = new LedgerWriter({ ledger, signer, pullFrom: async () => undefined }, { referenceWaitMs: 200 })
    const cosign = new CheckpointCosign({ transport, ledger, signer, writer, pullFrom: async () => undefined }, { netId: '0123456789abcdef', requestTimeoutMs: 3000, waitOwnMs: 500, releaseMs: 20_000 })
    await cosign.start()
    members.push({ name, ledger, transport, cosign })
  }
  // The machine's body whose core (checkpointCore(body, prev, heads)) is the fixture's round-1 core.
  const body: CheckpointBody = {
    round: 1,
    retry: 0,
    prev: sha256(utf8('seed')),
    committee: [...r1.committee],
    groups: r1.core.groups.map(g => ({ members: g.map(toHex), holders: [...r1.committee] })),
    farGroups: [],
    groupSumsHash: r1.core.groupSumsHash,
    modelHash: r1.core.modelHash,
    ruleStateHash: sha256(utf8('rule')),
    blamed: [],
    refused: []
  }
  for (const m of members) m.cosign.finished(body)
  return { net, members, body }
}

async function teardown (members: Member[], root: string): Promise<void> {
  for (const m of members) {
    await m.cosign.stop().catch(() => undefined)
    await m.transport.stop().catch(() => undefined)
    await m.ledger.close().catch(() => undefined)
  }
  await rm(root, { recursive: true, force: true })
}

describe('node/peer: checkpoint co-signing', function () {
  this.timeout(60_000)

  it('five concurrent proposers: exactly one checkpoint, the earliest member\'s, within a few attempts', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tessera-cosign-'))
    const { members, body } = await setup(root)
    try {
      const appended: Array<{ by: string, cid: string }> = []
      // Everyone proposes at once, then again (as proposeLater does) until some ledger has checkpoint 1.
      const done = (): boolean => members.some(m => m.ledger.state.lastRound >= 1)
      await Promise.all(members.map(async (m) => {
        for (let attempt = 0; attempt < 6 && !done(); attempt++) {
          const cid = await m.cosign.propose(body, body.committee, 4, Date.now()).catch(() => undefined)
          if (cid !== undefined) appended.push({ by: m.name, cid })
          await new Promise(resolve => setTimeout(resolve, 100))
        }
      }))
      assert.equal(appended.length, 1, `one checkpoint entry, got ${JSON.stringify(appended)}`)
      assert.equal(appended[0]!.by, body.committee[0], 'the earliest proposer wins; the others yield to it')
      const ck = members.find(m => m.name === appended[0]!.by)!.ledger.state.checkpoints[1]!
      assert.ok(ck.signers.length >= 4)
    } finally {
      await teardown(members, root)
    }
  })

  it('a proposal that fails releases its signers at once (not after releaseMs); a member holding the checkpoint co-signs no other', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tessera-cosign-'))
    const { members, body } = await setup(root)
    try {
      const last = members[4]!
      // An impossible quorum: every other member co-signs last's core, then last gives up and releases them.
      assert.equal(await last.cosign.propose(body, body.committee, 6, Date.now()), undefined)
      assert.equal(last.cosign.lastRefusals.length, 0, 'everyone co-signed')
      // Without the release, every member stays bound to `last` for releaseMs (20 s) and refuses this one.
      const first = members[0]!
      const cid = await first.cosign.propose(body, body.committee, 4, Date.now())
      assert.ok(cid !== undefined, `the next proposer gets its quorum at once: ${first.cosign.lastRefusals.join('; ')}`)
      assert.equal(first.ledger.state.lastRound, 1)
      // A member whose ledger already holds the checkpoint never co-signs another one for the round.
      await members[1]!.ledger.append((await first.ledger.getByCid(cid))!)
      const dagCbor = await import('@ipld/dag-cbor')
      await assert.rejects(members[2]!.transport.send(members[1]!.name, first.cosign.protocol, dagCbor.encode({ v: 1, core: members[2]!.cosign.coreFor(body) }), { timeoutMs: 3000 }),
        (e: Error) => e.message.includes('already holds its checkpoint'))
    } finally {
      await teardown(members, root)
    }
  })

  it('hostile requests are typed errors; a release from another proposer than mine changes nothing', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tessera-cosign-'))
    const { members, body } = await setup(root)
    try {
      const dagCbor = await import('@ipld/dag-cbor')
      const proto = members[0]!.cosign.protocol
      const [m0, m1, m2, m3] = members as [Member, Member, Member, Member]
      for (const bad of [new Uint8Array([0xff]), dagCbor.encode({ v: 1, release: -1 }), dagCbor.encode({ v: 1, release: 1.5 }), dagCbor.encode({ v: 2, release: 1 }), dagCbor.encode({ v: 1, release: 1, core: 1 }), dagCbor.encode({ v: 1, core: { round: 1 } })]) {
        await assert.rejects(m0.transport.send(m1.name, proto, bad, { timeoutMs: 2000 }), (e: Error) => e.name === 'RemoteError')
      }
      // m2 asks m1 to co-sign its core (a proposal m2 never completes): m1 is now bound to m2.
      const res = await m2.transport.send(m1.name, proto, dagCbor.encode({ v: 1, core: m2.cosign.coreFor(body) }), { timeoutMs: 3000 })
      assert.equal((dagCbor.decode(res) as { sig: Uint8Array }).sig.length, 64)
      // m3 cannot release m1 from m2's proposal.
      assert.deepEqual(dagCbor.decode(await m3.transport.send(m1.name, proto, dagCbor.encode({ v: 1, release: 1 }), { timeoutMs: 2000 })), { v: 1, ok: true })
      // m0 still gets its quorum (4 of 5) without m1, which refuses: it is bound to m2.
      const cid = await m0.cosign.propose(body, body.committee, 4, Date.now())
      assert.ok(cid !== undefined, m0.cosign.lastRefusals.join('; '))
      assert.equal(m0.cosign.lastRefusals.length, 1)
      assert.ok(m0.cosign.lastRefusals[0]!.includes('already co-signed another core or for another proposer'), m0.cosign.lastRefusals[0])
      assert.ok(!m0.ledger.state.checkpoints[1]!.signers.includes(m1.name))
    } finally {
      await teardown(members, root)
    }
  })

  it('a member asked by an earlier member holds off its own proposal while that one is open; after its release the next members go in committee order, not at their stagger slots', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tessera-cosign-'))
    const { members, body } = await setup(root)
    try {
      const dagCbor = await import('@ipld/dag-cbor')
      const proto = members[0]!.cosign.protocol
      const [, m1, m2, m3, m4] = members as [Member, Member, Member, Member, Member]
      const gap = 100
      assert.equal(m3.cosign.holdOff(1, body.committee, gap), 0, 'nobody asked yet: my slot decides')
      // m1 asks m3 (an open proposal: no release yet): m3 holds off; m4, never asked, does not.
      await m1.transport.send(m3.name, proto, dagCbor.encode({ v: 1, core: m1.cosign.coreFor(body) }), { timeoutMs: 3000 })
      assert.equal(m3.cosign.holdOff(1, body.committee, gap), Number.MAX_SAFE_INTEGER)
      assert.equal(m4.cosign.holdOff(1, body.committee, gap), 0)
      // A later member's request never holds an earlier one.
      await m3.transport.send(m2.name, proto, dagCbor.encode({ v: 1, core: m3.cosign.coreFor(body) }), { timeoutMs: 3000 }).catch(() => undefined)
      assert.equal(m2.cosign.holdOff(1, body.committee, gap), 0)
      // m1's proposal fails and releases m3: m3 (committee index 3) may go one gap after m2 (index 2).
      const before = Date.now()
      await m1.transport.send(m3.name, proto, dagCbor.encode({ v: 1, release: 1 }), { timeoutMs: 3000 })
      const at = m3.cosign.holdOff(1, body.committee, gap)
      assert.ok(at >= before + gap && at <= Date.now() + gap, `hold until ${at - before} ms after the release`)
      // A release older than my own last attempt is old news.
      assert.equal(m3.cosign.holdOff(1, body.committee, gap, Date.now() + 1), 0)
      // m3 is free (the release also ended its binding): it co-signs another proposer at once.
      const res = await m2.transport.send(m3.name, proto, dagCbor.encode({ v: 1, core: m2.cosign.coreFor(body) }), { timeoutMs: 3000 })
      assert.equal((dagCbor.decode(res) as { sig: Uint8Array }).sig.length, 64)
    } finally {
      await teardown(members, root)
    }
  })

  it('a proposal refused by members bound to a third proposer fails quickly and releases the members that co-signed it', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tessera-cosign-'))
    const { members, body } = await setup(root)
    try {
      const dagCbor = await import('@ipld/dag-cbor')
      const proto = members[0]!.cosign.protocol
      const [m0, m1, m2, m3, m4] = members as [Member, Member, Member, Member, Member]
      // m1, m2 bound to m4 (requests m4 never follows up).
      for (const m of [m1, m2]) await m4.transport.send(m.name, proto, dagCbor.encode({ v: 1, core: m4.cosign.coreFor(body) }), { timeoutMs: 3000 })
      // With 2 of 4 bound elsewhere, m0 (quorum 4) can reach at most 3: it fails once the two refusals are in.
      const t0 = Date.now()
      assert.equal(await m0.cosign.propose(body, body.committee, 4, Date.now()), undefined)
      const took = Date.now() - t0
      assert.ok(took < 400, `the proposal failed after ${took} ms (members wait up to waitOwnMs = 500 ms)`)
      assert.ok(m0.cosign.lastRefusals.length >= 2 && m0.cosign.lastRefusals.every(r => r.includes('already co-signed another core')), m0.cosign.lastRefusals.join('; '))
      // m3, which co-signed m0's failed core, was released: m4 gets it now.
      const res = await m4.transport.send(m3.name, proto, dagCbor.encode({ v: 1, core: m4.cosign.coreFor(body) }), { timeoutMs: 3000 })
      assert.equal((dagCbor.decode(res) as { sig: Uint8Array }).sig.length, 64)
    } finally {
      await teardown(members, root)
    }
  })
})
