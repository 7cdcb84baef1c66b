import assert from 'node:assert/strict'
import { MemoryNetwork } from '../../src/node/memory-transport.ts'
import { Validation } from '../../src/node/transport.ts'
import { seededRng } from '../../src/util/rng.ts'
import { NET, transportCompliance, waitFor } from './transport-compliance.ts'

transportCompliance('in-memory', async (n) => {
  const net = new MemoryNetwork({ rng: seededRng('compliance') })
  const transports = Array.from({ length: n }, () => net.createTransport())
  for (const t of transports) await t.start()
  return { transports, teardown: async () => { for (const t of transports) await t.stop() } }
}, { settleMs: 50, oneHop: true })

describe('in-memory transport: topic peers when links come up', () => {
  it('onTopicPeer fires when a subscribed peer starts and when a cut link is mended, not while cut', async () => {
    const net = new MemoryNetwork({ rng: seededRng('topic-peers') })
    const [a, b] = [net.createTransport(), net.createTransport()]
    const topic = NET.topics.announce.name
    const seen: string[] = []
    a.onTopicPeer(topic, (p) => seen.push(p))
    b.subscribe(topic, () => Validation.Accept, () => {})
    try {
      await a.start()
      await b.start() // b was subscribed before it started: its subscription arrives with the link
      await waitFor(() => seen.length === 1, 2000, 'the start to be reported')
      net.disconnect(a.self, b.self)
      const c = net.createTransport()
      await c.start()
      c.subscribe(topic, () => Validation.Accept, () => {})
      await waitFor(() => seen.length === 2, 2000, "c's subscription")
      net.disconnect(a.self, b.self) // already cut: nothing comes up
      await new Promise((resolve) => setTimeout(resolve, 20))
      assert.deepEqual(seen, [b.self, c.self])
      net.reconnect(a.self, b.self)
      net.reconnect(a.self, b.self) // already linked: no second report
      await waitFor(() => seen.length === 3, 2000, 'the mended link')
      await new Promise((resolve) => setTimeout(resolve, 20))
      assert.deepEqual(seen, [b.self, c.self, b.self])
      await c.stop()
    } finally {
      await a.stop()
      await b.stop()
    }
  })
})
