/**
 * A hostile libp2p node inside a running Tessera network (real libp2p on
 * loopback): it connects to every peer, joins every gossip topic and throws
 * malformed, oversized and forged bytes at every topic and every stream
 * protocol, for a bounded time while the honest peers run rounds.
 *
 * What must hold (the brief: bad input gets a typed error, is dropped, is
 * charged to the sender, and the process keeps running and loses nothing):
 * the honest peers complete every round and agree on every checkpoint; each of
 * them charged the hostile node (and no honest peer) and, past the local
 * reputation threshold, banned it (connections closed and refused); streams with
 * garbage are refused with an error, not answered.
 */
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Libp2pTransport } from '../../src/node/libp2p-transport.ts'
import { networkProtocols, GOSSIP_TOPICS, STREAM_FAMILIES } from '../../src/node/protocol-ids.ts'
import { roundChannels } from '../../src/node/peer/round-router.ts'
import type { Peer } from '../../src/node/peer/peer.ts'
import { seededRng } from '../../src/util/rng.ts'
import { makeNet, roundOf, testCharter, type TestNet } from './peer/helpers.ts'

const ROUNDS = 3

describe('node: a hostile libp2p node inside a running network', function () {
  this.timeout(240_000)
  let net: TestNet | undefined
  let rogue: Libp2pTransport | undefined

  after(async () => {
    await rogue?.stop().catch(() => undefined)
    await net?.stopAll()
  })

  it('honest peers finish every round, agree, charge the hostile node (and only it), and keep verifiable ledgers', async () => {
    net = await makeNet(4, testCharter({ committee: { m: 3, t: 2, g: 2 } }))
    let release!: (t: number) => void
    const gate = new Promise<number>(resolve => { release = resolve })
    const peers: Peer[] = []
    for (let i = 0; i < 4; i++) peers.push(await net.startPeer(i, { maxRounds: ROUNDS, startAt: async () => await gate }))
    const netId = peers[0]!.netId
    const round = roundChannels(netId)
    const protos = networkProtocols(netId)

    rogue = await Libp2pTransport.create({
      privateKey: await generateKeyPair('Ed25519'),
      netId,
      pubsubDiscovery: false,
      heartbeatIntervalMs: 200,
      allowedTopics: [...Object.values(round.topics), ...Object.values(protos.topics).map(t => t.name)]
    })
    await rogue.start()
    for (const p of peers) await rogue.dial(p.addresses()[0]!)
    const topics = [...Object.values(round.topics), protos.topics.announce.name]
    for (const t of topics) rogue.subscribe(t, () => 'accept', () => {})
    await new Promise(resolve => setTimeout(resolve, 1500)) // mesh
    const banned = new Map<string, string[]>()
    for (const p of peers) p.on('banned', e => { banned.set(p.self, [...(banned.get(p.self) ?? []), e.peer]) })
    const done = Promise.all(peers.map(async p => await roundOf(p, ROUNDS, 200_000)))
    release(Date.now() + 300)

    // The attack: bounded in count (rounds of abuse) and time (~8 s), during rounds 1-2.
    const rng = seededRng('hostile-peer-test')
    const junk = (n: number): Uint8Array => { const b = new Uint8Array(n); rng.fillU32(new Uint32Array(b.buffer, 0, n >> 2)); return b }
    const refused: string[] = []
    let answered = 0
    for (let wave = 0; wave < 8; wave++) {
      // Stream families: a well-framed request whose body is garbage, and one over the family's cap.
      const families = [...Object.values(round.families), protos.protocols['ledger-sync'].id, protos.protocols['model-fetch'].id]
      for (const p of peers) {
        for (const f of families) {
          try { await rogue.send(p.self, f, junk(256), { timeoutMs: 3000 }); answered++ } catch (err) { const e = err as Error & { remoteName?: string }; refused.push(e.remoteName ?? e.name) }
        }
      }
      // Gossip garbage on every topic (after the requests, so the first wave's requests still meet the handlers, not a ban).
      for (const t of topics) {
        for (let k = 0; k < 5; k++) await rogue.publish(t, junk(64 + 97 * k)).catch(() => undefined)
      }
      // Raw bytes that are not a frame: a length prefix claiming 2 GiB, then junk.
      for (const p of peers) {
        try {
          const s = await rogue.node.dialProtocol(multiaddr(p.addresses()[0]!), round.families[Object.keys(round.families)[0] as keyof typeof round.families])
          s.send(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x07, ...junk(64)]))
          await s.close().catch(() => undefined)
        } catch { /* the peer may hang up first: that is the point */ }
      }
      await new Promise(resolve => setTimeout(resolve, 1000))
    }

    const events = await done
    for (const p of peers) assert.equal(p.isRunning, true, `${p.self} still running`)
    for (let r = 1; r <= ROUNDS; r++) {
      const cids = new Set(peers.map(p => p.ledger.state.checkpointCid(r)?.toString()))
      assert.equal(cids.size, 1, `round ${r}: one checkpoint on every honest peer`)
      assert.ok(!cids.has(undefined), `round ${r} checkpointed`)
    }
    assert.equal(events.length, 4)
    // Garbage requests are refused with an error; none was served as if valid.
    assert.ok(refused.length > 0)
    // The round families say why (a typed error crosses the wire by name).
    assert.ok(refused.includes('MalformedRoundMessageError'), [...new Set(refused)].join(', '))
    assert.equal(answered, 0, `garbage answered ${answered} times; refusals: ${[...new Set(refused)].join(', ')}`)
    // Every honest peer charged the hostile node; none charged an honest peer.
    const honest = new Set(peers.map(p => p.self))
    for (const p of peers) {
      const pen = p.status().penalties
      assert.ok((pen[rogue.self] ?? 0) > 0, `${p.self.slice(0, 8)} charged the hostile node: ${JSON.stringify(pen)}`)
      for (const who of Object.keys(pen)) assert.ok(!honest.has(who), `${p.self.slice(0, 8)} charged honest ${who.slice(0, 8)}: ${JSON.stringify(pen)}`)
    }
    // Local reputation: every honest peer banned the hostile node (and only it), and refuses it now.
    for (const p of peers) {
      assert.deepEqual(banned.get(p.self), [rogue.self], `${p.self.slice(0, 8)} banned exactly the hostile node`)
      assert.equal(p.transport.isBanned(rogue.self), true)
    }
    await assert.rejects(rogue.send(peers[0]!.self, round.families[Object.keys(round.families)[0] as keyof typeof round.families], junk(16), { timeoutMs: 3000 }))
    // Caps in force: the families and topics the node abused have finite caps.
    for (const f of Object.values(STREAM_FAMILIES)) assert.ok(Number.isFinite(f.maxRequestBytes))
    for (const t of Object.values(GOSSIP_TOPICS)) assert.ok(Number.isFinite(t.maxBytes))
    console.log(`      refused garbage requests: ${refused.length} (${[...new Set(refused)].join(', ')}); penalties at peer 0: ${JSON.stringify(Object.values(peers[0]!.status().penalties))}`)
  })
})
