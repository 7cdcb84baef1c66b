/**
 * Gossip wire 2 (unsigned gossipsub envelopes, payload-authenticated; src/node/libp2p.ts,
 * docs/architecture/network.md "Payload-authenticated gossip"), thrown at by a hostile node
 * on real libp2p over loopback, in a line rogue - b - c (no rogue - c link):
 *
 *   - a round message signed by its author crosses b and reaches c with the author as `from`;
 *   - a forged one (altered after signing, or signed by one key while naming another author),
 *     one of the wrong type for its topic, garbage, or a discovery announcement over its cap
 *     is Rejected at b, charged to the neighbour that sent it (the rogue), never to the author
 *     a forgery names, and never forwarded to c;
 *   - a wire-1 node (StrictSign envelopes, topics without the g2 segment) gets nothing
 *     delivered and crashes nobody;
 *   - discovery announcements: signed by the announced peer, bound to topic and time; forged,
 *     unsigned (the module's own format), stale and malformed ones are refused, random bytes
 *     never throw.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@chainsafe/libp2p-yamux'
import { noise } from '@chainsafe/libp2p-noise'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@libp2p/gossipsub'
import { multiaddr } from '@multiformats/multiaddr'
import { Libp2pTransport } from '../../src/node/libp2p-transport.ts'
import { DISCOVERY_LIMITS, discoveryValidator, encodeDiscoveryAnnouncement, verifyDiscoveryAnnouncement } from '../../src/node/libp2p.ts'
import { scopeTopic } from '../../src/node/protocol-ids.ts'
import { RoundRouter, type InboundObservation } from '../../src/node/peer/round-router.ts'
import { encodeMessage, signingBytes, TOPIC_ZCHECK, type ZeroCheckMsg, type ContributionMsg } from '../../src/gossip-fl/round/messages.ts'
import { ed25519Signer, type RoundSigner } from '../../src/gossip-fl/round/signer.ts'
import { peerNameFromPeerId } from '../../src/node/peer-name.ts'
import { NET, waitFor } from './transport-compliance.ts'
import type { Misbehaviour } from '../../src/node/transport.ts'

const ALLOWED = [...NET.allTopics, scopeTopic(NET.netId, TOPIC_ZCHECK)]
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

function zcheck (author: RoundSigner, w: number, claimed = author.peer): ZeroCheckMsg {
  const m = { type: 'zcheck' as const, r: 7, k: 0, from: claimed, points: [{ d: author.peer, w }] }
  return { ...m, sig: author.sign(signingBytes(m as Omit<ZeroCheckMsg, 'sig'>)) }
}

describe('node: payload-authenticated gossip (wire 2) against a hostile node', function () {
  this.timeout(60_000)
  const mk = async (): Promise<Libp2pTransport> => await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId: NET.netId, pubsubDiscovery: false, relayServer: false, keepConnected: 0, heartbeatIntervalMs: 100, allowedTopics: ALLOWED })

  it('a signed round message crosses a hop with its author as from; forged, mistyped, misattributed and garbage ones are rejected at the first hop and charged to the sender only', async () => {
    const [rogue, b, c] = [await mk(), await mk(), await mk()]
    const routers: RoundRouter[] = []
    try {
      for (const t of [rogue, b, c]) await t.start()
      await rogue.dial(b.addresses()[0]!)
      await c.dial(b.addresses()[0]!)
      const seen: Record<string, InboundObservation[]> = { b: [], c: [] }
      const charged: Record<string, Array<[string, Misbehaviour]>> = { b: [], c: [] }
      for (const [name, t] of [['b', b], ['c', c]] as const) {
        const r = new RoundRouter({ transport: t }, { netId: NET.netId, sendTimeoutMs: 2000, observe: (o) => seen[name]!.push(o) })
        await r.start()
        routers.push(r)
        t.onMisbehaviour((p, m) => charged[name]!.push([p, m]))
      }
      const topic = routers[0]!.channels.topics[TOPIC_ZCHECK]
      const contributionTopic = routers[0]!.channels.topics['round/contribution/1']
      // the rogue takes part in gossip (its mesh), with no validation of its own
      rogue.subscribe(topic, () => 'accept', () => {})
      rogue.subscribe(contributionTopic, () => 'accept', () => {})
      await waitFor(() => b.topicPeers(topic).length === 2 && rogue.topicPeers(topic).length === 1 && c.topicPeers(topic).length === 1, 10_000, 'subscriptions')
      await sleep(800) // heartbeats graft the meshes

      const x = ed25519Signer(new Uint8Array(32).fill(1)) // an honest author (not on the network)
      const y = ed25519Signer(new Uint8Array(32).fill(2)) // the rogue's round key
      const good = encodeMessage(zcheck(x, 5))
      // x's signed message with one field changed after signing (w 5 -> 4): well-formed, signature broken
      const signed5 = zcheck(x, 5)
      const altered = encodeMessage({ ...signed5, points: [{ d: x.peer, w: 4 }] })
      const misattributed = encodeMessage(zcheck(y, 6, x.peer)) // y signs, names x as author
      const cm = { type: 'contribution' as const, r: 7, k: 0, from: y.peer, dim: 4, commitments: [new Uint8Array(32)] }
      const contribution = encodeMessage({ ...cm, sig: y.sign(signingBytes(cm as Omit<ContributionMsg, 'sig'>)) })
      for (const bad of [altered, misattributed, contribution, Uint8Array.of(0xa1, 0x61, 0x78, 0x01), new Uint8Array(300).fill(7)]) await rogue.publish(topic, bad)
      // the right type on its own topic, validly signed: accepted (the author need not be the sender)
      await rogue.publish(contributionTopic, contribution)
      await rogue.publish(topic, good)
      await waitFor(() => seen.c!.length >= 2, 10_000, 'the valid messages to cross b')
      await sleep(500)

      const rogueName = rogue.self
      for (const at of ['b', 'c'] as const) {
        assert.deepEqual(seen[at]!.map((o) => [o.msg.type, o.from]).sort(), [['contribution', y.peer], ['zcheck', x.peer]].sort(), `${at} saw only the two valid messages, each with its signer as author`)
      }
      // b rejected the five bad ones, each charged to the rogue (the neighbour that sent it)
      const rejects = charged.b!.filter(([, m]) => m.kind === 'gossip-reject')
      assert.equal(rejects.length, 5, JSON.stringify(charged.b))
      for (const [p, m] of rejects) { assert.equal(p, rogueName); assert.equal(m.via, rogueName) }
      assert.ok(!charged.b!.some(([p]) => p === x.peer || p === c.self), 'nobody named in a forgery is charged')
      // nothing bad was forwarded: c saw no misbehaviour at all
      assert.deepEqual(charged.c, [])
    } finally {
      for (const r of routers) await r.stop()
      await Promise.all([rogue, b, c].map(async (t) => { await t.stop() }))
    }
  })

  it('a discovery announcement over the topic cap is rejected and charged to the sender', async () => {
    const [rogue, b] = [await mk(), await mk()]
    try {
      await rogue.start(); await b.start()
      await rogue.dial(b.addresses()[0]!)
      const topic = NET.topics.discovery.name
      const charged: Array<[string, Misbehaviour]> = []
      b.onMisbehaviour((p, m) => charged.push([p, m]))
      const got: number[] = []
      b.subscribe(topic, discoveryValidator, (m) => got.push(m.data.length), { maxBytes: NET.topics.discovery.maxBytes })
      // the rogue's own cap is the global one, so it can send what b's topic refuses
      rogue.subscribe(topic, () => 'accept', () => {}, { maxBytes: 64 * 1024 })
      await waitFor(() => b.topicPeers(topic).length === 1 && rogue.topicPeers(topic).length === 1, 10_000, 'subscriptions')
      await sleep(500)
      const key = await generateKeyPair('Ed25519')
      const big = await encodeDiscoveryAnnouncement(topic, key, Array.from({ length: 30 }, () => new Uint8Array(200)), Date.now())
      assert.ok(big.length > NET.topics.discovery.maxBytes)
      await rogue.publish(topic, big)
      const ok = await encodeDiscoveryAnnouncement(topic, key, [multiaddr('/ip4/127.0.0.1/tcp/4001').bytes], Date.now())
      await rogue.publish(topic, ok)
      await waitFor(() => got.length === 1, 10_000, 'the valid announcement')
      await sleep(300)
      assert.deepEqual(got, [ok.length])
      assert.deepEqual(charged.map(([p, m]) => [p, m.kind]), [[rogue.self, 'oversized-message']])
    } finally {
      await Promise.all([rogue, b].map(async (t) => { await t.stop() }))
    }
  })

  it('a wire-1 node (StrictSign envelopes, old and new topic names) gets nothing delivered and crashes nobody', async () => {
    const b = await mk()
    const c = await mk()
    const old = await createLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify(), pubsub: gossipsub({ globalSignaturePolicy: 'StrictSign', allowPublishToZeroTopicPeers: true, emitSelf: false, heartbeatInterval: 100 }) }
    })
    try {
      await b.start(); await c.start(); await old.start()
      await c.dial(b.addresses()[0]!)
      await old.dial(multiaddr(b.addresses()[0]!))
      const topic = NET.topics.announce.name // /tessera/<netid>/g2/ledger/announce/1
      const wire1 = topic.replace('/g2/', '/') // the same family under wire 1
      const got: string[] = []
      const charged: string[] = []
      b.onMisbehaviour((p) => charged.push(p))
      b.subscribe(topic, () => 'accept', (m) => got.push(new TextDecoder().decode(m.data)))
      c.subscribe(topic, () => 'accept', () => {})
      old.services.pubsub.subscribe(topic)
      old.services.pubsub.subscribe(wire1)
      await waitFor(() => b.topicPeers(topic).length === 2, 10_000, 'subscriptions')
      // the wire-1 topic is not among b's allowed topics: its subscription is dropped unread
      assert.equal(b.node.services.pubsub.getSubscribers(wire1).length, 0)
      await sleep(500)
      for (let i = 0; i < 3; i++) {
        await old.services.pubsub.publish(topic, new TextEncoder().encode(`signed ${i}`)).catch(() => undefined)
        await old.services.pubsub.publish(wire1, new TextEncoder().encode(`old ${i}`)).catch(() => undefined)
      }
      await c.publish(topic, new TextEncoder().encode('wire 2'))
      await waitFor(() => got.length >= 1, 10_000, 'the wire-2 message')
      await sleep(500)
      assert.deepEqual(got, ['wire 2'], 'signed envelopes (SignaturePresent) and wire-1 topics are dropped before any validator')
      assert.deepEqual(charged, [], 'dropped by gossipsub itself, not charged by Tessera')
      assert.equal(b.peers().includes(peerNameFromPeerId(old.peerId)!), true, 'b still runs and still talks to it')
    } finally {
      await old.stop()
      await Promise.all([b, c].map(async (t) => { await t.stop() }))
    }
  })

  describe('discovery announcements (peer/discovery/2)', () => {
    const topic = NET.topics.discovery.name
    const addrs = [multiaddr('/ip4/127.0.0.1/tcp/4001').bytes, multiaddr('/ip4/10.0.0.2/tcp/4002/ws').bytes]

    it('a signed announcement verifies and names its signer; any change, another topic, another key or the module\'s unsigned format is refused', async () => {
      const key = await generateKeyPair('Ed25519')
      const now = 1_800_000_000_000
      const a = await encodeDiscoveryAnnouncement(topic, key, addrs, now)
      assert.deepEqual(verifyDiscoveryAnnouncement(topic, a, now), { ok: true, peer: key.publicKey.toString() })
      // every single-byte change is refused (bad signature, bad shape), none accepted
      for (let i = 0; i < a.length; i++) {
        const t = a.slice()
        t[i] = t[i]! ^ 0x01
        const v = verifyDiscoveryAnnouncement(topic, t, now)
        assert.equal(v.ok, false, `byte ${i}`)
      }
      const other = NET.topics.announce.name
      assert.equal(verifyDiscoveryAnnouncement(other, a, now).ok, false, 'bound to its topic')
      // the rogue signs with its own key but puts the victim's key in field 1
      const victim = await generateKeyPair('Ed25519')
      const forged = await encodeDiscoveryAnnouncement(topic, key, addrs, now)
      const victimKey = await encodeDiscoveryAnnouncement(topic, victim, addrs, now)
      const swapped = Uint8Array.from([...victimKey.subarray(0, 38), ...forged.subarray(38)])
      assert.deepEqual(swapped.subarray(0, 38), victimKey.subarray(0, 38))
      const vs = verifyDiscoveryAnnouncement(topic, swapped, now)
      assert.equal(vs.ok, false)
      assert.equal(vs.ok === false && vs.stale, false)
      // the module's own (wire-1) format: fields 1 and 2 only
      const unsigned = a.subarray(0, a.length - 66 - 7) // minus field 4 (2 + 64 bytes) and field 3 (1 + 6-byte varint)
      const vu = verifyDiscoveryAnnouncement(topic, unsigned, now)
      assert.equal(vu.ok, false)
      assert.equal(discoveryValidator({ topic, from: 'x', via: 'x', data: unsigned }), 'reject')
    })

    it('stale and future announcements are ignored (not charged); fields out of order, repeated or unknown are refused', async () => {
      const key = await generateKeyPair('Ed25519')
      const now = Date.now()
      const old = await encodeDiscoveryAnnouncement(topic, key, addrs, now - DISCOVERY_LIMITS.maxAgeMs - 1000)
      const v = verifyDiscoveryAnnouncement(topic, old, now)
      assert.ok(!v.ok && v.stale)
      assert.equal(discoveryValidator({ topic, from: 'x', via: 'x', data: old }), 'ignore')
      const future = await encodeDiscoveryAnnouncement(topic, key, addrs, now + DISCOVERY_LIMITS.maxSkewMs + 5000)
      assert.equal(discoveryValidator({ topic, from: 'x', via: 'x', data: future }), 'ignore')
      assert.equal(discoveryValidator({ topic, from: 'x', via: 'x', data: await encodeDiscoveryAnnouncement(topic, key, addrs, now) }), 'accept')
      const a = await encodeDiscoveryAnnouncement(topic, key, [], now)
      // append an unknown field 5 after the signature; prepend a second key field
      assert.equal(verifyDiscoveryAnnouncement(topic, Uint8Array.from([...a, 0x28, 0x01]), now).ok, false)
      assert.equal(verifyDiscoveryAnnouncement(topic, Uint8Array.from([...a.subarray(0, 38), ...a]), now).ok, false)
      // too many addresses
      const many = await encodeDiscoveryAnnouncement(topic, key, Array.from({ length: DISCOVERY_LIMITS.maxAddrs }, () => addrs[0]!), now)
      assert.equal(verifyDiscoveryAnnouncement(topic, many, now).ok, true)
      const tooMany = Uint8Array.from([...many.subarray(0, 38), 0x12, addrs[0]!.length, ...addrs[0]!, ...many.subarray(38)])
      assert.equal(verifyDiscoveryAnnouncement(topic, tooMany, now).ok, false)
    })

    it('random bytes and random mutations never throw (a verdict, never a crash)', async () => {
      const key = await generateKeyPair('Ed25519')
      const a = await encodeDiscoveryAnnouncement(topic, key, addrs, Date.now())
      fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
        const v = verifyDiscoveryAnnouncement(topic, b, Date.now())
        assert.equal(v.ok, false)
      }), { numRuns: 500 })
      fc.assert(fc.property(fc.nat(a.length - 1), fc.nat(a.length), fc.uint8Array({ maxLength: 12 }), (at, cut, ins) => {
        const b = Uint8Array.from([...a.subarray(0, at), ...ins, ...a.subarray(at + 1, Math.max(at + 1, cut))])
        const v = verifyDiscoveryAnnouncement(topic, b, Date.now())
        if (v.ok) assert.deepEqual(b, a)
      }), { numRuns: 300 })
    })
  })
})
