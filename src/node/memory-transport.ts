/**
 * Many peers in one process: the Transport of transport.ts without sockets, for
 * unit tests and fast simulations of the round protocol. It keeps the
 * semantics of the libp2p transport (same caps on both sides, same response
 * frames and typed errors, validators before delivery, no self-delivery) and
 * adds failure injection per directed link: drop rate, delay and jitter, and
 * link cuts (disconnect, isolate). Randomness is injected (src/util/rng.ts), so
 * a simulation with faults replays exactly from its seed.
 *
 * Limits of the model: one hop (every pair of peers is a direct link unless
 * cut; no forwarding through intermediaries), no bandwidth model, and a
 * request's bytes are copied once each way rather than streamed.
 *
 * Pure apart from timers: no node: imports.
 */
import { seededRng, type Rng } from '../util/rng.ts'
import { InvalidParametersError } from '../util/errors.ts'
import {
  AlreadyRegisteredError, FrameTooLargeError, PeerUnreachableError, ProtocolNotSupportedError,
  RpcAbortedError, RpcTimeoutError, TransportNotStartedError
} from './errors.ts'
import { assertPeerName, bytesToHex } from './peer-name.ts'
import { STATUS_ERROR, STATUS_OK, decodeResponseFrame, encodeErrorBody, handlerErrorBody, responseFrameCap, type RpcErrorBody } from './rpc-frame.ts'
import { addKeyedListener } from './keyed-listeners.ts'
import {
  Validation, type HandleOptions, type MessageHandler, type Misbehaviour, type MisbehaviourListener, type PublishResult,
  type RequestHandler, type SendOptions, type SubscribeOptions, type TopicPeerListener, type TopicValidator, type Transport, type ValidationResult
} from './transport.ts'

export interface LinkFault {
  /** probability in [0, 1] that a message or request/response leg is lost */
  dropRate?: number
  /** fixed one-way delay (ms) */
  delayMs?: number
  /** extra uniform random delay in [0, jitterMs) */
  jitterMs?: number
}

export interface MemoryNetworkOptions {
  rng: Rng
  defaultTimeoutMs: number
  defaultMaxRequestBytes: number
  defaultMaxResponseBytes: number
  defaultTopicMaxBytes: number
  maxMessageBytes: number
}

export const MEMORY_NETWORK_DEFAULTS: Readonly<Omit<MemoryNetworkOptions, 'rng'>> = Object.freeze({
  defaultTimeoutMs: 10_000,
  defaultMaxRequestBytes: 1024 * 1024,
  defaultMaxResponseBytes: 1024 * 1024,
  defaultTopicMaxBytes: 64 * 1024,
  maxMessageBytes: 1024 * 1024
})

const MAX_CAP = 256 * 1024 * 1024

function checkInt (name: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < lo || v > hi) throw new InvalidParametersError(`${name} must be an integer in [${lo}, ${hi}], got ${String(v)}`)
  return v
}
function checkTimeout (name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 3_600_000) throw new InvalidParametersError(`${name} must be a number of ms in (0, 3600000], got ${String(v)}`)
  return v
}

function checkFault (f: LinkFault): Required<LinkFault> {
  const dropRate = f.dropRate ?? 0
  const delayMs = f.delayMs ?? 0
  const jitterMs = f.jitterMs ?? 0
  if (typeof dropRate !== 'number' || !(dropRate >= 0 && dropRate <= 1)) throw new InvalidParametersError(`dropRate must be in [0, 1], got ${String(dropRate)}`)
  for (const [k, v] of [['delayMs', delayMs], ['jitterMs', jitterMs]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 600_000) throw new InvalidParametersError(`${k} must be in [0, 600000] ms, got ${String(v)}`)
  }
  return { dropRate, delayMs, jitterMs }
}

/** The shared medium. Create transports with `network.createTransport()`. */
export class MemoryNetwork {
  readonly options: MemoryNetworkOptions
  private readonly members = new Map<string, MemoryTransport>()
  private readonly faults = new Map<string, Required<LinkFault>>()
  private readonly cut = new Set<string>()
  /** counters for simulations: delivered messages and bytes, dropped legs */
  readonly stats = { delivered: 0, bytes: 0, dropped: 0 }

  constructor (options: Partial<MemoryNetworkOptions> = {}) {
    const o = { ...MEMORY_NETWORK_DEFAULTS, rng: options.rng ?? seededRng('tessera/memory-network'), ...options }
    checkTimeout('defaultTimeoutMs', o.defaultTimeoutMs)
    checkInt('maxMessageBytes', o.maxMessageBytes, 1, 3 * 1024 * 1024)
    checkInt('defaultMaxRequestBytes', o.defaultMaxRequestBytes, 0, MAX_CAP)
    checkInt('defaultMaxResponseBytes', o.defaultMaxResponseBytes, 0, MAX_CAP)
    checkInt('defaultTopicMaxBytes', o.defaultTopicMaxBytes, 1, o.maxMessageBytes)
    if (o.rng == null || typeof o.rng.nextFloat !== 'function') throw new InvalidParametersError('rng must be an Rng')
    this.options = o
  }

  /** A new peer named `name` (64 hex chars), or a random name drawn from the rng. */
  createTransport (name?: string): MemoryTransport {
    if (name === undefined) {
      const w = new Uint32Array(8)
      this.options.rng.fillU32(w)
      name = bytesToHex(new Uint8Array(w.buffer))
    }
    assertPeerName(name)
    if (this.members.has(name)) throw new AlreadyRegisteredError(`peer ${name} already exists in this network`)
    const t = new MemoryTransport(this, name)
    this.members.set(name, t)
    return t
  }

  /** Apply a fault to the directed link a -> b (and b -> a unless `symmetric` is false). */
  setFault (a: string, b: string, fault: LinkFault, symmetric = true): void {
    const f = checkFault(fault)
    this.faults.set(`${a}>${b}`, f)
    if (symmetric) this.faults.set(`${b}>${a}`, f)
  }

  clearFaults (): void { this.faults.clear() }

  /** Cut the link between a and b: sends fail with PeerUnreachableError, gossip does not pass. */
  disconnect (a: string, b: string): void { this.cut.add(pairKey(a, b)) }
  reconnect (a: string, b: string): void {
    if (this.cut.delete(pairKey(a, b))) this.linkUp(a, b)
  }
  /** Cut every link of `peer`. */
  isolate (peer: string): void { for (const o of this.members.keys()) if (o !== peer) this.disconnect(peer, o) }
  rejoin (peer: string): void { for (const o of this.members.keys()) if (o !== peer) this.reconnect(peer, o) }

  /** @internal */
  linked (a: string, b: string): boolean {
    if (a === b || this.cut.has(pairKey(a, b))) return false
    // A ban cuts the link both ways, as a connection gater does on libp2p.
    return this.members.get(a)?.isBanned(b) !== true && this.members.get(b)?.isBanned(a) !== true
  }

  /** @internal a started peer reachable from `from`, or undefined */
  reachable (from: string, to: string): MemoryTransport | undefined {
    const t = this.members.get(to)
    if (t == null || !t.isStarted() || !this.linked(from, to)) return undefined
    return t
  }

  /** @internal started peers linked to `from` */
  neighbours (from: string): MemoryTransport[] {
    const out: MemoryTransport[] = []
    for (const [name, t] of this.members) if (t.isStarted() && this.linked(from, name)) out.push(t)
    return out
  }

  /** @internal the fate of one leg a -> b: undefined = lost, else the delay in ms */
  leg (a: string, b: string, bytes: number): number | undefined {
    const f = this.faults.get(`${a}>${b}`)
    if (f !== undefined && f.dropRate > 0 && this.options.rng.nextFloat() < f.dropRate) { this.stats.dropped++; return undefined }
    this.stats.delivered++
    this.stats.bytes += bytes
    if (f === undefined) return 0
    return f.delayMs + (f.jitterMs > 0 ? this.options.rng.nextFloat() * f.jitterMs : 0)
  }

  /** @internal */
  remove (name: string): void { this.members.delete(name) }

  /**
   * @internal a link a - b came up (a peer started, a cut was mended): each side learns the
   * other's subscriptions, as two libp2p peers exchange them on a new connection.
   */
  linkUp (a: string, b: string): void {
    const ta = this.reachable(b, a)
    const tb = this.reachable(a, b)
    if (ta === undefined || tb === undefined) return
    for (const topic of tb.topics()) ta.topicPeerSeen(topic, b)
    for (const topic of ta.topics()) tb.topicPeerSeen(topic, a)
  }
}

function pairKey (a: string, b: string): string { return a < b ? `${a}|${b}` : `${b}|${a}` }

interface Registered { handler: RequestHandler, maxRequestBytes: number, maxResponseBytes: number, timeoutMs: number }
interface Sub { validator: TopicValidator, onMessage: MessageHandler, maxBytes: number }

export class MemoryTransport implements Transport {
  readonly self: string
  private readonly net: MemoryNetwork
  private readonly handlers = new Map<string, Registered>()
  private readonly subs = new Map<string, Sub>()
  private readonly listeners = new Set<MisbehaviourListener>()
  private readonly topicPeerListeners = new Map<string, Set<TopicPeerListener>>()
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private life = new AbortController()
  /** abort hooks of in-flight requests and handlers, fired by stop() */
  private readonly inflight = new Set<() => void>()
  private started = false

  constructor (net: MemoryNetwork, self: string) {
    this.net = net
    this.self = self
  }

  isStarted (): boolean { return this.started }

  async start (): Promise<void> {
    if (this.started) return
    this.life = new AbortController()
    this.started = true
    // Our links come up: we and every started neighbour learn each other's subscriptions.
    for (const t of this.net.neighbours(this.self)) if (t !== this) this.net.linkUp(this.self, t.self)
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.life.abort(new TransportNotStartedError('transport stopped'))
    for (const kill of [...this.inflight]) kill()
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }

  /** Wait `ms` (0 = next macrotask) unless the transport stops or `signal` aborts. */
  private async wait (ms: number, signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      if (signal.aborted) { reject(signal.reason); return }
      const onAbort = (): void => { clearTimeout(t); this.timers.delete(t); reject(signal.reason) }
      const t = setTimeout(() => { this.timers.delete(t); signal.removeEventListener('abort', onAbort); resolve() }, ms)
      this.timers.add(t)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  private report (peer: string, reason: Misbehaviour): void {
    for (const l of this.listeners) {
      try { l(peer, reason) } catch { /* never break the transport */ }
    }
  }

  onMisbehaviour (listener: MisbehaviourListener): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  private readonly bans = new Map<string, number>()

  async ban (peer: string, untilMs: number): Promise<void> {
    assertPeerName(peer)
    if (!Number.isFinite(untilMs)) throw new InvalidParametersError(`untilMs must be finite, got ${String(untilMs)}`)
    if (untilMs <= Date.now()) this.bans.delete(peer)
    else this.bans.set(peer, untilMs)
  }

  /** In memory every started peer is reachable by name: no addresses to know. */
  async knownAddresses (_peer: string): Promise<string[]> { return [] }

  async learnAddresses (peer: string, addresses: string[]): Promise<void> {
    assertPeerName(peer)
    if (!Array.isArray(addresses)) throw new InvalidParametersError('addresses must be an array of multiaddrs')
  }

  isBanned (peer: string): boolean {
    const until = this.bans.get(peer)
    return until !== undefined && until > Date.now()
  }

  async handle (protocol: string, handler: RequestHandler, opts: HandleOptions = {}): Promise<void> {
    if (typeof protocol !== 'string' || protocol.length === 0 || protocol.length > 256) throw new InvalidParametersError('protocol must be a non-empty string of at most 256 characters')
    if (typeof handler !== 'function') throw new InvalidParametersError('handler must be a function')
    if (this.handlers.has(protocol)) throw new AlreadyRegisteredError(`a handler is already registered for ${protocol}`)
    const o = this.net.options
    this.handlers.set(protocol, {
      handler,
      maxRequestBytes: checkInt('maxRequestBytes', opts.maxRequestBytes ?? o.defaultMaxRequestBytes, 0, MAX_CAP),
      maxResponseBytes: checkInt('maxResponseBytes', opts.maxResponseBytes ?? o.defaultMaxResponseBytes, 0, MAX_CAP),
      timeoutMs: checkTimeout('timeoutMs', opts.timeoutMs ?? o.defaultTimeoutMs)
    })
  }

  async unhandle (protocol: string): Promise<void> { this.handlers.delete(protocol) }

  async send (peer: string, protocol: string, request: Uint8Array, opts: SendOptions = {}): Promise<Uint8Array> {
    if (!this.started) throw new TransportNotStartedError()
    assertPeerName(peer)
    if (!(request instanceof Uint8Array)) throw new InvalidParametersError('request must be a Uint8Array')
    const o = this.net.options
    const maxRequestBytes = checkInt('maxRequestBytes', opts.maxRequestBytes ?? o.defaultMaxRequestBytes, 0, MAX_CAP)
    const maxResponseBytes = checkInt('maxResponseBytes', opts.maxResponseBytes ?? o.defaultMaxResponseBytes, 0, MAX_CAP)
    const timeoutMs = checkTimeout('timeoutMs', opts.timeoutMs ?? o.defaultTimeoutMs)
    if (request.length > maxRequestBytes) throw new FrameTooLargeError(`request of ${request.length} bytes exceeds the cap of ${maxRequestBytes}`, maxRequestBytes, request.length, 'local')
    if (opts.signal?.aborted === true) throw new RpcAbortedError('aborted before sending')
    if (peer === this.self) throw new PeerUnreachableError(peer, 'cannot send a request to ourselves')
    if (this.net.reachable(this.self, peer) === undefined) throw new PeerUnreachableError(peer, `cannot reach ${peer}`)

    const ctl = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => { timedOut = true; ctl.abort(new Error('deadline')) }, timeoutMs)
    this.timers.add(timer)
    const onOuter = (): void => { ctl.abort(new Error('aborted')) }
    opts.signal?.addEventListener('abort', onOuter, { once: true })
    this.inflight.add(onOuter)
    const signal = ctl.signal
    try {
      const frame = await this.exchange(peer, protocol, request.slice(), signal)
      if (frame.length > responseFrameCap(maxResponseBytes)) {
        this.report(peer, { kind: 'oversized-frame', where: protocol, detail: `response frame of ${frame.length} bytes` })
        throw new FrameTooLargeError(`response from ${peer} exceeds the cap of ${maxResponseBytes}`, maxResponseBytes, frame.length - 1, 'local')
      }
      try {
        return decodeResponseFrame(frame, maxResponseBytes)
      } catch (err) {
        if ((err as Error).name === 'FrameTooLargeError' && (err as FrameTooLargeError).side === 'local') this.report(peer, { kind: 'oversized-frame', where: protocol, detail: (err as Error).message })
        throw err
      }
    } catch (err) {
      if (timedOut) throw new RpcTimeoutError(`no response from ${peer} on ${protocol} within ${timeoutMs} ms`, timeoutMs)
      if (this.life.signal.aborted) throw new TransportNotStartedError('stopped during request')
      if ((opts.signal as AbortSignal | undefined)?.aborted === true) throw new RpcAbortedError('request aborted by caller', { cause: err })
      throw err
    } finally {
      clearTimeout(timer)
      this.timers.delete(timer)
      opts.signal?.removeEventListener('abort', onOuter)
      this.inflight.delete(onOuter)
    }
  }

  /** One request leg, the remote's processing, one response leg; returns the response frame. */
  private async exchange (peer: string, protocol: string, request: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    const there = this.net.leg(this.self, peer, request.length)
    if (there === undefined) return await untilAborted(signal) // lost: only the deadline ends it
    await this.wait(there, signal)
    const remote = this.net.reachable(this.self, peer)
    if (remote === undefined) throw new PeerUnreachableError(peer, `${peer} went away`)
    const frame = await remote.serve(this.self, protocol, request, signal)
    const back = this.net.leg(peer, this.self, frame.length)
    if (back === undefined) return await untilAborted(signal)
    await this.wait(back, signal)
    // A cut while the response was in flight loses it; a peer that stopped after answering does not.
    if (!this.net.linked(this.self, peer)) throw new PeerUnreachableError(peer, `link to ${peer} cut`)
    return frame
  }

  /** @internal the server side: returns a response frame (status byte + body). */
  async serve (from: string, protocol: string, request: Uint8Array, callerSignal: AbortSignal): Promise<Uint8Array> {
    const reg = this.handlers.get(protocol)
    if (reg == null) throw new ProtocolNotSupportedError(protocol, `${this.self} does not serve ${protocol}`)
    const errorFrame = (body: RpcErrorBody): Uint8Array => concat(STATUS_ERROR, encodeErrorBody(body))
    if (request.length > reg.maxRequestBytes) {
      this.report(from, { kind: 'oversized-frame', where: protocol, detail: `request of ${request.length} bytes > cap ${reg.maxRequestBytes}` })
      return errorFrame({ code: 'frame-too-large', name: 'FrameTooLargeError', message: `request exceeds ${reg.maxRequestBytes} bytes`, limit: reg.maxRequestBytes })
    }
    const ctl = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => { timedOut = true; ctl.abort(new Error('handler deadline')) }, reg.timeoutMs)
    this.timers.add(timer)
    const onAbort = (): void => { ctl.abort(new Error('aborted')) }
    this.inflight.add(onAbort)
    // The caller giving up resets the stream on libp2p; the handler sees its signal abort.
    callerSignal.addEventListener('abort', onAbort, { once: true })
    try {
      const aborted = new Promise<never>((_resolve, reject) => {
        if (ctl.signal.aborted) reject(ctl.signal.reason)
        ctl.signal.addEventListener('abort', () => { reject(ctl.signal.reason) }, { once: true })
      })
      aborted.catch(() => {})
      const response = await Promise.race([Promise.resolve().then(() => reg.handler(request, { peer: from, protocol, signal: ctl.signal })), aborted])
      if (!(response instanceof Uint8Array)) throw new TypeError('handler must return a Uint8Array')
      if (response.length > reg.maxResponseBytes) {
        return errorFrame({ code: 'handler-error', name: 'FrameTooLargeError', message: `handler response of ${response.length} bytes exceeds ${reg.maxResponseBytes}` })
      }
      return concat(STATUS_OK, response)
    } catch (err) {
      if (this.life.signal.aborted) throw new PeerUnreachableError(this.self, `${this.self} stopped`)
      if (timedOut) return errorFrame({ code: 'timeout', name: 'RpcTimeoutError', message: `handler exceeded ${reg.timeoutMs} ms` })
      if (callerSignal.aborted) throw callerSignal.reason
      return errorFrame(handlerErrorBody(err))
    } finally {
      clearTimeout(timer)
      this.timers.delete(timer)
      this.inflight.delete(onAbort)
      callerSignal.removeEventListener('abort', onAbort)
    }
  }

  async publish (topic: string, data: Uint8Array): Promise<PublishResult> {
    if (!this.started) throw new TransportNotStartedError()
    if (!(data instanceof Uint8Array)) throw new InvalidParametersError('data must be a Uint8Array')
    const cap = this.subs.get(topic)?.maxBytes ?? this.net.options.defaultTopicMaxBytes
    if (data.length > cap) throw new FrameTooLargeError(`message of ${data.length} bytes exceeds the cap of ${topic} (${cap})`, cap, data.length, 'local')
    let recipients = 0
    for (const t of this.net.neighbours(this.self)) {
      if (!t.subscribed(topic)) continue
      recipients++
      const delay = this.net.leg(this.self, t.self, data.length)
      if (delay === undefined) continue
      const copy = data.slice()
      // Deliver asynchronously, as a network would, from the receiver's own timers.
      t.schedule(delay, () => { void t.receive(topic, this.self, copy) })
    }
    return { recipients }
  }

  /** @internal */
  subscribed (topic: string): boolean { return this.subs.has(topic) }

  /** @internal run `fn` after `ms` unless this transport stops first. */
  schedule (ms: number, fn: () => void): void {
    if (!this.started) return
    const t = setTimeout(() => { this.timers.delete(t); if (this.started) fn() }, ms)
    this.timers.add(t)
  }

  /** @internal validation then delivery at the receiver (mirrors gossip.ts). */
  async receive (topic: string, from: string, data: Uint8Array): Promise<void> {
    const sub = this.subs.get(topic)
    if (sub == null || !this.started) return
    if (data.length > sub.maxBytes) {
      this.report(from, { kind: 'oversized-message', where: topic, detail: `${data.length} bytes > cap ${sub.maxBytes}`, via: from })
      return
    }
    let result: ValidationResult
    try {
      result = await sub.validator({ topic, from, via: from, data })
    } catch {
      return // a validator bug is not evidence against the sender: Ignore
    }
    if (result === Validation.Reject) {
      this.report(from, { kind: 'gossip-reject', where: topic, detail: 'validator rejected the message', via: from })
      return
    }
    if (result !== Validation.Accept || !this.started || this.subs.get(topic) !== sub) return
    try { sub.onMessage({ topic, from, via: from, data }) } catch { /* the subscriber's own failure */ }
  }

  subscribe (topic: string, validator: TopicValidator, onMessage: MessageHandler, opts: SubscribeOptions = {}): () => void {
    if (typeof topic !== 'string' || topic.length === 0 || topic.length > 256) throw new InvalidParametersError('topic must be a non-empty string of at most 256 characters')
    if (typeof validator !== 'function' || typeof onMessage !== 'function') throw new InvalidParametersError('validator and onMessage must be functions')
    if (this.subs.has(topic)) throw new AlreadyRegisteredError(`already subscribed to ${topic}`)
    const maxBytes = opts.maxBytes ?? this.net.options.defaultTopicMaxBytes
    checkInt(`maxBytes of ${topic}`, maxBytes, 1, this.net.options.maxMessageBytes)
    const sub: Sub = { validator, onMessage, maxBytes }
    this.subs.set(topic, sub)
    if (this.started) for (const t of this.net.neighbours(this.self)) if (t !== this) t.topicPeerSeen(topic, this.self)
    return () => { if (this.subs.get(topic) === sub) this.subs.delete(topic) }
  }

  onTopicPeer (topic: string, listener: TopicPeerListener): () => void {
    return addKeyedListener(this.topicPeerListeners, topic, listener)
  }

  /** @internal topics this peer is subscribed to */
  topics (): string[] { return [...this.subs.keys()] }

  /**
   * @internal `peer` is now a subscribed neighbour on `topic`: tell our listeners
   * asynchronously (a subscription travels as a message on libp2p), and only while started.
   */
  topicPeerSeen (topic: string, peer: string): void {
    if (!this.topicPeerListeners.has(topic) || peer === this.self) return
    this.schedule(0, () => {
      for (const l of [...this.topicPeerListeners.get(topic) ?? []]) {
        try { l(peer) } catch { /* the listener's own failure */ }
      }
    })
  }

  peers (): string[] {
    if (!this.started) return []
    return this.net.neighbours(this.self).map((t) => t.self)
  }

  topicPeers (topic: string): string[] {
    if (!this.started) return []
    return this.net.neighbours(this.self).filter((t) => t.subscribed(topic)).map((t) => t.self)
  }
}

/** Never resolves; rejects with the signal's reason when it aborts (no timer held). */
async function untilAborted (signal: AbortSignal): Promise<never> {
  return await new Promise<never>((_resolve, reject) => {
    if (signal.aborted) { reject(signal.reason); return }
    signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
  })
}

function concat (status: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 1)
  out[0] = status
  out.set(body, 1)
  return out
}
