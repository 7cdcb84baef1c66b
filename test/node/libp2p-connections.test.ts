/**
 * Connections under load (issue #4, 70 peers completed no round): libp2p's connection monitor
 * aborted every connection whose ping took more than 5 s, and a process stalled by a burst of
 * handshakes answers no ping for that long; and each round dialled ~N x m cold connections to a
 * new committee. These tests pin the two fixes of src/node/libp2p.ts: the monitor's ping timeout
 * is an option with a long default, and the mesh keeper opens connections to known peers ahead
 * of time (docs/architecture/peer.md "Connections at scale").
 */
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { LIBP2P_DEFAULTS, libp2pConfig, createTesseraLibp2p, type TesseraLibp2pOptions } from '../../src/node/libp2p.ts'
import { Libp2pTransport } from '../../src/node/libp2p-transport.ts'
import { NET, waitFor } from './transport-compliance.ts'

const named = (name: string) => (e: Error) => { assert.equal(e.name, name, `expected ${name}, got ${e.name}: ${e.message}`); return true }
const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/** Block this process's event loop `times` x `ms`, letting one loop iteration run in between. */
async function stall (times: number, ms: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    const end = Date.now() + ms
    while (Date.now() < end) { /* busy: what a burst of Noise handshakes does to a peer's process */ }
    await new Promise((resolve) => setImmediate(resolve))
  }
}

async function pair (extra: Partial<TesseraLibp2pOptions>): Promise<[Libp2pTransport, Libp2pTransport]> {
  const mk = async (): Promise<Libp2pTransport> => await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId: NET.netId, listenWs: [], pubsubDiscovery: false, relayServer: false, keepConnected: 0, ...extra })
  const a = await mk()
  const b = await mk()
  await a.start(); await b.start()
  return [a, b]
}

describe('node/libp2p connections under load', function () {
  this.timeout(60_000)

  it('options: ping interval and timeout, mesh keeper; defaults, validation', async () => {
    const privateKey = await generateKeyPair('Ed25519')
    const c = libp2pConfig({ privateKey, netId: NET.netId })
    // Off by default; when on, libp2p's own floor (5 s) is shorter than the stalls of a 70-peer round 1.
    assert.equal(c.pingIntervalMs, 0)
    assert.ok(c.pingTimeoutMs >= 30_000, `ping timeout ${c.pingTimeoutMs}`)
    assert.equal(libp2pConfig({ privateKey, netId: NET.netId, pingIntervalMs: 1000 }).pingIntervalMs, 1000)
    assert.ok(c.keepConnected >= 100 && c.keepConnected < c.maxConnections, 'keeps ~100 peers connected, with room for inbound ones')
    assert.equal(LIBP2P_DEFAULTS.keepConnectedConcurrency, 2)
    for (const b of [{ pingTimeoutMs: 0 }, { pingIntervalMs: NaN }, { pingIntervalMs: 50 }, { keepConnected: -1 }, { keepConnected: 1e6 }, { keepConnectedConcurrency: 0 }, { keepConnectedIntervalMs: 1.5 }]) {
      await assert.rejects(createTesseraLibp2p({ privateKey, netId: NET.netId, ...b } as never), named('InvalidParametersError'), JSON.stringify(b))
    }
  })

  it('a connection survives event-loop stalls (monitor off by default, or a long ping timeout); a short ping timeout (the failure mode) aborts it', async () => {
    // Pings every 100 ms; the process then stalls 10 x 400 ms. Each ping needs a few loop
    // iterations (stream, multistream-select, 32 bytes each way), so it spans several stalls.
    const [a, b] = await pair({ pingIntervalMs: 100, pingTimeoutMs: 300 })
    const [c, d] = await pair({})
    const [e, f] = await pair({ pingIntervalMs: 100, pingTimeoutMs: 30_000 })
    try {
      await a.dial(b.addresses()[0]!)
      await c.dial(d.addresses()[0]!)
      await e.dial(f.addresses()[0]!)
      for (const t of [d, f]) await t.handle('/test/stall/1.0.0', (r) => r)
      await sleep(250)
      await stall(10, 400)
      await sleep(300)
      for (const [x, y] of [[c, d], [e, f]] as const) {
        assert.deepEqual(x.peers(), [y.self], 'the connection stands')
        assert.equal(x.node.getConnections().length, 1)
        assert.deepEqual(Array.from(await x.send(y.self, '/test/stall/1.0.0', Uint8Array.of(7))), [7])
      }
      await waitFor(() => a.node.getConnections().length === 0, 5000, 'the 300 ms ping timeout to abort the connection')
    } finally {
      await Promise.all([a, b, c, d, e, f].map(async (t) => { await t.stop() }))
    }
  })

  it('mesh keeper: connects every known peer in the background, one connection per pair; skips banned peers; 0 turns it off', async () => {
    const n = 6
    const ts: Libp2pTransport[] = []
    const off: Libp2pTransport[] = []
    try {
      for (let i = 0; i < n; i++) {
        const t = await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId: NET.netId, listenWs: [], pubsubDiscovery: false, relayServer: false, keepConnectedIntervalMs: 200, dialTimeoutMs: 2000 })
        await t.start()
        ts.push(t)
      }
      for (let i = 0; i < 2; i++) {
        const t = await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId: NET.netId, listenWs: [], pubsubDiscovery: false, relayServer: false, keepConnected: 0 })
        await t.start()
        off.push(t)
      }
      // Everybody learns everybody's address (what discovery does); nobody dials.
      const all = [...ts, ...off]
      for (const t of all) for (const u of all) if (t !== u) await t.learnAddresses(u.self, u.addresses())
      // ts[0] bans ts[1]: neither of them may end up connected to the other.
      await ts[0]!.ban(ts[1]!.self, Date.now() + 60_000)
      const pairs = (n * (n - 1)) / 2 - 1
      const connectedPairs = (): number => { let k = 0; for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (ts[i]!.peers().includes(ts[j]!.self)) k++; return k }
      await waitFor(() => connectedPairs() === pairs, 20_000, `${pairs} pairs connected by the keepers`)
      assert.ok(!ts[0]!.peers().includes(ts[1]!.self), 'the banned pair stays apart')
      // The keepers also reach the peers whose own keeper is off...
      await waitFor(() => off.every((o) => o.peers().length === n), 20_000, 'keepers to dial the two peers without one')
      // ...and those two never dial each other.
      assert.ok(!off[0]!.peers().includes(off[1]!.self))
      await sleep(500)
      // One connection per pair unless both ends dialled at once: the smaller id dials, the other
      // only after a grace of 2 dial timeouts (a busy machine can stretch a dial past that).
      let doubled = 0
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (ts[i]!.node.getConnections(ts[j]!.node.peerId).length > 1) doubled++
      const stats = JSON.stringify(ts.map(t => t.node.services.meshKeeper?.stats))
      assert.ok(doubled <= 2, `${doubled} of ${pairs} pairs have two connections; keepers ${stats}`)
      const dials = ts.reduce((s, t) => s + (t.node.services.meshKeeper?.stats.dials ?? 0), 0)
      // Each pair dialled about once, plus the two keeper-less peers from every side (2n), the banned pair's failures and retries.
      assert.ok(dials >= pairs && dials <= pairs + 2 * n + 8, `dials ${dials}; keepers ${stats}`)
    } finally {
      await Promise.all([...ts, ...off].map(async (t) => { await t.stop() }))
    }
  })

  it('mesh keeper: stops at its target', async () => {
    const hub = await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId: NET.netId, listenWs: [], pubsubDiscovery: false, relayServer: false, keepConnected: 2, keepConnectedIntervalMs: 100, dialTimeoutMs: 500 })
    const others: Libp2pTransport[] = []
    try {
      await hub.start()
      for (let i = 0; i < 5; i++) {
        const t = await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId: NET.netId, listenWs: [], pubsubDiscovery: false, relayServer: false, keepConnected: 0 })
        await t.start()
        others.push(t)
        await hub.learnAddresses(t.self, t.addresses())
      }
      await waitFor(() => hub.peers().length >= 2, 15_000, 'two connections')
      await sleep(1500) // > 2 dial timeouts: the grace for peers with a smaller id is over too
      assert.equal(hub.peers().length, 2)
      assert.equal(hub.node.services.meshKeeper?.stats.dials, 2)
    } finally {
      await Promise.all([hub, ...others].map(async (t) => { await t.stop() }))
    }
  })
})
