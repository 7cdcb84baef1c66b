/**
 * Typed publish/subscribe over @libp2p/gossipsub (gossipsub v1.1, Vyzovitis et
 * al., "GossipSub: Attack-Resilient Message Propagation", 2020). Bytes in, bytes
 * out: the caller encodes. Every topic has a size cap and a validator that runs
 * before delivery and before forwarding (gossipsub's topic validators, so a
 * rejected message is never forwarded and its source loses gossipsub score):
 *
 *   Accept  deliver and forward
 *   Ignore  drop silently (stale, duplicate): no penalty
 *   Reject  drop, and call onMisbehaviour(from, reason) so reputation can
 *           charge it. Envelopes are unsigned (StrictNoSign, libp2p.ts), so
 *           `from` is the neighbour that sent the message (see authorOf); the
 *           payloads of every Tessera topic carry their authors' signatures, which
 *           the topic validators check.
 *
 * A validator that throws is treated as Ignore: a bug on our side is not
 * evidence against the sender.
 *
 * Remote subscriptions are surfaced per topic (`onTopicPeer`, from gossipsub's
 * `subscription-change` event): gossipsub publishes only to peers whose
 * subscription it has received, so a message published before that is lost to
 * them; the listener lets a publisher re-send (ledger sync re-announces).
 *
 * A libp2p service: `tesseraGossip(init)` takes the narrow GossipComponents
 * (the `pubsub` service), with start/stop.
 */
import type { PeerId, Startable } from '@libp2p/interface'
import type { GossipSub, GossipsubMessage, Message, SubscriptionChangeData, TopicValidatorResult } from '@libp2p/gossipsub'
import { InvalidParametersError } from '../util/errors.ts'
import { AlreadyRegisteredError, FrameTooLargeError, TransportNotStartedError } from './errors.ts'
import { peerNameFromPeerId } from './peer-name.ts'
import { plain } from './frame-io.ts'
import { MAX_GOSSIP_BYTES } from './protocol-ids.ts'
import { Validation, type GossipMessage, type MessageHandler, type Misbehaviour, type PublishResult, type SubscribeOptions, type TopicPeerListener, type TopicValidator, type ValidationResult } from './transport.ts'
import { addKeyedListener } from './keyed-listeners.ts'

export interface GossipComponents {
  pubsub: Pick<GossipSub, 'subscribe' | 'unsubscribe' | 'publish' | 'topicValidators' | 'getSubscribers' | 'addEventListener' | 'removeEventListener'>
}

export interface GossipInit {
  /** ceiling on any topic cap; must not exceed gossipsub's maxInboundDataLength */
  maxMessageBytes: number
  /** cap of a topic subscribed without one */
  defaultTopicMaxBytes: number
  /**
   * Topics gossipsub accepts (its `allowedTopics`); subscribing or publishing
   * outside them throws, because gossipsub would silently drop every remote
   * subscription to such a topic. undefined = no restriction.
   */
  allowedTopics: readonly string[] | undefined
}

export const GOSSIP_DEFAULTS: Readonly<GossipInit> = Object.freeze({
  maxMessageBytes: MAX_GOSSIP_BYTES,
  defaultTopicMaxBytes: 64 * 1024,
  allowedTopics: undefined
})

/** Gossipsub itself drops messages above about 4 MiB without a word: stay clearly below. */
const GOSSIPSUB_HARD_LIMIT = 3 * 1024 * 1024

export function gossipConfig (init: Partial<GossipInit> = {}): GossipInit {
  const c = { ...GOSSIP_DEFAULTS, ...init }
  if (!Number.isSafeInteger(c.maxMessageBytes) || c.maxMessageBytes < 1 || c.maxMessageBytes > GOSSIPSUB_HARD_LIMIT) {
    throw new InvalidParametersError(`maxMessageBytes must be an integer in [1, ${GOSSIPSUB_HARD_LIMIT}] (bulk data goes over streams), got ${String(c.maxMessageBytes)}`)
  }
  if (!Number.isSafeInteger(c.defaultTopicMaxBytes) || c.defaultTopicMaxBytes < 1 || c.defaultTopicMaxBytes > c.maxMessageBytes) {
    throw new InvalidParametersError(`defaultTopicMaxBytes must be an integer in [1, maxMessageBytes], got ${String(c.defaultTopicMaxBytes)}`)
  }
  if (c.allowedTopics !== undefined && (!Array.isArray(c.allowedTopics) || c.allowedTopics.some((t) => typeof t !== 'string' || t.length === 0))) {
    throw new InvalidParametersError('allowedTopics must be an array of non-empty strings')
  }
  return c
}

export type GossipMisbehaviourListener = (peer: string, reason: Misbehaviour) => void

interface Sub { validator: TopicValidator, onMessage: MessageHandler, maxBytes: number }

export class GossipService implements Startable {
  private readonly components: GossipComponents
  readonly config: GossipInit
  private readonly subs = new Map<string, Sub>()
  private readonly allowed: ReadonlySet<string> | undefined
  private readonly listeners = new Set<GossipMisbehaviourListener>()
  private readonly topicPeerListeners = new Map<string, Set<TopicPeerListener>>()
  private started = false

  constructor (components: GossipComponents, init: Partial<GossipInit> = {}) {
    this.components = components
    this.config = gossipConfig(init)
    this.allowed = this.config.allowedTopics === undefined ? undefined : new Set(this.config.allowedTopics)
  }

  readonly [Symbol.toStringTag] = 'tessera/gossip'

  private checkAllowed (topic: string): void {
    if (this.allowed !== undefined && !this.allowed.has(topic)) {
      throw new InvalidParametersError(`topic '${topic.slice(0, 120)}' is not a topic of this network (see protocol-ids.ts scopeTopic)`)
    }
  }

  isStarted (): boolean { return this.started }

  // libp2p starts services in parallel, so gossipsub may not be running during
  // our start(): subscribe in afterStart, and unsubscribe in beforeStop while it
  // still runs.
  start (): void {}

  afterStart (): void {
    if (this.started) return
    this.started = true
    this.components.pubsub.addEventListener('gossipsub:message', this.onGossipMessage)
    this.components.pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    for (const topic of this.subs.keys()) this.attach(topic)
  }

  beforeStop (): void {
    if (!this.started) return
    this.started = false
    this.components.pubsub.removeEventListener('gossipsub:message', this.onGossipMessage)
    this.components.pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    for (const topic of this.subs.keys()) this.detach(topic)
  }

  stop (): void {
    this.beforeStop()
  }

  onMisbehaviour (listener: GossipMisbehaviourListener): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** Call `listener(peer)` when a connected peer's subscription to `topic` reaches us; returns the remover. */
  onTopicPeer (topic: string, listener: TopicPeerListener): () => void {
    return addKeyedListener(this.topicPeerListeners, topic, listener)
  }

  private readonly onSubscriptionChange = (evt: CustomEvent<SubscriptionChangeData>): void => {
    if (this.topicPeerListeners.size === 0) return
    const name = peerNameFromPeerId(evt.detail.peerId)
    if (name === undefined) return
    for (const s of evt.detail.subscriptions) {
      if (!s.subscribe) continue
      const set = this.topicPeerListeners.get(s.topic)
      if (set === undefined) continue
      for (const l of [...set]) {
        try { l(name) } catch { /* a listener's failure is its own */ }
      }
    }
  }

  private report (peer: string, reason: Misbehaviour): void {
    for (const l of this.listeners) {
      try { l(peer, reason) } catch { /* never let a listener break validation */ }
    }
  }

  subscribe (topic: string, validator: TopicValidator, onMessage: MessageHandler, opts: SubscribeOptions = {}): () => void {
    if (typeof topic !== 'string' || topic.length === 0 || topic.length > 256) throw new InvalidParametersError('topic must be a non-empty string of at most 256 characters')
    if (typeof validator !== 'function' || typeof onMessage !== 'function') throw new InvalidParametersError('validator and onMessage must be functions')
    this.checkAllowed(topic)
    if (this.subs.has(topic)) throw new AlreadyRegisteredError(`already subscribed to ${topic}`)
    const maxBytes = opts.maxBytes ?? this.config.defaultTopicMaxBytes
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1 || maxBytes > this.config.maxMessageBytes) {
      throw new InvalidParametersError(`maxBytes of ${topic} must be an integer in [1, ${this.config.maxMessageBytes}], got ${String(maxBytes)}`)
    }
    const sub: Sub = { validator, onMessage, maxBytes }
    this.subs.set(topic, sub)
    if (this.started) this.attach(topic)
    return () => {
      if (this.subs.get(topic) !== sub) return
      this.subs.delete(topic)
      if (this.started) this.detach(topic)
    }
  }

  /** Cap applied when publishing on a topic we are not subscribed to. */
  private capOf (topic: string): number {
    return this.subs.get(topic)?.maxBytes ?? this.config.defaultTopicMaxBytes
  }

  async publish (topic: string, data: Uint8Array, maxBytes?: number): Promise<PublishResult> {
    if (!this.started) throw new TransportNotStartedError()
    if (!(data instanceof Uint8Array)) throw new InvalidParametersError('data must be a Uint8Array')
    this.checkAllowed(topic)
    const cap = maxBytes ?? this.capOf(topic)
    if (data.length > cap) throw new FrameTooLargeError(`message of ${data.length} bytes exceeds the cap of ${topic} (${cap})`, cap, data.length, 'local')
    const r = await this.components.pubsub.publish(topic, data)
    return { recipients: r.recipients.length }
  }

  topicPeers (topic: string): PeerId[] {
    return this.components.pubsub.getSubscribers(topic)
  }

  private attach (topic: string): void {
    this.components.pubsub.topicValidators.set(topic, async (propagationSource: PeerId, msg: Message) => await this.validate(topic, propagationSource, msg) as TopicValidatorResult)
    this.components.pubsub.subscribe(topic)
  }

  private detach (topic: string): void {
    this.components.pubsub.topicValidators.delete(topic)
    try { this.components.pubsub.unsubscribe(topic) } catch { /* pubsub already stopped: nothing to undo */ }
  }

  private async validate (topic: string, propagationSource: PeerId, msg: Message): Promise<ValidationResult> {
    const sub = this.subs.get(topic)
    if (sub == null) return Validation.Ignore
    const via = peerNameFromPeerId(propagationSource) ?? propagationSource.toString()
    const from = authorOf(msg, via)
    if (from === undefined) return Validation.Reject
    if (msg.data.length > sub.maxBytes) {
      this.report(from, { kind: 'oversized-message', where: topic, detail: `${msg.data.length} bytes > cap ${sub.maxBytes}`, via })
      return Validation.Reject
    }
    let result: ValidationResult
    try {
      result = await sub.validator({ topic, from, via, data: plain(msg.data) })
    } catch {
      return Validation.Ignore
    }
    if (result === Validation.Reject) {
      this.report(from, { kind: 'gossip-reject', where: topic, detail: 'validator rejected the message', via })
      return Validation.Reject
    }
    return result === Validation.Accept ? Validation.Accept : Validation.Ignore
  }

  private readonly onGossipMessage = (evt: CustomEvent<GossipsubMessage>): void => {
    const { msg, propagationSource } = evt.detail
    const sub = this.subs.get(msg.topic)
    if (sub == null) return
    const via = peerNameFromPeerId(propagationSource) ?? propagationSource.toString()
    const from = authorOf(msg, via)
    if (from === undefined) return
    const m: GossipMessage = { topic: msg.topic, from, via, data: plain(msg.data) }
    try { sub.onMessage(m) } catch { /* a subscriber's failure is its own */ }
  }
}

/**
 * Who answers for a gossip message at this layer. Signed envelopes (StrictSign): the
 * signer. Unsigned ones (StrictNoSign, gossip wire 2, libp2p.ts): the neighbour that sent
 * it, the only peer the transport authenticates (Noise); the payload's author is the
 * topic's business, and its validator checks the author's signature inside the payload. An
 * honest peer forwards only what its validator accepted, so a forged or malformed message
 * is charged to the peer that injected it, never to an honest author it names.
 */
function authorOf (msg: Message, via: string): string | undefined {
  return msg.type === 'signed' ? peerNameFromPeerId(msg.from) : via
}

/** libp2p service factory: `services: { gossip: tesseraGossip({...}) }` (needs the `pubsub` service). */
export function tesseraGossip (init: Partial<GossipInit> = {}): (components: GossipComponents) => GossipService {
  const config = gossipConfig(init)
  return (components) => new GossipService(components, config)
}
