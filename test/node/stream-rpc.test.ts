/**
 * Hostile inputs at the stream RPC edge: the varint decoder, the response frame
 * decoder, and raw libp2p streams that speak the protocol badly in both
 * directions. Every case must end in a typed error or a clean refusal, never a
 * hang or a crash.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { Stream } from '@libp2p/interface'
import { encodeVarint, decodeVarintPrefix, MAX_VARINT_BYTES } from '../../src/node/frame-io.ts'
import { decodeResponseFrame, encodeErrorBody, decodeErrorBody, MAX_ERROR_BODY, STATUS_ERROR } from '../../src/node/rpc-frame.ts'
import { streamRpcConfig } from '../../src/node/stream-rpc.ts'
import { libp2pHarness } from './libp2p-harness.ts'
import type { Libp2pTransport } from '../../src/node/libp2p-transport.ts'
import type { Misbehaviour } from '../../src/node/transport.ts'
import { waitFor } from './transport-compliance.ts'

const named = (name: string) => (e: Error) => { assert.equal(e.name, name, `expected ${name}, got ${e.name}: ${e.message}`); return true }
const TYPED = new Set(['MalformedFrameError', 'FrameTooLargeError', 'RemoteError'])

describe('node/stream-rpc framing', () => {
  it('varints round-trip (property) and match the unsigned-varint spec examples', () => {
    // multiformats/unsigned-varint README examples
    assert.deepEqual(Array.from(encodeVarint(1)), [0x01])
    assert.deepEqual(Array.from(encodeVarint(127)), [0x7f])
    assert.deepEqual(Array.from(encodeVarint(128)), [0x80, 0x01])
    assert.deepEqual(Array.from(encodeVarint(255)), [0xff, 0x01])
    assert.deepEqual(Array.from(encodeVarint(300)), [0xac, 0x02])
    assert.deepEqual(Array.from(encodeVarint(16384)), [0x80, 0x80, 0x01])
    fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.uint8Array({ maxLength: 4 }), (n, tail) => {
      const enc = encodeVarint(n)
      const r = decodeVarintPrefix(new Uint8Array([...enc, ...tail]), Number.MAX_SAFE_INTEGER)
      assert.ok(r.done)
      assert.equal(r.value, n)
      assert.equal(r.bytes, enc.length)
      // every strict prefix asks for more bytes
      for (let k = 0; k < enc.length; k++) assert.deepEqual(decodeVarintPrefix(enc.subarray(0, k), Number.MAX_SAFE_INTEGER), { done: false })
    }))
  })

  it('refuses a length over the cap as soon as it is known, even mid-varint', () => {
    assert.throws(() => decodeVarintPrefix(Uint8Array.of(0xff, 0xff), 1024), named('FrameTooLargeError'))
    assert.throws(() => decodeVarintPrefix(encodeVarint(1025), 1024), named('FrameTooLargeError'))
    assert.equal((decodeVarintPrefix(encodeVarint(1024), 1024) as { value: number }).value, 1024)
  })

  it('refuses non-minimal and over-long varints with MalformedFrameError', () => {
    assert.throws(() => decodeVarintPrefix(Uint8Array.of(0x80, 0x00), 1 << 30), named('MalformedFrameError'))
    assert.throws(() => decodeVarintPrefix(Uint8Array.of(0x81, 0x80, 0x00), 1 << 30), named('MalformedFrameError'))
    assert.throws(() => decodeVarintPrefix(new Uint8Array(MAX_VARINT_BYTES + 1).fill(0x80), Number.MAX_SAFE_INTEGER), named('MalformedFrameError'))
    fc.assert(fc.property(fc.uint8Array({ maxLength: 16 }), fc.integer({ min: 0, max: 1 << 30 }), (bytes, cap) => {
      try { decodeVarintPrefix(bytes, cap) } catch (e) { assert.ok(TYPED.has((e as Error).name), (e as Error).name) }
    }), { numRuns: 2000 })
  })

  it('response frames: hostile bytes give typed errors only', () => {
    assert.throws(() => decodeResponseFrame(new Uint8Array(0), 10), named('MalformedFrameError'))
    assert.throws(() => decodeResponseFrame(Uint8Array.of(7, 1, 2), 10), named('MalformedFrameError'))
    assert.throws(() => decodeResponseFrame(Uint8Array.of(0, ...new Uint8Array(11)), 10), named('FrameTooLargeError'))
    assert.throws(() => decodeResponseFrame(Uint8Array.of(STATUS_ERROR, 0xff, 0xfe), 10), named('MalformedFrameError'))
    assert.throws(() => decodeResponseFrame(Uint8Array.of(STATUS_ERROR, ...new TextEncoder().encode('[1,2]')), 10), named('MalformedFrameError'))
    assert.throws(() => decodeResponseFrame(Uint8Array.of(STATUS_ERROR, ...new TextEncoder().encode('{"code":"nope","name":"x","message":"y"}')), 10), named('MalformedFrameError'))
    assert.throws(() => decodeResponseFrame(Uint8Array.of(STATUS_ERROR, ...new TextEncoder().encode('{"code":"frame-too-large","name":"x","message":"y","limit":-4}')), 10), named('MalformedFrameError'))
    assert.throws(() => decodeResponseFrame(Uint8Array.of(STATUS_ERROR, ...new Uint8Array(MAX_ERROR_BODY + 1)), 1 << 20), named('MalformedFrameError'))
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try { decodeResponseFrame(bytes, 32) } catch (e) { assert.ok(TYPED.has((e as Error).name), (e as Error).name) }
    }), { numRuns: 2000 })
  })

  it('error bodies always fit their cap and round-trip', () => {
    fc.assert(fc.property(fc.string({ maxLength: 3000, unit: 'grapheme' }), fc.string({ maxLength: 200 }), (message, name) => {
      const bytes = encodeErrorBody({ code: 'handler-error', name, message })
      assert.ok(bytes.length <= MAX_ERROR_BODY)
      const back = decodeErrorBody(bytes)
      assert.equal(back.code, 'handler-error')
      assert.ok(message.startsWith(back.message))
    }), { numRuns: 300 })
  })

  it('configuration: defaults, merge, validate', () => {
    assert.equal(streamRpcConfig().defaultTimeoutMs, 10_000)
    assert.equal(streamRpcConfig({ defaultTimeoutMs: 5 }).defaultTimeoutMs, 5)
    for (const bad of [{ defaultTimeoutMs: 0 }, { defaultTimeoutMs: NaN }, { defaultMaxRequestBytes: -1 }, { defaultMaxResponseBytes: 2 ** 31 }, { maxInboundStreams: 0 }, { maxOutboundStreams: 1.5 }]) {
      assert.throws(() => streamRpcConfig(bad), named('InvalidParametersError'))
    }
  })
})

describe('node/stream-rpc against raw hostile streams (libp2p, loopback)', function () {
  this.timeout(60_000)
  let h: Awaited<ReturnType<typeof libp2pHarness>>
  let a: Libp2pTransport, b: Libp2pTransport
  const PROTO = '/test/hostile/1.0.0'
  let calls = 0
  const seen: Array<[string, Misbehaviour]> = []

  before(async () => {
    h = await libp2pHarness(2)
    ;[a, b] = h.transports as [Libp2pTransport, Libp2pTransport]
    await b.handle(PROTO, (req) => { calls++; return req }, { maxRequestBytes: 1024, timeoutMs: 2000 })
    b.onMisbehaviour((p, r) => seen.push([p, r]))
    a.onMisbehaviour((p, r) => seen.push([p, r]))
  })
  after(async () => { await h.teardown() })

  /** Open a raw stream from a to b, write `bytes`, close, and collect what b answers. */
  async function raw (bytes: Uint8Array, opts: { close?: boolean } = {}): Promise<Uint8Array> {
    const stream: Stream = await a.node.dialProtocol(b.node.peerId, PROTO, { signal: AbortSignal.timeout(5000) })
    const chunks: Uint8Array[] = []
    const done = new Promise<void>((resolve) => {
      stream.addEventListener('message', (e) => { chunks.push(e.data.subarray()) })
      stream.addEventListener('close', () => { resolve() })
      stream.addEventListener('remoteCloseWrite', () => { resolve() })
    })
    stream.send(bytes)
    if (opts.close !== false) await stream.close().catch(() => {})
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 5000))])
    stream.abort(new Error('test done'))
    return Uint8Array.from(chunks.flatMap((c) => Array.from(c)))
  }

  function errorCode (reply: Uint8Array): string | undefined {
    if (reply.length < 3) return undefined
    const r = decodeVarintPrefix(reply, 1 << 20)
    if (!r.done) return undefined
    const frame = reply.subarray(r.bytes, r.bytes + r.value)
    if (frame[0] !== STATUS_ERROR) return 'ok'
    return decodeErrorBody(frame.subarray(1)).code
  }

  it('an over-long varint is answered malformed-frame and reported', async () => {
    const before = calls
    const reply = await raw(new Uint8Array(12).fill(0x80))
    assert.equal(errorCode(reply), 'malformed-frame')
    assert.equal(calls, before, 'the handler never ran')
    await waitFor(() => seen.some(([p, r]) => p === a.self && r.kind === 'malformed-frame'), 3000, 'report')
  })

  it('a length of 2^50 is refused before any body is buffered', async () => {
    const reply = await raw(encodeVarint(2 ** 50), { close: false })
    assert.equal(errorCode(reply), 'frame-too-large')
    await waitFor(() => seen.some(([p, r]) => p === a.self && r.kind === 'oversized-frame'), 3000, 'report')
  })

  it('trailing bytes after the request frame are malformed', async () => {
    const before = calls
    const reply = await raw(Uint8Array.of(...encodeVarint(3), 1, 2, 3, 9, 9))
    assert.equal(errorCode(reply), 'malformed-frame')
    assert.equal(calls, before)
  })

  it('a truncated request ends quietly: no handler call, no hang', async () => {
    const before = calls
    const reply = await raw(Uint8Array.of(...encodeVarint(100), 1, 2, 3))
    assert.equal(reply.length, 0)
    assert.equal(calls, before)
  })

  it('a frame split anywhere (inside the varint, body in pieces of any size) is read whole and exactly', async () => {
    // readFrame copies each chunk into the frame buffer as it arrives: every split point must give the same bytes.
    // Bodies of 300+ bytes in pieces of at most 97: several messages before and after the
    // frame buffer is allocated (at 1/8 of the body); an empty frame separately below.
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 300, maxLength: 1024 }), fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 12 }), async (body, cuts) => {
      const frame = Uint8Array.of(...encodeVarint(body.length), ...body)
      const stream: Stream = await a.node.dialProtocol(b.node.peerId, PROTO, { signal: AbortSignal.timeout(5000) })
      const chunks: Uint8Array[] = []
      const done = new Promise<void>((resolve) => {
        stream.addEventListener('message', (e) => { chunks.push(e.data.subarray()) })
        stream.addEventListener('close', () => { resolve() })
        stream.addEventListener('remoteCloseWrite', () => { resolve() })
      })
      // The first piece alone, then time for the server to attach its reader, so the rest
      // arrives as separate stream messages.
      let at = 0
      for (let i = 0; at < frame.length; i++) {
        const n = cuts[i % cuts.length]!
        stream.send(frame.subarray(at, at + n))
        at += n
        await new Promise((resolve) => setTimeout(resolve, i === 0 ? 40 : 3))
      }
      await stream.close().catch(() => {})
      await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 5000))])
      stream.abort(new Error('test done'))
      const reply = Uint8Array.from(chunks.flatMap((c) => Array.from(c)))
      const r = decodeVarintPrefix(reply, 1 << 20)
      assert.ok(r.done)
      assert.equal(reply[r.bytes], 0, 'status ok')
      assert.deepEqual(reply.subarray(r.bytes + 1, r.bytes + r.value), body)
    }), { numRuns: 10 })
    const empty = await raw(Uint8Array.of(...encodeVarint(0)))
    assert.deepEqual(Array.from(empty), [1, 0], 'an empty frame is a request too: echoed as status ok, no body')
  })

  it('a well-formed raw request is served', async () => {
    const reply = await raw(Uint8Array.of(...encodeVarint(3), 1, 2, 3))
    assert.equal(errorCode(reply), 'ok')
  })

  describe('hostile servers', () => {
    const serve = async (proto: string, answer: (s: Stream) => void): Promise<void> => {
      await b.node.handle(proto, (stream) => { answer(stream) })
    }
    before(async () => {
      await serve('/test/garbage/1.0.0', (s) => { s.send(Uint8Array.of(...encodeVarint(3), 7, 7, 7)); void s.close() })
      await serve('/test/huge/1.0.0', (s) => { s.send(encodeVarint(2 ** 40)) })
      await serve('/test/silent/1.0.0', () => {})
      await serve('/test/hangup/1.0.0', (s) => { s.send(Uint8Array.of(...encodeVarint(50), 0, 1)); void s.close() })
      await serve('/test/reset/1.0.0', (s) => { s.abort(new Error('go away')) })
    })

    it('garbage status: MalformedFrameError (and reported)', async () => {
      await assert.rejects(a.send(b.self, '/test/garbage/1.0.0', new Uint8Array(1), { timeoutMs: 3000 }), named('MalformedFrameError'))
      await waitFor(() => seen.some(([p, r]) => p === b.self && r.kind === 'malformed-frame'), 3000, 'report')
    })
    it('a 2^40-byte length: FrameTooLargeError at once', async () => {
      const t0 = Date.now()
      await assert.rejects(a.send(b.self, '/test/huge/1.0.0', new Uint8Array(1), { timeoutMs: 5000 }), named('FrameTooLargeError'))
      assert.ok(Date.now() - t0 < 4000)
    })
    it('silence: RpcTimeoutError', async () => {
      await assert.rejects(a.send(b.self, '/test/silent/1.0.0', new Uint8Array(1), { timeoutMs: 300 }), named('RpcTimeoutError'))
    })
    it('a truncated response: RpcStreamError', async () => {
      await assert.rejects(a.send(b.self, '/test/hangup/1.0.0', new Uint8Array(1), { timeoutMs: 3000 }), named('RpcStreamError'))
    })
    it('a reset: RpcStreamError', async () => {
      await assert.rejects(a.send(b.self, '/test/reset/1.0.0', new Uint8Array(1), { timeoutMs: 3000 }), named('RpcStreamError'))
    })
  })

  describe('one long-lived caller signal shared by many requests', () => {
    it('30 concurrent requests with one signal: no MaxListenersExceededWarning, all served', async () => {
      const warnings: string[] = []
      const onWarning = (w: Error): void => { warnings.push(`${w.name}: ${w.message}`) }
      process.on('warning', onWarning)
      try {
        const life = new AbortController()
        const replies = await Promise.all(Array.from({ length: 30 }, async (_, i) => await a.send(b.self, PROTO, Uint8Array.of(i), { timeoutMs: 10_000, signal: life.signal })))
        replies.forEach((r, i) => { assert.deepEqual([...r], [i]) })
        await new Promise((resolve) => setImmediate(resolve))
        assert.deepEqual(warnings.filter(w => w.startsWith('MaxListenersExceededWarning')), [])
      } finally {
        process.off('warning', onWarning)
      }
    })

    it('aborting the shared signal ends every request in flight with RpcAbortedError', async () => {
      const life = new AbortController()
      const pending = Array.from({ length: 12 }, async () => await a.send(b.self, '/test/silent/1.0.0', new Uint8Array(1), { timeoutMs: 10_000, signal: life.signal }))
      await new Promise((resolve) => setTimeout(resolve, 200))
      const t0 = Date.now()
      life.abort(new Error('service stopped'))
      const out = await Promise.allSettled(pending)
      assert.ok(Date.now() - t0 < 3000)
      for (const o of out) {
        assert.equal(o.status, 'rejected')
        assert.equal((o as PromiseRejectedResult).reason.name, 'RpcAbortedError')
      }
    })
  })
})
