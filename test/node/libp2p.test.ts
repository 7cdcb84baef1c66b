import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createTesseraLibp2p, gossipMessageId, messageIdToKey, libp2pConfig, LIBP2P_DEFAULTS } from '../../src/node/libp2p.ts'
import { libp2pHarness } from './libp2p-harness.ts'
import { Libp2pTransport } from '../../src/node/libp2p-transport.ts'
import { NET, waitFor } from './transport-compliance.ts'
import { networkProtocols } from '../../src/node/protocol-ids.ts'

const named = (name: string) => (e: Error) => { assert.equal(e.name, name, `expected ${name}, got ${e.name}: ${e.message}`); return true }

function runFixture (kind: string, limitMs: number): Promise<{ code: number | null, out: string, ms: number, killed: boolean }> {
  const script = fileURLToPath(new URL('./fixtures/stop-exits.ts', import.meta.url))
  const t0 = Date.now()
  return new Promise((resolve) => {
    const root = fileURLToPath(new URL('../../', import.meta.url))
    const child = spawn(process.execPath, ['--import', 'tsx', script, kind], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => { out += String(d) })
    child.stderr.on('data', (d) => { out += String(d) })
    let killed = false
    const timer = setTimeout(() => { killed = true; child.kill('SIGKILL') }, limitMs)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out, ms: Date.now() - t0, killed }) })
  })
}

describe('node/libp2p', function () {
  this.timeout(60_000)

  it('options: defaults, merge, validate with InvalidParametersError', async () => {
    const privateKey = await generateKeyPair('Ed25519')
    const c = libp2pConfig({ privateKey, netId: NET.netId })
    assert.deepEqual(c.listenTcp, LIBP2P_DEFAULTS.listenTcp)
    assert.equal(c.relayServer, true)
    assert.ok(c.maxConnections >= 100, 'room for ~100 local peers')
    assert.ok(c.inboundConnectionThreshold >= 100, 'loopback peers share one host')
    assert.equal(libp2pConfig({ privateKey, netId: NET.netId, maxConnections: 300 }).maxConnections, 300)
    const bad: Array<Record<string, unknown>> = [
      { netId: 'nope' }, { privateKey: 'k' }, { privateKey: await generateKeyPair('secp256k1') },
      { listenTcp: ['not a multiaddr'] }, { listenTcp: ['/ip4/127.0.0.1/tcp/0/ws'] }, { listenWs: ['/ip4/127.0.0.1/tcp/0'] },
      { listenTcp: [], listenWs: [] }, { bootstrap: ['/ip4/127.0.0.1/tcp/1'] }, { maxConnections: 0 }, { maxConnections: 1.5 },
      { dialTimeoutMs: NaN }, { heartbeatIntervalMs: 1 }, { pubsubDiscovery: 'yes' }, { gossip: { maxMessageBytes: 8 * 1024 * 1024 } },
      { rpc: { defaultTimeoutMs: -1 } }, { allowedTopics: [''] }, { listenTcp: new Array(65).fill('/ip4/127.0.0.1/tcp/0') },
      { floodPublish: 'no' }, { mesh: null }, { mesh: { D: 2, Dlo: 3, Dhi: 6 } }, { mesh: { D: 4, Dlo: 3, Dhi: 3 } }, { mesh: { D: 4, Dlo: 0, Dhi: 6 } },
      { ipColocationWhitelist: '127.0.0.1' }, { ipColocationWhitelist: [''] }, { ipColocationWhitelist: new Array(1025).fill('10.0.0.1') }
    ]
    for (const b of bad) {
      await assert.rejects(createTesseraLibp2p({ privateKey, netId: NET.netId, ...b } as never), named('InvalidParametersError'), JSON.stringify(Object.keys(b)))
    }
  })

  it('IHAVE fan-out (gossipLazy, gossipFactor): defaults, validation, handed to gossipsub', async () => {
    const privateKey = await generateKeyPair('Ed25519')
    const c = libp2pConfig({ privateKey, netId: NET.netId })
    assert.equal(c.gossipLazy, 6)
    assert.equal(c.gossipFactor, 0)
    assert.equal(c.discoveryIntervalMs, 300_000)
    for (const b of [{ gossipLazy: 0 }, { gossipLazy: 1.5 }, { gossipLazy: 101 }, { gossipFactor: -0.1 }, { gossipFactor: 1.01 }, { gossipFactor: NaN }, { gossipFactor: '0.25' }]) {
      assert.throws(() => libp2pConfig({ privateKey, netId: NET.netId, ...b } as never), named('InvalidParametersError'), JSON.stringify(b))
    }
    const t = await Libp2pTransport.create({ privateKey, netId: NET.netId, listenWs: [], pubsubDiscovery: false, relayServer: false, gossipLazy: 4, gossipFactor: 0.1 })
    const opts = (t.node.services.pubsub as unknown as { opts: { Dlazy: number, gossipFactor: number } }).opts
    assert.equal(opts.Dlazy, 4)
    assert.equal(opts.gossipFactor, 0.1)
  })

  it('steady heartbeat, Yamux window: defaults, validation, and the switch after start-up', async () => {
    const privateKey = await generateKeyPair('Ed25519')
    const c = libp2pConfig({ privateKey, netId: NET.netId })
    assert.equal(c.heartbeatSteadyIntervalMs, 1000)
    assert.equal(c.streamWindowBytes, 1024 * 1024)
    for (const b of [{ heartbeatSteadyIntervalMs: 0 }, { heartbeatStartupMs: -1 }, { streamWindowBytes: 1024 }, { streamWindowBytes: 2 ** 25 }, { heartbeatStartupMs: NaN }]) {
      await assert.rejects(createTesseraLibp2p({ privateKey, netId: NET.netId, ...b } as never), named('InvalidParametersError'), JSON.stringify(b))
    }
    const t = await Libp2pTransport.create({ privateKey, netId: NET.netId, listenWs: [], pubsubDiscovery: false, relayServer: false, heartbeatIntervalMs: 100, heartbeatStartupMs: 300 })
    const opts = (t.node.services.pubsub as unknown as { opts: { heartbeatInterval: number } }).opts
    try {
      await t.start()
      assert.equal(opts.heartbeatInterval, 100, 'start-up heartbeat')
      await waitFor(() => opts.heartbeatInterval === LIBP2P_DEFAULTS.heartbeatSteadyIntervalMs, 3000, 'steady heartbeat')
    } finally {
      await t.stop()
    }
    assert.equal(opts.heartbeatInterval, 100, 'back to the start-up value once stopped')
  })

  it('connect(peer): opens a connection by name without a request; false for unknown, banned or self; typed error for a bad name', async () => {
    const h = await libp2pHarness(1)
    const b = await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId: NET.netId, listenWs: [], pubsubDiscovery: false, relayServer: false })
    try {
      await b.start()
      const a = h.transports[0]!
      assert.equal(await a.connect(b.self, { signal: AbortSignal.timeout(2000) }), false, 'no known address yet')
      await a.learnAddresses(b.self, b.addresses())
      assert.equal(await a.connect(b.self), true)
      assert.ok(a.peers().includes(b.self))
      assert.equal(await a.connect(b.self), true, 'already connected')
      assert.equal(await a.connect(a.self), false)
      await a.ban(b.self, Date.now() + 60_000)
      assert.equal(await a.connect(b.self), false, 'banned')
      await assert.rejects(a.connect('not a peer name'), named('InvalidPeerNameError'))
    } finally {
      await b.stop()
      await h.teardown()
    }
  })

  it('gossip settings: no flood publishing, mesh 3/2/4, loopback exempt from the IP colocation penalty', async () => {
    const privateKey = await generateKeyPair('Ed25519')
    const c = libp2pConfig({ privateKey, netId: NET.netId })
    assert.equal(c.floodPublish, false)
    assert.deepEqual(c.mesh, { D: 3, Dlo: 2, Dhi: 4 })
    assert.ok(c.ipColocationWhitelist.includes('127.0.0.1'))
  })

  it('gossipMessageId: 20 bytes of SHA-256 over topic and data, distinct across topics and data; keys are injective', () => {
    const enc = (t: string): Uint8Array => new TextEncoder().encode(t)
    const a = gossipMessageId({ topic: 't', data: enc('hello') })
    assert.equal(a.length, 20)
    // the definition: SHA-256("<topic byte length>:" || topic || data)[0..20]
    assert.deepEqual(Array.from(a), Array.from(createHash('sha256').update('1:t').update('hello').digest().subarray(0, 20)))
    assert.deepEqual(Array.from(a), Array.from(gossipMessageId({ topic: 't', data: enc('hello') })))
    assert.notDeepEqual(Array.from(a), Array.from(gossipMessageId({ topic: 't', data: enc('hellp') })))
    assert.notDeepEqual(Array.from(a), Array.from(gossipMessageId({ topic: 'u', data: enc('hello') })))
    // the topic's length is inside: (topic 'ab', data 'c') and (topic 'a', data 'bc') differ
    assert.notDeepEqual(Array.from(gossipMessageId({ topic: 'ab', data: enc('c') })), Array.from(gossipMessageId({ topic: 'a', data: enc('bc') })))
    assert.equal(gossipMessageId({ topic: 't' }).length, 20)
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), (x, y) => {
      const same = x.length === y.length && x.every((v, i) => v === y[i])
      assert.equal(messageIdToKey(x) === messageIdToKey(y), same)
      assert.equal(messageIdToKey(x).length, x.length)
    }))
  })

  it('the wire meter counts every byte a node sends and receives, framing included', async () => {
    const h = await libp2pHarness(2)
    try {
      const [a, b] = h.transports as [Libp2pTransport, Libp2pTransport]
      const proto = networkProtocols(NET.netId).protocols['ledger-sync'].id
      await b.handle(proto, () => new Uint8Array(10), { maxRequestBytes: 1 << 20 })
      const sent0 = a.wire.sent
      const recv0 = b.wire.received
      await a.send(b.self, proto, new Uint8Array(300_000).fill(7), { maxRequestBytes: 1 << 20 })
      const sent = a.wire.sent - sent0
      assert.ok(sent >= 300_000 && sent < 300_000 * 1.05, `sent ${sent} bytes for a 300 kB request (Noise + Yamux framing < 5%)`)
      await waitFor(() => b.wire.received - recv0 >= 300_000, 5000, 'the receiver counts the request it received')
    } finally {
      await h.teardown()
    }
  })

  for (const intervalMs of [200, 60_000]) {
  it(`peers find each other from one bootstrap address (bootstrap + pubsub discovery every ${intervalMs} ms: a newcomer announces itself at its first subscriber) and talk by name`, async () => {
    const seed = await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId: NET.netId, discoveryIntervalMs: intervalMs, heartbeatIntervalMs: 200 })
    const others: Libp2pTransport[] = []
    try {
      await seed.start()
      const boot = seed.addresses().filter((x) => !x.includes('/ws'))
      for (let i = 0; i < 2; i++) {
        const t = await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId: NET.netId, bootstrap: boot, discoveryIntervalMs: intervalMs, heartbeatIntervalMs: 200 })
        others.push(t)
        await t.start()
      }
      const [x, y] = others as [Libp2pTransport, Libp2pTransport]
      await y.handle('/test/hi/1.0.0', (_r, ctx) => new TextEncoder().encode(`hi ${ctx.peer.slice(0, 8)}`))
      await waitFor(() => x.peers().includes(seed.self) && y.peers().includes(seed.self), 15_000, 'bootstrap connections')
      // x never got y's address from us: pubsub discovery on the network topic carries it.
      let reply: Uint8Array | undefined
      const end = Date.now() + 15_000
      while (reply === undefined && Date.now() < end) {
        reply = await x.send(y.self, '/test/hi/1.0.0', new Uint8Array(0), { timeoutMs: 2000 }).catch(() => undefined)
        if (reply === undefined) await new Promise((resolve) => setTimeout(resolve, 200))
      }
      assert.ok(reply !== undefined, 'x reached y by name')
      assert.equal(new TextDecoder().decode(reply), `hi ${x.self.slice(0, 8)}`)
    } finally {
      await Promise.all([seed, ...others].map(async (t) => { await t.stop() }))
    }
  })
  }

  it('browsers\' path: a request over the WebSockets listener (global WebSocket polyfill dials it)', async () => {
    const a = await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId: NET.netId, pubsubDiscovery: false, listenTcp: [] })
    const b = await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId: NET.netId, pubsubDiscovery: false, listenTcp: [] })
    try {
      await a.start(); await b.start()
      const ws = b.addresses().filter((x) => x.includes('/ws/'))
      assert.equal(ws.length, b.addresses().length, 'only WebSockets listeners')
      assert.equal(await a.dial(ws[0]!), b.self)
      await b.handle('/test/ws/1.0.0', (r) => r.slice().reverse(), { maxRequestBytes: 2 * 1024 * 1024, maxResponseBytes: 2 * 1024 * 1024 })
      const big = new Uint8Array(1024 * 1024).map((_, i) => i % 251)
      const r = await a.send(b.self, '/test/ws/1.0.0', big, { maxRequestBytes: 2 * 1024 * 1024, maxResponseBytes: 2 * 1024 * 1024 })
      assert.deepEqual(r, big.slice().reverse())
      assert.ok(a.node.getConnections(b.node.peerId).every((c) => c.remoteAddr.toString().includes('/ws')))
    } finally {
      await a.stop(); await b.stop()
    }
  })

  it('a burst of local peers connecting at once is not throttled (one host, many peers)', async () => {
    const n = 12
    const hub = await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId: NET.netId, pubsubDiscovery: false })
    const peers: Libp2pTransport[] = []
    try {
      await hub.start()
      for (let i = 0; i < n; i++) {
        const t = await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId: NET.netId, pubsubDiscovery: false, relayServer: false })
        peers.push(t)
        await t.start()
      }
      await hub.handle('/test/hub/1.0.0', (_r, ctx) => new TextEncoder().encode(ctx.peer))
      const addr = hub.addresses()[0]!
      // libp2p's default inboundConnectionThreshold (5 per second per host) would refuse most of these.
      const names = await Promise.all(peers.map(async (p) => await p.dial(addr)))
      assert.ok(names.every((x) => x === hub.self))
      const replies = await Promise.all(peers.map(async (p) => new TextDecoder().decode(await p.send(hub.self, '/test/hub/1.0.0', new Uint8Array(0)))))
      assert.deepEqual(replies, peers.map((p) => p.self))
      assert.equal(hub.peers().length, n)
    } finally {
      await Promise.all([hub, ...peers].map(async (t) => { await t.stop() }))
    }
  })

  it('gossip crosses a hop: envelopes are unsigned, so `from` is the forwarder (via); a Reject is not forwarded and is charged to the sender', async () => {
    const mk = async (): Promise<Libp2pTransport> => await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId: NET.netId, pubsubDiscovery: false, heartbeatIntervalMs: 100 })
    const [a, b, c] = [await mk(), await mk(), await mk()]
    try {
      for (const t of [a, b, c]) await t.start()
      await a.dial(b.addresses()[0]!)
      await c.dial(b.addresses()[0]!) // a - b - c, no a - c link
      const topic = NET.topics.plan.name
      const atC: Array<{ from: string, via: string, d: number }> = []
      const rejectedAtB: string[] = []
      b.onMisbehaviour((p, r) => { if (r.kind === 'gossip-reject') rejectedAtB.push(p) })
      a.subscribe(topic, () => 'accept', () => {})
      b.subscribe(topic, (m) => m.data[0] === 0xff ? 'reject' : 'accept', () => {})
      c.subscribe(topic, () => 'accept', (m) => atC.push({ from: m.from, via: m.via, d: m.data[0]! }))
      await waitFor(() => b.topicPeers(topic).length === 2 && a.topicPeers(topic).length === 1 && c.topicPeers(topic).length === 1, 10_000, 'subscriptions')
      assert.ok(!a.peers().includes(c.self), 'a and c are not connected')
      // give the heartbeat time to graft b's mesh
      await new Promise((resolve) => setTimeout(resolve, 800))
      await a.publish(topic, Uint8Array.of(0xff))
      await a.publish(topic, Uint8Array.of(1))
      await waitFor(() => atC.length >= 1, 10_000, 'forwarded delivery')
      await new Promise((resolve) => setTimeout(resolve, 300))
      // StrictNoSign: the transport vouches for the neighbour only; payloads authenticate authors
      assert.deepEqual(atC, [{ from: b.self, via: b.self, d: 1 }])
      assert.deepEqual(rejectedAtB, [a.self])
    } finally {
      await Promise.all([a, b, c].map(async (t) => { await t.stop() }))
    }
  })

  it('two networks never mix: foreign topics are neither tracked nor delivered', async () => {
    const theirs = networkProtocols('99887766554433ff')
    const a = await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId: NET.netId, pubsubDiscovery: false, heartbeatIntervalMs: 200 })
    const b = await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId: theirs.netId, pubsubDiscovery: false, heartbeatIntervalMs: 200 })
    const c = await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId: NET.netId, pubsubDiscovery: false, heartbeatIntervalMs: 200 })
    try {
      await a.start(); await b.start(); await c.start()
      await a.dial(b.addresses()[0]!)
      await a.dial(c.addresses()[0]!)
      const got: string[] = []
      a.subscribe(NET.topics.announce.name, () => 'accept', (m) => got.push(m.from))
      b.subscribe(theirs.topics.announce.name, () => 'accept', () => {})
      c.subscribe(NET.topics.announce.name, () => 'accept', () => {})
      await waitFor(() => a.topicPeers(NET.topics.announce.name).length === 1, 10_000, 'same-network subscription')
      await new Promise((resolve) => setTimeout(resolve, 500))
      // gossipsub's allowedTopics (the network's own topics) drops b's subscription
      assert.equal(a.topicPeers(theirs.topics.announce.name).length, 0)
      await b.publish(theirs.topics.announce.name, Uint8Array.of(1))
      // a topic outside the network is refused loudly, not silently dropped
      assert.throws(() => a.subscribe(theirs.topics.announce.name, () => 'accept', () => {}), named('InvalidParametersError'))
      await assert.rejects(a.publish('round/receipt/2', Uint8Array.of(1)), named('InvalidParametersError'))
      await c.publish(NET.topics.announce.name, Uint8Array.of(2))
      await waitFor(() => got.length >= 1, 10_000, 'same-network delivery')
      await new Promise((resolve) => setTimeout(resolve, 500))
      assert.deepEqual(got, [c.self])
    } finally {
      await Promise.all([a, b, c].map(async (t) => { await t.stop() }))
    }
  })

  for (const kind of ['libp2p', 'memory']) {
    it(`stop() leaves no handle behind: a ${kind} process exits on its own`, async () => {
      const r = await runFixture(kind, 40_000)
      assert.equal(r.killed, false, `the process had to be killed after ${r.ms} ms: ${r.out.slice(-2000)}`)
      assert.equal(r.code, 0, r.out.slice(-2000))
      const last = JSON.parse(r.out.trim().split('\n').pop()!)
      assert.deepEqual(last, { ok: true, pending: 'TransportNotStartedError' })
    })
  }
})
