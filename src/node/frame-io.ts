/**
 * Reading and writing one length-prefixed frame on a libp2p 3 stream.
 *
 * libp2p 3 streams are event emitters ('message', 'remoteCloseWrite', 'close'),
 * not it-pipe duplexes. @libp2p/utils' lpStream checks the length only after its
 * read buffer has taken in whole transport chunks, so a peer whose cap is far
 * below one chunk (e.g. 1 KiB vs a 256 KiB yamux window) sees a buffer overflow
 * and a reset instead of a clean refusal. This reader decodes the varint byte
 * by byte as data arrives and refuses the frame as soon as the announced length
 * passes the cap, before buffering the body: the decode limit is the cap itself.
 *
 * Varint: unsigned LEB128, minimal encoding, at most 9 bytes (multiformats
 * unsigned-varint spec).
 *
 * The body is copied into one buffer of the announced length as its chunks
 * arrive, not kept as a list of chunks and joined at the end (the buffer is
 * allocated once 1/8 of the body is in, so announcing a length without sending
 * costs at most 8x what was sent; the first eighth waits in a list):
 * a 2 MB partial sum arrives in ~30 chunks over many ticks, long enough for
 * every chunk to be promoted to V8's old generation, where only a full
 * mark-compact frees it; copied at once they die young (scavenged). Same one
 * copy per byte; in the 10-peer MLP round, mark-compacts were most of the GC
 * time (issue #4, docs/architecture/benchmarks-round.md).
 */
import { Uint8ArrayList } from 'uint8arraylist'
import type { Stream } from '@libp2p/interface'
import { FrameTooLargeError, MalformedFrameError, RpcStreamError } from './errors.ts'

export const MAX_VARINT_BYTES = 9

/** Encode n (0 <= n <= 2^53-1) as an unsigned varint. */
export function encodeVarint (n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint value out of range: ${n}`)
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Uint8Array.from(out)
}

export type VarintResult = { done: true, value: number, bytes: number } | { done: false }

/**
 * Decode a varint prefix of `buf`; throws FrameTooLargeError as soon as the
 * value is known to exceed `max`, MalformedFrameError on a non-minimal or
 * over-long encoding. `{ done: false }` means more bytes are needed.
 */
export function decodeVarintPrefix (buf: Uint8ArrayList | Uint8Array, max: number): VarintResult {
  let value = 0
  let scale = 1
  const n = Math.min(buf.length, MAX_VARINT_BYTES)
  for (let i = 0; i < n; i++) {
    const b = buf instanceof Uint8Array ? buf[i]! : buf.get(i)
    value += (b & 0x7f) * scale
    if (value > max) throw new FrameTooLargeError(`frame length ${value}${(b & 0x80) !== 0 ? '+' : ''} exceeds the cap of ${max}`, max, value, 'local')
    if ((b & 0x80) === 0) {
      if (b === 0 && i > 0) throw new MalformedFrameError('non-minimal varint length')
      return { done: true, value, bytes: i + 1 }
    }
    scale *= 0x80
  }
  if (buf.length >= MAX_VARINT_BYTES) throw new MalformedFrameError(`varint length longer than ${MAX_VARINT_BYTES} bytes`)
  return { done: false }
}

/**
 * Read exactly one frame of at most `maxLength` bytes. The frame must be the
 * last thing on the stream before the remote closes its writable end, or at
 * least nothing may follow it before we return (trailing bytes are malformed).
 */
export async function readFrame (stream: Stream, maxLength: number, signal: AbortSignal): Promise<Uint8Array> {
  return await new Promise<Uint8Array>((resolve, reject) => {
    // Until the header is complete: the bytes received (a varint is at most 9 bytes, but a
    // chunk may hold it and part of the body). Then `body` of the announced length, filled to `got`.
    let head: Uint8ArrayList | undefined = new Uint8ArrayList()
    let header: { value: number, bytes: number } | undefined
    // Body bytes: in `pending` until 1/8 of the body is in, then in `body` (the announced length).
    let pending: Uint8ArrayList | undefined = new Uint8ArrayList()
    let body: Uint8Array | undefined
    let got = 0
    let received = 0
    let settled = false
    const finish = (err: unknown, frame?: Uint8Array): void => {
      if (settled) return
      settled = true
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('remoteCloseWrite', onEnd)
      stream.removeEventListener('close', onClose)
      signal.removeEventListener('abort', onAbort)
      head = undefined
      pending = undefined
      body = undefined
      if (err !== undefined) reject(err)
      else resolve(frame!)
    }
    const copyIn = (c: Uint8Array): void => { body!.set(c, got); got += c.byteLength }
    /** Take `data` (body bytes); false (and settled) if it overflows the frame. */
    const take = (data: Uint8Array | Uint8ArrayList): boolean => {
      const n = data.byteLength
      if (n === 0) return true
      const want = header!.value
      if (got + n > want) { finish(new MalformedFrameError(`${got + n - want} bytes after the frame`)); return false }
      if (body === undefined) {
        pending!.append(data)
        got += n
        if (got * 8 < want) return true
        body = new Uint8Array(want)
        const list = pending!
        pending = undefined
        got = 0
        for (const c of list) copyIn(c)
        return true
      }
      if (data instanceof Uint8Array) copyIn(data)
      else for (const c of data) copyIn(c)
      return true
    }
    const check = (data: Uint8Array | Uint8ArrayList): void => {
      try {
        received += data.byteLength
        if (header === undefined) {
          head!.append(data)
          const r = decodeVarintPrefix(head!, maxLength)
          if (!r.done) return
          header = { value: r.value, bytes: r.bytes }
          const rest = head!.sublist(r.bytes)
          head = undefined
          if (!take(rest)) return
        } else if (!take(data)) {
          return
        }
        if (got === header.value) finish(undefined, body ?? new Uint8Array(0))
      } catch (err) {
        finish(err)
      }
    }
    const onMessage = (evt: { data: Uint8Array | Uint8ArrayList }): void => {
      check(evt.data)
      // data dispatched after the remote's close: this was the last of it
      if (!settled && stream.remoteWriteStatus !== 'writable' && stream.readBufferLength === 0) onEnd()
    }
    const onEnd = (): void => {
      if (settled) return
      // 'remoteCloseWrite' may precede the dispatch of buffered data by a tick.
      queueMicrotask(() => {
        if (!settled && stream.readBufferLength === 0) finish(new RpcStreamError(`stream closed after ${received} bytes, before a complete frame`))
      })
    }
    const onClose = (evt: Event): void => {
      const err = (evt as Event & { error?: Error }).error
      finish(err != null ? new RpcStreamError(`stream failed: ${err.message}`, { cause: err }) : new RpcStreamError(`stream closed after ${received} bytes, before a complete frame`))
    }
    const onAbort = (): void => { finish(signal.reason) }
    if (signal.aborted) { onAbort(); return }
    signal.addEventListener('abort', onAbort, { once: true })
    stream.addEventListener('message', onMessage)
    stream.addEventListener('remoteCloseWrite', onEnd)
    stream.addEventListener('close', onClose)
    if (stream.remoteWriteStatus !== 'writable' && stream.readBufferLength === 0) onEnd()
  })
}

/** A plain Uint8Array view (uint8arraylist hands out Node Buffers). */
export function plain (b: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(b) === Uint8Array.prototype ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

/** Write one frame: varint(total length of parts) || parts. Waits for drain, not for the remote. */
export async function writeFrame (stream: Stream, parts: Uint8Array[], signal: AbortSignal): Promise<void> {
  let length = 0
  for (const p of parts) length += p.length
  const list = new Uint8ArrayList(encodeVarint(length), ...parts)
  if (!stream.send(list)) await stream.onDrain({ signal })
}
