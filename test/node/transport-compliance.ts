/**
 * One behavioural contract for every Transport (src/node/transport.ts), run over
 * the in-memory network and over real libp2p nodes on loopback. A factory gives
 * n started peers that can all reach each other.
 */
import assert from 'node:assert/strict'
import { sha256 } from '@noble/hashes/sha2.js'
import type { Misbehaviour, Transport, GossipMessage } from '../../src/node/transport.ts'
import { Validation } from '../../src/node/transport.ts'
import { networkProtocols } from '../../src/node/protocol-ids.ts'

export interface Harness {
  transports: Transport[]
  teardown(): Promise<void>
}
export type HarnessFactory = (n: number) => Promise<Harness>

export const NET = networkProtocols('00112233aabbccdd')
const MiB = 1024 * 1024

export async function waitFor (cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Deterministic pseudo-random bytes without allocating a CSPRNG stream of that size. */
function pattern (n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n)
  const block = sha256(new Uint8Array([seed]))
  for (let i = 0; i < n; i++) out[i] = block[i % 32]! ^ (i >>> 8) ^ (i >>> 16)
  return out
}

const named = (name: string) => (e: Error) => { assert.equal(e.name, name, `expected ${name}, got ${e.name}: ${e.message}`); return true }

export function transportCompliance (label: string, factory: HarnessFactory, opts: { settleMs: number, oneHop?: boolean }): void {
  describe(`transport compliance: ${label}`, function () {
    this.timeout(60_000)

    describe('request/response', () => {
      let h: Harness
      let a: Transport, b: Transport
      let handlerAborts = 0
      before(async () => {
        h = await factory(2)
        ;[a, b] = h.transports as [Transport, Transport]
        await b.handle('/test/echo/1.0.0', (req, ctx) => {
          const out = new Uint8Array(req.length + 64)
          out.set(new TextEncoder().encode(ctx.peer), 0)
          out.set(req, 64)
          return out
        })
        await b.handle('/test/big/1.0.0', (req) => sha256(req).length === 32 ? req.slice().reverse() : req, { maxRequestBytes: 8 * MiB, maxResponseBytes: 8 * MiB })
        await b.handle('/test/small/1.0.0', (req) => req, { maxRequestBytes: 1024, maxResponseBytes: 64 * 1024 })
        await b.handle('/test/fat-reply/1.0.0', () => new Uint8Array(64 * 1024).fill(7), { maxResponseBytes: 1024 * 1024 })
        await b.handle('/test/too-fat-reply/1.0.0', () => new Uint8Array(2048), { maxResponseBytes: 1024 })
        await b.handle('/test/throws/1.0.0', () => { throw new RangeError('share index out of range') })
        await b.handle('/test/hangs/1.0.0', async (_req, ctx) => {
          await new Promise<void>((resolve) => { ctx.signal.addEventListener('abort', () => { handlerAborts++; resolve() }, { once: true }) })
          return new Uint8Array(0)
        }, { timeoutMs: 30_000 })
        await b.handle('/test/slow-handler/1.0.0', async (_req, ctx) => {
          await new Promise<void>((resolve) => { ctx.signal.addEventListener('abort', () => { resolve() }, { once: true }) })
          throw new Error('aborted')
        }, { timeoutMs: 200 })
      })
      after(async () => { await h.teardown() })

      it('round-trips requests, and the handler sees the authenticated sender', async () => {
        const replies = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(async (i) => await a.send(b.self, '/test/echo/1.0.0', new Uint8Array([i, 1, 2, 3]))))
        replies.forEach((r, i) => {
          assert.equal(new TextDecoder().decode(r.subarray(0, 64)), a.self)
          assert.deepEqual(Array.from(r.subarray(64)), [i, 1, 2, 3])
        })
        const empty = await a.send(b.self, '/test/echo/1.0.0', new Uint8Array(0))
        assert.equal(empty.length, 64)
        assert.equal(Object.getPrototypeOf(empty), Uint8Array.prototype, 'responses are plain Uint8Arrays, not Buffers')
      })

      it('carries a 6 MiB payload both ways intact', async () => {
        const payload = pattern(6 * MiB, 1)
        const r = await a.send(b.self, '/test/big/1.0.0', payload, { maxRequestBytes: 8 * MiB, maxResponseBytes: 8 * MiB, timeoutMs: 30_000 })
        assert.equal(r.length, payload.length)
        assert.deepEqual(sha256(r.slice().reverse()), sha256(payload))
      })

      it('refuses oversized frames with FrameTooLargeError (local cap, remote cap, response cap)', async () => {
        const seen: Array<[string, Misbehaviour]> = []
        const off = b.onMisbehaviour((p, r) => seen.push([p, r]))
        const offA = a.onMisbehaviour((p, r) => seen.push([p, r]))
        try {
          await assert.rejects(a.send(b.self, '/test/echo/1.0.0', new Uint8Array(2048), { maxRequestBytes: 1024 }), (e: Error & { side?: string }) => named('FrameTooLargeError')(e) && e.side === 'local')
          assert.equal(seen.length, 0, 'a local refusal sends nothing')
          for (const size of [4096, 3 * MiB]) {
            await assert.rejects(a.send(b.self, '/test/small/1.0.0', new Uint8Array(size), { maxRequestBytes: 4 * MiB, timeoutMs: 20_000 }), (e: Error & { side?: string }) => named('FrameTooLargeError')(e) && e.side === 'remote')
          }
          await waitFor(() => seen.filter(([p, r]) => p === a.self && r.kind === 'oversized-frame').length === 2, 5000, 'server-side misbehaviour reports')
          await assert.rejects(a.send(b.self, '/test/fat-reply/1.0.0', new Uint8Array(1), { maxResponseBytes: 1024 }), (e: Error & { side?: string }) => named('FrameTooLargeError')(e) && e.side === 'local')
          await waitFor(() => seen.some(([p, r]) => p === b.self && r.kind === 'oversized-frame'), 5000, 'client-side misbehaviour report')
          await assert.rejects(a.send(b.self, '/test/too-fat-reply/1.0.0', new Uint8Array(1)), (e: Error & { remoteName?: string }) => named('RemoteError')(e) && e.remoteName === 'FrameTooLargeError')
          // the connection is still usable afterwards
          assert.equal((await a.send(b.self, '/test/small/1.0.0', new Uint8Array([9]))).length, 1)
        } finally { off(); offA() }
      })

      it('surfaces handler errors as RemoteError with the remote error name', async () => {
        await assert.rejects(a.send(b.self, '/test/throws/1.0.0', new Uint8Array(1)), (e: Error & { remoteName?: string, remoteMessage?: string }) =>
          named('RemoteError')(e) && e.remoteName === 'RangeError' && e.remoteMessage === 'share index out of range')
      })

      it('times out with RpcTimeoutError, aborts with RpcAbortedError, and reports a handler over its own deadline', async () => {
        const t0 = Date.now()
        await assert.rejects(a.send(b.self, '/test/hangs/1.0.0', new Uint8Array(1), { timeoutMs: 300 }), named('RpcTimeoutError'))
        const took = Date.now() - t0
        assert.ok(took >= 250 && took < 5000, `timeout took ${took} ms`)
        // the handler learns that its caller gave up, long before its own 30 s deadline
        await waitFor(() => handlerAborts === 1, 3000, 'the handler to see its signal abort')
        const ctl = new AbortController()
        setTimeout(() => { ctl.abort() }, 100)
        await assert.rejects(a.send(b.self, '/test/hangs/1.0.0', new Uint8Array(1), { timeoutMs: 10_000, signal: ctl.signal }), named('RpcAbortedError'))
        await assert.rejects(a.send(b.self, '/test/slow-handler/1.0.0', new Uint8Array(1), { timeoutMs: 10_000 }), (e: Error & { remoteName?: string }) => named('RemoteError')(e) && e.remoteName === 'RpcTimeoutError')
      })

      it('gives typed errors for no handler, unknown peers, bad names and bad arguments', async () => {
        await assert.rejects(a.send(b.self, '/test/nobody/1.0.0', new Uint8Array(1), { timeoutMs: 5000 }), named('ProtocolNotSupportedError'))
        const stranger = 'ab'.repeat(32)
        await assert.rejects(a.send('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', '/test/echo/1.0.0', new Uint8Array(1), { timeoutMs: 3000 }), named('PeerUnreachableError'))
        await assert.rejects(a.send('not-a-peer', '/test/echo/1.0.0', new Uint8Array(1)), named('InvalidPeerNameError'))
        void stranger
        await assert.rejects(a.send(b.self, '/test/echo/1.0.0', 'hello' as unknown as Uint8Array), named('InvalidParametersError'))
        await assert.rejects(a.send(b.self, '/test/echo/1.0.0', new Uint8Array(1), { timeoutMs: NaN }), named('InvalidParametersError'))
        await assert.rejects(a.send(b.self, '/test/echo/1.0.0', new Uint8Array(1), { maxRequestBytes: -1 }), named('InvalidParametersError'))
        await assert.rejects(a.send(b.self, '/test/echo/1.0.0', new Uint8Array(1), { maxResponseBytes: 2 ** 40 }), named('InvalidParametersError'))
        await assert.rejects(b.handle('/test/echo/1.0.0', (r) => r), named('AlreadyRegisteredError'))
      })
    })

    describe('publish/subscribe among 5 peers', () => {
      let h: Harness
      before(async () => { h = await factory(5) })
      after(async () => { await h.teardown() })

      it('delivers every message to every other subscriber exactly once, never to the publisher', async () => {
        const topic = NET.topics.announce.name
        const got = h.transports.map(() => [] as GossipMessage[])
        const offs = h.transports.map((t, i) => t.subscribe(topic, () => Validation.Accept, (m) => got[i]!.push(m)))
        await waitFor(() => h.transports.every((t) => t.topicPeers(topic).length === 4), 15_000, 'subscriptions to propagate')
        for (const [i, t] of h.transports.entries()) {
          const r = await t.publish(topic, new TextEncoder().encode(`hello from ${i}`))
          assert.ok(r.recipients >= 1)
        }
        await waitFor(() => got.every((g) => g.length >= 4), 10_000, 'delivery to all')
        await new Promise((resolve) => setTimeout(resolve, opts.settleMs))
        for (const [i, g] of got.entries()) {
          assert.equal(g.length, 4, `peer ${i} got ${g.length}`)
          const texts = g.map((m) => new TextDecoder().decode(m.data)).sort()
          assert.deepEqual(texts, [0, 1, 2, 3, 4].filter((j) => j !== i).map((j) => `hello from ${j}`))
          for (const m of g) {
            const j = Number(new TextDecoder().decode(m.data).slice(-1))
            // Gossip envelopes are unsigned (libp2p StrictNoSign): a transport vouches only for the
            // neighbour that delivered the bytes (the publisher itself in one-hop memory); payloads
            // authenticate their authors (round messages, ledger entries, discovery announcements).
            assert.equal(m.from, m.via, 'from is the neighbour that delivered it')
            assert.ok(h.transports.some((t, k) => k !== i && t.self === m.via), 'via is another peer')
            if (opts.oneHop === true) assert.equal(m.from, h.transports[j]!.self, 'one hop: the publisher')
            assert.equal(m.topic, topic)
            assert.equal(Object.getPrototypeOf(m.data), Uint8Array.prototype)
          }
        }
        offs.forEach((off) => { off() })
      })

      it('Reject drops the message and reports the author; Ignore drops silently; oversize is rejected', async () => {
        const topic = NET.topics.receipt.name
        const got = h.transports.map(() => [] as number[])
        const mis = h.transports.map(() => [] as Array<[string, Misbehaviour]>)
        const offs = h.transports.map((t, i) => {
          const offM = t.onMisbehaviour((p, r) => mis[i]!.push([p, r]))
          const offS = t.subscribe(topic, (m) => m.data[0] === 0xff ? Validation.Reject : m.data[0] === 0xee ? Validation.Ignore : Validation.Accept, (m) => got[i]!.push(m.data[0]!),
            { maxBytes: i === 0 ? 8192 : 1024 })
          return () => { offM(); offS() }
        })
        await waitFor(() => h.transports.every((t) => t.topicPeers(topic).length === 4), 15_000, 'subscriptions to propagate')
        const pub = h.transports[0]!
        await pub.publish(topic, Uint8Array.of(0xff, 1))
        await pub.publish(topic, Uint8Array.of(0xee, 2))
        const big = new Uint8Array(4096); big[0] = 0x42
        await pub.publish(topic, big)
        await pub.publish(topic, Uint8Array.of(0x01, 3))
        await waitFor(() => got.slice(1).every((g) => g.includes(0x01)), 10_000, 'the valid message')
        await waitFor(() => mis.slice(1).every((m) => m.length >= 2), 10_000, 'misbehaviour reports')
        await new Promise((resolve) => setTimeout(resolve, opts.settleMs))
        for (let i = 1; i < 5; i++) {
          assert.deepEqual(got[i], [0x01], `peer ${i} delivered only the valid message`)
          const kinds = mis[i]!.map(([p, r]) => { assert.equal(p, pub.self, 'the author is charged'); return r.kind }).sort()
          assert.deepEqual(kinds, ['gossip-reject', 'oversized-message'])
        }
        assert.deepEqual(got[0], [])
        assert.deepEqual(mis[0], [])
        await assert.rejects(pub.publish(topic, new Uint8Array(8193)), named('FrameTooLargeError'))
        assert.throws(() => pub.subscribe(topic, () => Validation.Accept, () => {}), named('AlreadyRegisteredError'))
        assert.throws(() => pub.subscribe('/x', () => Validation.Accept, () => {}, { maxBytes: 0 }), named('InvalidParametersError'))
        offs.forEach((off) => { off() })
      })
    })

    describe('topic peers', () => {
      let h: Harness
      after(async () => { await h?.teardown() })
      it('onTopicPeer reports a connected peer that subscribes later, never ourselves, and stops after its remover', async () => {
        h = await factory(2)
        const [a, b] = h.transports as [Transport, Transport]
        const topic = NET.topics.announce.name
        const other = NET.topics.receipt.name
        const seenA: string[] = []
        const seenB: string[] = []
        const offA = a.onTopicPeer(topic, (p) => seenA.push(p))
        const offB = b.onTopicPeer(topic, (p) => seenB.push(p))
        const removed: string[] = []
        a.onTopicPeer(other, (p) => removed.push(p))()
        const unsubA = a.subscribe(topic, () => Validation.Accept, () => {})
        await new Promise((resolve) => setTimeout(resolve, opts.settleMs))
        assert.equal(seenA.length, 0, 'not called for our own subscription')
        const unsubB = b.subscribe(topic, () => Validation.Accept, () => {})
        const unsubB2 = b.subscribe(other, () => Validation.Accept, () => {})
        await waitFor(() => seenA.includes(b.self), 15_000, "b's subscription to reach a")
        await waitFor(() => seenB.includes(a.self), 15_000, "a's subscription to reach b")
        await new Promise((resolve) => setTimeout(resolve, opts.settleMs))
        assert.ok(seenA.every((p) => p === b.self) && seenB.every((p) => p === a.self), 'only the other peer is reported')
        assert.equal(removed.length, 0, 'a removed listener is not called')
        assert.ok(a.topicPeers(topic).includes(b.self))
        assert.throws(() => a.onTopicPeer('', () => {}), named('InvalidParametersError'))
        assert.throws(() => a.onTopicPeer(topic, 'x' as unknown as () => void), named('InvalidParametersError'))
        offA(); offB(); unsubA(); unsubB(); unsubB2()
      })
    })

    describe('ban (local reputation)', () => {
      let h: Harness
      after(async () => { await h?.teardown() })
      it('a banned peer can neither request nor be requested; lifting the ban restores both; bad arguments are typed errors', async () => {
        h = await factory(2)
        const [a, b] = h.transports as [Transport, Transport]
        await b.handle('/test/ban-echo/1.0.0', (req) => req)
        await a.handle('/test/ban-echo/1.0.0', (req) => req)
        assert.deepEqual(Array.from(await a.send(b.self, '/test/ban-echo/1.0.0', new Uint8Array([1]))), [1])
        await b.ban(a.self, Date.now() + 60_000)
        assert.equal(b.isBanned(a.self), true)
        assert.equal(a.isBanned(b.self), false)
        await assert.rejects(a.send(b.self, '/test/ban-echo/1.0.0', new Uint8Array([2]), { timeoutMs: 3000 }), (e: Error) => e instanceof Error && e.name !== 'AssertionError')
        await assert.rejects(b.send(a.self, '/test/ban-echo/1.0.0', new Uint8Array([3]), { timeoutMs: 3000 }), (e: Error) => e instanceof Error && e.name !== 'AssertionError')
        await b.ban(a.self, Date.now() - 1)
        assert.equal(b.isBanned(a.self), false)
        let ok = false
        for (let i = 0; i < 20 && !ok; i++) {
          try { ok = (await b.send(a.self, '/test/ban-echo/1.0.0', new Uint8Array([4]), { timeoutMs: 3000 }))[0] === 4 } catch { await new Promise((resolve) => setTimeout(resolve, 250)) }
        }
        assert.ok(ok, 'requests flow again once the ban is lifted')
        await assert.rejects(b.ban('not a peer', Date.now() + 1000), named('InvalidPeerNameError'))
        await assert.rejects(b.ban(a.self, NaN), named('InvalidParametersError'))
        assert.equal(b.isBanned('not a peer'), false)
      })
    })

    describe('stop()', () => {
      it('fails in-flight requests, refuses new ones, and peers see each other go', async () => {
        const h = await factory(2)
        const [a, b] = h.transports as [Transport, Transport]
        try {
          await b.handle('/test/hangs/1.0.0', async (_req, ctx) => {
            await new Promise<void>((resolve) => { ctx.signal.addEventListener('abort', () => { resolve() }, { once: true }) })
            return new Uint8Array(0)
          })
          const inflight = a.send(b.self, '/test/hangs/1.0.0', new Uint8Array(1), { timeoutMs: 20_000 })
          inflight.catch(() => {})
          await new Promise((resolve) => setTimeout(resolve, 200))
          await a.stop()
          await assert.rejects(inflight, named('TransportNotStartedError'))
          await assert.rejects(a.send(b.self, '/test/hangs/1.0.0', new Uint8Array(1)), named('TransportNotStartedError'))
          await assert.rejects(a.publish(NET.topics.announce.name, new Uint8Array(1)), named('TransportNotStartedError'))
          await waitFor(() => !b.peers().includes(a.self), 10_000, 'b to notice a left')
        } finally {
          await h.teardown()
        }
      })
    })
  })
}
