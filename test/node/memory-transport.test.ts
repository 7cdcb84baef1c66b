import assert from 'node:assert/strict'
import { MemoryNetwork, type MemoryTransport } from '../../src/node/memory-transport.ts'
import { seededRng } from '../../src/util/rng.ts'
import { Validation } from '../../src/node/transport.ts'
import { NET, waitFor } from './transport-compliance.ts'

const named = (name: string) => (e: Error) => { assert.equal(e.name, name, `expected ${name}, got ${e.name}: ${e.message}`); return true }
const topic = NET.topics.announce.name

async function trio (seed = 'faults'): Promise<{ net: MemoryNetwork, a: MemoryTransport, b: MemoryTransport, c: MemoryTransport, stop: () => Promise<void> }> {
  const net = new MemoryNetwork({ rng: seededRng(seed) })
  const [a, b, c] = [net.createTransport(), net.createTransport(), net.createTransport()]
  for (const t of [a, b, c]) await t.start()
  await b.handle('/echo/1.0.0', (r) => r)
  return { net, a, b, c, stop: async () => { for (const t of [a, b, c]) await t.stop() } }
}

describe('node/memory-transport failure injection', () => {
  it('a link that drops everything turns requests into RpcTimeoutError and loses gossip', async () => {
    const { net, a, b, c, stop } = await trio()
    try {
      const got: string[] = []
      b.subscribe(topic, () => Validation.Accept, (m) => got.push(m.from))
      c.subscribe(topic, () => Validation.Accept, (m) => got.push(m.from))
      net.setFault(a.self, b.self, { dropRate: 1 })
      await assert.rejects(a.send(b.self, '/echo/1.0.0', Uint8Array.of(1), { timeoutMs: 150 }), named('RpcTimeoutError'))
      await a.publish(topic, Uint8Array.of(1))
      await waitFor(() => got.length === 1, 2000, 'delivery to c')
      await new Promise((resolve) => setTimeout(resolve, 50))
      assert.equal(got.length, 1, 'b lost it, c got it')
      assert.ok(net.stats.dropped >= 2)
      net.clearFaults()
      assert.deepEqual(await a.send(b.self, '/echo/1.0.0', Uint8Array.of(7)), Uint8Array.of(7))
    } finally { await stop() }
  })

  it('asymmetric faults: a -> b dropped, b -> a fine', async () => {
    const { net, a, b, stop } = await trio()
    try {
      await a.handle('/echo/1.0.0', (r) => r)
      net.setFault(a.self, b.self, { dropRate: 1 }, false)
      await assert.rejects(a.send(b.self, '/echo/1.0.0', Uint8Array.of(1), { timeoutMs: 100 }), named('RpcTimeoutError'))
      // b -> a request arrives, but its response travels a -> b and is lost
      await assert.rejects(b.send(a.self, '/echo/1.0.0', Uint8Array.of(1), { timeoutMs: 100 }), named('RpcTimeoutError'))
      net.setFault(a.self, b.self, {}, false)
      assert.deepEqual(await b.send(a.self, '/echo/1.0.0', Uint8Array.of(2)), Uint8Array.of(2))
    } finally { await stop() }
  })

  it('delay and jitter slow a round trip by both legs', async () => {
    const { net, a, b, stop } = await trio()
    try {
      net.setFault(a.self, b.self, { delayMs: 80, jitterMs: 20 })
      const t0 = Date.now()
      await a.send(b.self, '/echo/1.0.0', Uint8Array.of(1))
      const ms = Date.now() - t0
      assert.ok(ms >= 155 && ms < 1000, `round trip ${ms} ms`)
    } finally { await stop() }
  })

  it('disconnect, isolate and rejoin change reachability, peers() and topicPeers()', async () => {
    const { net, a, b, c, stop } = await trio()
    try {
      for (const t of [a, b, c]) t.subscribe(topic, () => Validation.Accept, () => {})
      assert.deepEqual(a.peers().sort(), [b.self, c.self].sort())
      net.disconnect(a.self, b.self)
      await assert.rejects(a.send(b.self, '/echo/1.0.0', Uint8Array.of(1)), named('PeerUnreachableError'))
      assert.deepEqual(a.peers(), [c.self])
      assert.deepEqual(a.topicPeers(topic), [c.self])
      net.reconnect(a.self, b.self)
      assert.deepEqual(await a.send(b.self, '/echo/1.0.0', Uint8Array.of(3)), Uint8Array.of(3))
      net.isolate(b.self)
      assert.deepEqual(b.peers(), [])
      assert.deepEqual(c.topicPeers(topic), [a.self])
      net.rejoin(b.self)
      assert.equal(b.peers().length, 2)
    } finally { await stop() }
  })

  it('a cut while a request is in flight gives PeerUnreachableError; the handler sees its signal abort on timeout', async () => {
    const { net, a, b, stop } = await trio()
    try {
      let aborted = false
      await b.handle('/slow/1.0.0', async (_r, ctx) => {
        await new Promise<void>((resolve) => { ctx.signal.addEventListener('abort', () => { aborted = true; resolve() }) ; setTimeout(resolve, 100) })
        return Uint8Array.of(1)
      })
      const p = a.send(b.self, '/slow/1.0.0', Uint8Array.of(1))
      setTimeout(() => { net.disconnect(a.self, b.self) }, 30)
      await assert.rejects(p, named('PeerUnreachableError'))
      net.reconnect(a.self, b.self)
      await b.handle('/hang/1.0.0', async (_r, ctx) => await new Promise((resolve) => { ctx.signal.addEventListener('abort', () => { aborted = true; resolve(new Uint8Array(0)) }) }))
      aborted = false
      await assert.rejects(a.send(b.self, '/hang/1.0.0', Uint8Array.of(1), { timeoutMs: 100 }), named('RpcTimeoutError'))
      await waitFor(() => aborted, 1000, 'handler abort')
    } finally { await stop() }
  })

  it('a seeded run replays exactly: same seed, same losses', async () => {
    const run = async (seed: string): Promise<number[]> => {
      const net = new MemoryNetwork({ rng: seededRng(seed) })
      const names = ['11', '22'].map((x) => x.repeat(32))
      const [a, b] = [net.createTransport(names[0]), net.createTransport(names[1])]
      await a.start(); await b.start()
      const got: number[] = []
      b.subscribe(topic, () => Validation.Accept, (m) => got.push(m.data[0]!))
      net.setFault(a.self, b.self, { dropRate: 0.5 })
      for (let i = 0; i < 60; i++) await a.publish(topic, Uint8Array.of(i))
      await new Promise((resolve) => setTimeout(resolve, 50))
      await a.stop(); await b.stop()
      return got.sort((x, y) => x - y)
    }
    const r1 = await run('s1'); const r2 = await run('s1'); const r3 = await run('s2')
    assert.deepEqual(r1, r2)
    assert.notDeepEqual(r1, r3)
    assert.ok(r1.length > 10 && r1.length < 50, `about half delivered: ${r1.length}`)
  })

  it('100 peers in one process: everyone hears everyone and can reach everyone', async () => {
    const net = new MemoryNetwork({ rng: seededRng('hundred') })
    const ts = Array.from({ length: 100 }, () => net.createTransport())
    for (const t of ts) await t.start()
    try {
      const heard = ts.map(() => new Set<string>())
      ts.forEach((t, i) => t.subscribe(topic, () => Validation.Accept, (m) => heard[i]!.add(m.from)))
      for (const t of ts) await t.handle('/ping/1.0.0', (_r, ctx) => new TextEncoder().encode(ctx.peer))
      await Promise.all(ts.map(async (t) => await t.publish(topic, new TextEncoder().encode(t.self))))
      await waitFor(() => heard.every((h) => h.size === 99), 5000, 'all-to-all gossip')
      const replies = await Promise.all(ts.map(async (t, i) => new TextDecoder().decode(await t.send(ts[(i + 37) % 100]!.self, '/ping/1.0.0', new Uint8Array(0)))))
      replies.forEach((r, i) => { assert.equal(r, ts[i]!.self) })
    } finally {
      for (const t of ts) await t.stop()
    }
  })

  it('hostile configuration and names give typed errors', async () => {
    assert.throws(() => new MemoryNetwork({ defaultTimeoutMs: 0 }), named('InvalidParametersError'))
    assert.throws(() => new MemoryNetwork({ maxMessageBytes: 64 * 1024 * 1024 }), named('InvalidParametersError'))
    const net = new MemoryNetwork()
    const a = net.createTransport('aa'.repeat(32))
    assert.throws(() => net.createTransport('aa'.repeat(32)), named('AlreadyRegisteredError'))
    assert.throws(() => net.createTransport('xyz'), named('InvalidPeerNameError'))
    for (const f of [{ dropRate: 2 }, { dropRate: NaN }, { delayMs: -1 }, { jitterMs: Infinity }]) {
      assert.throws(() => { net.setFault(a.self, 'bb'.repeat(32), f) }, named('InvalidParametersError'))
    }
    await assert.rejects(a.send('bb'.repeat(32), '/x', Uint8Array.of(1)), named('TransportNotStartedError'))
    await a.start()
    await assert.rejects(a.send('bb'.repeat(32), '/x', Uint8Array.of(1)), named('PeerUnreachableError'))
    await assert.rejects(a.send(a.self, '/x', Uint8Array.of(1)), named('PeerUnreachableError'))
    await assert.rejects(a.handle('', (r) => r), named('InvalidParametersError'))
    await a.stop()
  })
})
