/**
 * The transport the round protocol talks to. Pure types (and one constant
 * object), no I/O: the round protocol depends on this file only, and runs
 * unchanged over the in-memory network (unit tests, simulation) and over
 * libp2p (real peers). Both implementations pass one compliance suite
 * (test/node/transport-compliance.ts).
 *
 * Semantics every implementation guarantees:
 * - Peers are named by lowercase hex of their raw Ed25519 public key.
 * - `send` is one request, one response, on a fresh stream. Request and response
 *   sizes are capped per call/handler; a local cap violation throws
 *   FrameTooLargeError before any byte is sent, a remote cap violation throws
 *   FrameTooLargeError with `side: 'remote'`. A handler that throws gives the
 *   caller RemoteError (with the remote error's name). No answer before the
 *   deadline gives RpcTimeoutError. Unknown/unreachable peer: PeerUnreachableError;
 *   no handler: ProtocolNotSupportedError.
 * - `publish` delivers to every other subscribed, connected peer at most once,
 *   never to the publisher itself. Each receiver runs its topic validator first:
 *   Accept delivers, Ignore drops silently, Reject drops and reports the author
 *   through `onMisbehaviour`. A message over the topic cap throws
 *   FrameTooLargeError at the publisher; at a receiver it is rejected and its
 *   author reported ('oversized-message').
 * - `onTopicPeer(topic, l)` calls `l(peer)` when a connected peer is seen to become
 *   subscribed to `topic`: its subscription reached us, or a connection (link) to an
 *   already subscribed peer came up. Never for ourselves, never while stopped.
 *   A publish made before that moment did not reach the peer (gossipsub sends
 *   only to peers whose subscription it knows), so a publisher can re-send.
 * - `stop()` releases every socket, timer and handler; in-flight requests fail.
 */

/** Gossip validation outcome; the string values equal gossipsub's TopicValidatorResult. */
export const Validation = {
  /** valid: deliver and forward */
  Accept: 'accept',
  /** provably invalid: drop, do not forward, charge the author (onMisbehaviour) */
  Reject: 'reject',
  /** not useful (stale, duplicate, not for us): drop silently, no penalty */
  Ignore: 'ignore'
} as const
export type ValidationResult = (typeof Validation)[keyof typeof Validation]

export interface RequestContext {
  /** the requesting peer (authenticated by the transport) */
  peer: string
  protocol: string
  /** aborted when the handler's deadline passes or the transport stops */
  signal: AbortSignal
}

export type RequestHandler = (request: Uint8Array, ctx: RequestContext) => Uint8Array | Promise<Uint8Array>

export interface SendOptions {
  /** deadline for the whole exchange (dial, write, handler, read); default from the transport */
  timeoutMs?: number
  signal?: AbortSignal
  /** cap on the request we send (default: transport default) */
  maxRequestBytes?: number
  /** cap on the response we accept (default: transport default) */
  maxResponseBytes?: number
}

export interface HandleOptions {
  /** cap on requests we accept */
  maxRequestBytes?: number
  /** cap on responses our handler may return */
  maxResponseBytes?: number
  /** deadline for reading the request and running the handler */
  timeoutMs?: number
}

export interface GossipMessage {
  topic: string
  /**
   * The peer the transport vouches for: in memory the publisher (one hop); on libp2p, whose
   * gossip envelopes are unsigned (gossip.ts authorOf), the neighbour that sent it, i.e. `via`.
   * A payload's author is authenticated by the payload itself: round messages and ledger
   * entries carry their authors' signatures, checked by the topic's validator.
   */
  from: string
  /** the neighbour that forwarded it (equals `from` for a direct delivery) */
  via: string
  data: Uint8Array
}

export type TopicValidator = (msg: GossipMessage) => ValidationResult | Promise<ValidationResult>
export type MessageHandler = (msg: GossipMessage) => void

export interface SubscribeOptions {
  /** largest message accepted on the topic (and published by us) */
  maxBytes?: number
}

export type MisbehaviourKind =
  | 'gossip-reject' // a topic validator returned Reject
  | 'oversized-message' // a gossip message over the topic cap
  | 'oversized-frame' // a stream frame over the protocol cap
  | 'malformed-frame' // bytes that are not a frame

export interface Misbehaviour {
  kind: MisbehaviourKind
  /** topic or protocol */
  where: string
  detail: string
  /** forwarding neighbour, for gossip */
  via?: string
}

export type MisbehaviourListener = (peer: string, reason: Misbehaviour) => void

/** A connected peer became subscribed to the topic the listener was registered for. */
export type TopicPeerListener = (peer: string) => void

export interface PublishResult {
  /** number of neighbours the message was handed to */
  recipients: number
}

export interface Transport {
  /** our own peer name */
  readonly self: string
  start(): Promise<void>
  stop(): Promise<void>
  /** request/response over a fresh stream */
  send(peer: string, protocol: string, request: Uint8Array, opts?: SendOptions): Promise<Uint8Array>
  /** serve requests on `protocol`; AlreadyRegisteredError if one is registered */
  handle(protocol: string, handler: RequestHandler, opts?: HandleOptions): Promise<void>
  unhandle(protocol: string): Promise<void>
  publish(topic: string, data: Uint8Array): Promise<PublishResult>
  /** one subscription per topic; returns the unsubscribe function */
  subscribe(topic: string, validator: TopicValidator, onMessage: MessageHandler, opts?: SubscribeOptions): () => void
  /** peers we are connected to */
  peers(): string[]
  /** connected peers known to be subscribed to `topic` */
  topicPeers(topic: string): string[]
  /**
   * listen for connected peers becoming subscribed to `topic` (a remote subscription
   * seen, or a link to a subscribed peer opened); returns the remover
   */
  onTopicPeer(topic: string, listener: TopicPeerListener): () => void
  /** listen for provable misbehaviour (feeds reputation); returns the remover */
  onMisbehaviour(listener: MisbehaviourListener): () => void
  /**
   * Stop talking to `peer` until `untilMs` (ms since the epoch): close its
   * connections, refuse new ones both ways, refuse its requests and drop its
   * gossip. A later call extends or shortens the ban; `untilMs` in the past lifts it.
   */
  ban(peer: string, untilMs: number): Promise<void>
  /** whether `peer` is banned now */
  isBanned(peer: string): boolean
  /** multiaddrs this node knows for `peer` (from identify, discovery or learnAddresses), at most 16 */
  knownAddresses(peer: string): Promise<string[]>
  /** remember multiaddrs for `peer` (e.g. told by a neighbour); invalid ones are skipped */
  learnAddresses(peer: string, addresses: string[]): Promise<void>
}
