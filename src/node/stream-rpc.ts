/**
 * Request/response over libp2p 3 streams, one request per stream, with the
 * framing of rpc-frame.ts: varint length prefixes, an explicit cap per
 * protocol and direction, finite decode limits (the length varint is bounded by
 * the cap; the read buffer by the cap plus the varint), a deadline on both
 * sides, and typed errors. Multi-megabyte payloads (shares, partial sums,
 * models) are written as one frame; yamux flow control (256 KiB initial window,
 * 16 MiB max) paces them.
 *
 * A libp2p service: `streamRpc(init)` is a factory taking the narrow
 * StreamRpcComponents (registrar + connection manager), with start/stop.
 */
import type { Connection, PeerId, Stream, StreamHandler, StreamHandlerOptions, Startable } from '@libp2p/interface'
import { InvalidParametersError } from '../util/errors.ts'
import {
  AlreadyRegisteredError, FrameTooLargeError, MalformedFrameError, PeerUnreachableError, ProtocolNotSupportedError,
  RpcAbortedError, RpcStreamError, RpcTimeoutError, TransportNotStartedError
} from './errors.ts'
import { STATUS_ERROR, STATUS_OK, decodeResponseFrame, encodeErrorBody, handlerErrorBody, responseFrameCap, type RpcErrorBody } from './rpc-frame.ts'
import type { HandleOptions, Misbehaviour, RequestHandler, SendOptions } from './transport.ts'
import { peerNameFromPeerId } from './peer-name.ts'
import { readFrame, writeFrame } from './frame-io.ts'

/** What the service uses from libp2p (House style 2: narrow components). */
export interface StreamRpcComponents {
  registrar: {
    handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>
    unhandle(protocol: string): Promise<void>
  }
  connectionManager: {
    openStream(peer: PeerId, protocol: string, options?: { signal?: AbortSignal }): Promise<Stream>
  }
}

export interface StreamRpcInit {
  /** deadline of a request, and of a handler, unless overridden (ms) */
  defaultTimeoutMs: number
  /** caps used when a call or handler gives none */
  defaultMaxRequestBytes: number
  defaultMaxResponseBytes: number
  /** concurrent inbound streams per protocol per connection */
  maxInboundStreams: number
  /** concurrent outbound streams per protocol per connection */
  maxOutboundStreams: number
  /** hard ceiling on any cap: 256 MiB (frames are held in memory whole) */
  maxCapBytes: number
}

export const STREAM_RPC_DEFAULTS: Readonly<StreamRpcInit> = Object.freeze({
  defaultTimeoutMs: 10_000,
  defaultMaxRequestBytes: 1024 * 1024,
  defaultMaxResponseBytes: 1024 * 1024,
  maxInboundStreams: 32,
  maxOutboundStreams: 64,
  maxCapBytes: 256 * 1024 * 1024
})

function checkCap (what: string, v: unknown, ceiling: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > ceiling) {
    throw new InvalidParametersError(`${what} must be an integer in [0, ${ceiling}], got ${String(v)}`)
  }
  return v
}

function checkTimeout (what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 3_600_000) {
    throw new InvalidParametersError(`${what} must be a number of ms in (0, 3600000], got ${String(v)}`)
  }
  return v
}

/** Defaults, merge, validate (House style 7). */
export function streamRpcConfig (init: Partial<StreamRpcInit> = {}): StreamRpcInit {
  const c = { ...STREAM_RPC_DEFAULTS, ...init }
  checkCap('maxCapBytes', c.maxCapBytes, 1024 * 1024 * 1024)
  checkCap('defaultMaxRequestBytes', c.defaultMaxRequestBytes, c.maxCapBytes)
  checkCap('defaultMaxResponseBytes', c.defaultMaxResponseBytes, c.maxCapBytes)
  checkTimeout('defaultTimeoutMs', c.defaultTimeoutMs)
  for (const k of ['maxInboundStreams', 'maxOutboundStreams'] as const) {
    if (!Number.isSafeInteger(c[k]) || c[k] < 1 || c[k] > 10_000) throw new InvalidParametersError(`${k} must be an integer in [1, 10000], got ${String(c[k])}`)
  }
  return c
}

export type RpcMisbehaviourListener = (peer: PeerId, reason: Misbehaviour) => void

interface Registered { handler: RequestHandler, maxRequestBytes: number, maxResponseBytes: number, timeoutMs: number }

/**
 * One 'abort' listener per caller signal, shared by every request that carries
 * it. Callers pass one long-lived signal (a service's lifetime) with each of
 * their requests; a listener per request put 11+ on one AbortSignal at 20 peers
 * (ledger sync pulling from many peers at once: Node's
 * MaxListenersExceededWarning, and a listener scan on every add and remove).
 * The hooks are held in a Set keyed by the signal (WeakMap: nothing outlives it).
 */
const abortHooks = new WeakMap<AbortSignal, Set<() => void>>()

function onAbortShared (signal: AbortSignal, hook: () => void): () => void {
  let hooks = abortHooks.get(signal)
  if (hooks === undefined) {
    const set = new Set<() => void>()
    hooks = set
    abortHooks.set(signal, set)
    signal.addEventListener('abort', () => {
      abortHooks.delete(signal)
      for (const h of [...set]) { try { h() } catch { /* one hook must not stop the rest */ } }
      set.clear()
    }, { once: true })
  }
  hooks.add(hook)
  const set = hooks
  return () => { set.delete(hook) }
}

/**
 * A deadline plus an optional caller signal, as one signal; `dispose` clears the
 * timer and the hook. `live` collects an abort hook so stop() can end every
 * deadline without one listener per request on a shared signal; the caller's
 * signal is watched the same way (onAbortShared).
 */
function deadline (timeoutMs: number, outer: AbortSignal | undefined, live: Set<() => void>): { signal: AbortSignal, timedOut: () => boolean, abort: () => void, dispose: () => void } {
  const ctl = new AbortController()
  let fired = false
  const timer = setTimeout(() => { fired = true; ctl.abort(new Error('deadline')) }, timeoutMs)
  const onAbort = (): void => { ctl.abort(new Error('aborted')) }
  let unhook = (): void => {}
  if (outer?.aborted === true) onAbort()
  else if (outer !== undefined) unhook = onAbortShared(outer, onAbort)
  live.add(onAbort)
  return {
    signal: ctl.signal,
    timedOut: () => fired,
    abort: onAbort,
    dispose: () => {
      clearTimeout(timer)
      unhook()
      live.delete(onAbort)
    }
  }
}

function isOversize (err: unknown): boolean { return (err as Error)?.name === 'FrameTooLargeError' }
function isMalformed (err: unknown): boolean { return (err as Error)?.name === 'MalformedFrameError' }
const OK = Uint8Array.of(STATUS_OK)
const ERR = Uint8Array.of(STATUS_ERROR)

export class StreamRpc implements Startable {
  private readonly components: StreamRpcComponents
  readonly config: StreamRpcInit
  private readonly handlers = new Map<string, Registered>()
  private readonly live = new Set<Stream>()
  private readonly listeners = new Set<RpcMisbehaviourListener>()
  private stopController = new AbortController()
  private readonly deadlines = new Set<() => void>()
  private started = false

  constructor (components: StreamRpcComponents, init: Partial<StreamRpcInit> = {}) {
    this.components = components
    this.config = streamRpcConfig(init)
  }

  readonly [Symbol.toStringTag] = 'tessera/stream-rpc'

  isStarted (): boolean { return this.started }

  async start (): Promise<void> {
    if (this.started) return
    this.stopController = new AbortController()
    this.started = true
    for (const protocol of this.handlers.keys()) await this.register(protocol)
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.stopController.abort(new TransportNotStartedError('stream rpc stopped'))
    for (const kill of [...this.deadlines]) kill()
    for (const protocol of this.handlers.keys()) {
      await this.components.registrar.unhandle(protocol).catch(() => {})
    }
    for (const s of this.live) s.abort(new TransportNotStartedError('stream rpc stopped'))
    this.live.clear()
  }

  onMisbehaviour (listener: RpcMisbehaviourListener): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  private report (peer: PeerId, reason: Misbehaviour): void {
    for (const l of this.listeners) {
      try { l(peer, reason) } catch { /* a listener's failure must not break the transport */ }
    }
  }

  async handle (protocol: string, handler: RequestHandler, opts: HandleOptions = {}): Promise<void> {
    if (typeof protocol !== 'string' || protocol.length === 0 || protocol.length > 256) throw new InvalidParametersError('protocol must be a non-empty string of at most 256 characters')
    if (typeof handler !== 'function') throw new InvalidParametersError('handler must be a function')
    if (this.handlers.has(protocol)) throw new AlreadyRegisteredError(`a handler is already registered for ${protocol}`)
    const reg: Registered = {
      handler,
      maxRequestBytes: checkCap('maxRequestBytes', opts.maxRequestBytes ?? this.config.defaultMaxRequestBytes, this.config.maxCapBytes),
      maxResponseBytes: checkCap('maxResponseBytes', opts.maxResponseBytes ?? this.config.defaultMaxResponseBytes, this.config.maxCapBytes),
      timeoutMs: checkTimeout('timeoutMs', opts.timeoutMs ?? this.config.defaultTimeoutMs)
    }
    this.handlers.set(protocol, reg)
    if (this.started) await this.register(protocol)
  }

  async unhandle (protocol: string): Promise<void> {
    if (!this.handlers.delete(protocol)) return
    if (this.started) await this.components.registrar.unhandle(protocol)
  }

  private async register (protocol: string): Promise<void> {
    await this.components.registrar.handle(protocol, (stream, connection) => this.serve(protocol, stream, connection), {
      maxInboundStreams: this.config.maxInboundStreams,
      maxOutboundStreams: this.config.maxOutboundStreams,
      force: true
    })
  }

  /** Server side of one stream. Never throws: every failure ends in an error frame or an aborted stream. */
  private async serve (protocol: string, stream: Stream, connection: Connection): Promise<void> {
    const reg = this.handlers.get(protocol)
    if (reg == null || !this.started) { stream.abort(new TransportNotStartedError()); return }
    this.live.add(stream)
    const remote = connection.remotePeer
    const dl = deadline(reg.timeoutMs, undefined, this.deadlines)
    // A caller that gives up (timeout, abort) resets the stream: tell the handler.
    let gone = false
    const onGone = (): void => { gone = true; dl.abort() }
    stream.addEventListener('close', onGone)
    const replyError = async (body: RpcErrorBody, thenAbort: boolean): Promise<void> => {
      try {
        await writeFrame(stream, [ERR, encodeErrorBody(body)], dl.signal)
        await stream.close({ signal: dl.signal })
        if (thenAbort) stream.abort(new RpcStreamError(`request refused: ${body.code}`))
      } catch (err) {
        stream.abort(err as Error)
      }
    }
    try {
      let request: Uint8Array
      try {
        request = await readFrame(stream, reg.maxRequestBytes, dl.signal)
      } catch (err) {
        if (isOversize(err)) {
          this.report(remote, { kind: 'oversized-frame', where: protocol, detail: (err as Error).message })
          await replyError({ code: 'frame-too-large', name: 'FrameTooLargeError', message: `request exceeds ${reg.maxRequestBytes} bytes`, limit: reg.maxRequestBytes }, true)
        } else if (isMalformed(err)) {
          this.report(remote, { kind: 'malformed-frame', where: protocol, detail: (err as Error).message })
          await replyError({ code: 'malformed-frame', name: 'MalformedFrameError', message: (err as Error).message }, true)
        } else {
          // EOF mid-frame, reset, deadline: the peer went away or stalled; nothing to answer.
          stream.abort(err as Error)
        }
        return
      }
      const peer = peerNameFromPeerId(remote)
      if (peer === undefined) { stream.abort(new PeerUnreachableError(remote.toString(), 'only Ed25519 peers are served')); return }
      let response: Uint8Array
      try {
        response = await raceAbort(Promise.resolve().then(() => reg.handler(request, { peer, protocol, signal: dl.signal })), dl.signal)
        if (!(response instanceof Uint8Array)) throw new TypeError('handler must return a Uint8Array')
      } catch (err) {
        const body: RpcErrorBody = dl.timedOut()
          ? { code: 'timeout', name: 'RpcTimeoutError', message: `handler exceeded ${reg.timeoutMs} ms` }
          : handlerErrorBody(err)
        if (this.stopController.signal.aborted) { stream.abort(new TransportNotStartedError()); return }
        if (gone) return
        if (dl.timedOut()) {
          // The deadline signal is spent; give the error frame a short grace of its own.
          const grace = deadline(1000, undefined, this.deadlines)
          try {
            await writeFrame(stream, [ERR, encodeErrorBody(body)], grace.signal)
            await stream.close({ signal: grace.signal })
          } catch (e) { stream.abort(e as Error) } finally { grace.dispose() }
          return
        }
        await replyError(body, false)
        return
      }
      if (response.length > reg.maxResponseBytes) {
        await replyError({ code: 'handler-error', name: 'FrameTooLargeError', message: `handler response of ${response.length} bytes exceeds ${reg.maxResponseBytes}` }, false)
        return
      }
      try {
        await writeFrame(stream, [OK, response], dl.signal)
        await stream.close({ signal: dl.signal })
      } catch (err) {
        stream.abort(err as Error)
      }
    } finally {
      stream.removeEventListener('close', onGone)
      dl.dispose()
      this.live.delete(stream)
    }
  }

  /**
   * Send `request` to `peer` on `protocol` and return the response. Throws the
   * typed errors of errors.ts only.
   */
  async request (peer: PeerId, protocol: string, request: Uint8Array, opts: SendOptions = {}): Promise<Uint8Array> {
    if (!this.started) throw new TransportNotStartedError()
    if (!(request instanceof Uint8Array)) throw new InvalidParametersError('request must be a Uint8Array')
    const maxRequestBytes = checkCap('maxRequestBytes', opts.maxRequestBytes ?? this.config.defaultMaxRequestBytes, this.config.maxCapBytes)
    const maxResponseBytes = checkCap('maxResponseBytes', opts.maxResponseBytes ?? this.config.defaultMaxResponseBytes, this.config.maxCapBytes)
    const timeoutMs = checkTimeout('timeoutMs', opts.timeoutMs ?? this.config.defaultTimeoutMs)
    if (request.length > maxRequestBytes) {
      throw new FrameTooLargeError(`request of ${request.length} bytes exceeds the cap of ${maxRequestBytes}`, maxRequestBytes, request.length, 'local')
    }
    if (opts.signal?.aborted === true) throw new RpcAbortedError('aborted before sending')
    const dl = deadline(timeoutMs, opts.signal, this.deadlines)
    const name = peerNameFromPeerId(peer) ?? peer.toString()
    const fail = (err: unknown): Error => {
      if (dl.timedOut()) return new RpcTimeoutError(`no response from ${name} on ${protocol} within ${timeoutMs} ms`, timeoutMs)
      if (this.stopController.signal.aborted) return new TransportNotStartedError('stopped during request')
      if (opts.signal?.aborted === true) return new RpcAbortedError('request aborted by caller', { cause: err })
      return err as Error
    }
    let stream: Stream
    try {
      stream = await this.components.connectionManager.openStream(peer, protocol, { signal: dl.signal })
    } catch (err) {
      dl.dispose()
      const e = fail(err)
      if (e !== err) throw e
      if ((err as Error)?.name === 'UnsupportedProtocolError') throw new ProtocolNotSupportedError(protocol, `${name} does not serve ${protocol}`, { cause: err })
      throw new PeerUnreachableError(name, `cannot reach ${name}: ${(err as Error)?.message}`, { cause: err })
    }
    this.live.add(stream)
    try {
      // Read while writing: a server that refuses the request (cap, parse) answers
      // before it has read all of it, then resets; we want its answer, not the reset.
      const reading = readFrame(stream, responseFrameCap(maxResponseBytes), dl.signal).then((f) => ({ ok: true as const, frame: f }), (e: unknown) => ({ ok: false as const, err: e }))
      let writeErr: unknown
      try {
        await writeFrame(stream, [request], dl.signal)
        await stream.close({ signal: dl.signal })
      } catch (err) {
        writeErr = err
      }
      const r = await reading
      if (!r.ok) {
        const err = r.err
        if (isOversize(err)) {
          this.report(peer, { kind: 'oversized-frame', where: protocol, detail: (err as Error).message })
          throw new FrameTooLargeError(`response from ${name} exceeds the cap of ${maxResponseBytes}`, maxResponseBytes, (err as FrameTooLargeError).size, 'local')
        }
        if (isMalformed(err)) {
          this.report(peer, { kind: 'malformed-frame', where: protocol, detail: (err as Error).message })
          throw new MalformedFrameError(`malformed response from ${name}: ${(err as Error).message}`, { cause: err })
        }
        const cause = writeErr ?? err
        const e = fail(cause)
        if (e !== cause) throw e
        throw new RpcStreamError(`stream to ${name} failed: ${(err as Error)?.message}`, { cause: err })
      }
      const frame = r.frame
      try {
        return decodeResponseFrame(frame, maxResponseBytes)
      } catch (err) {
        if ((err as Error).name === 'MalformedFrameError') this.report(peer, { kind: 'malformed-frame', where: protocol, detail: (err as Error).message })
        if ((err as Error).name === 'FrameTooLargeError' && (err as FrameTooLargeError).side === 'local') this.report(peer, { kind: 'oversized-frame', where: protocol, detail: (err as Error).message })
        throw err
      }
    } finally {
      dl.dispose()
      this.live.delete(stream)
      // A stream is released once both ends closed their writable ends. If the
      // remote has not (it may be slow, or hostile), reset it rather than let it
      // hold one of the maxOutboundStreams slots.
      if (stream.status === 'open' && stream.remoteWriteStatus === 'writable') stream.abort(new RpcStreamError('request finished'))
    }
  }
}

/** Reject with the signal's reason as soon as it aborts. */
async function raceAbort<T> (p: Promise<T>, signal: AbortSignal): Promise<T> {
  // A handler that fails after we stopped waiting for it must not become an unhandled
  // rejection: Node ends the process on one (a 70-peer benchmark died of a sync handler
  // reading a store closed under it, "Database is not open").
  p.catch(() => {})
  if (signal.aborted) throw signal.reason
  let onAbort!: () => void
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([p, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** libp2p service factory: `services: { rpc: streamRpc({...}) }`. */
export function streamRpc (init: Partial<StreamRpcInit> = {}): (components: StreamRpcComponents) => StreamRpc {
  const config = streamRpcConfig(init)
  return (components) => new StreamRpc(components, config)
}
