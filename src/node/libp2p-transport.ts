/**
 * The Transport (transport.ts) over a real libp2p node: requests go over
 * stream-rpc.ts (Noise-encrypted, Yamux-multiplexed streams), gossip over
 * gossip.ts (gossipsub). Peer names map to PeerIds without lookup (peer-name.ts);
 * addresses come from bootstrap, pubsub discovery, identify, or `dial`.
 */
import './polyfills.ts'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import { InvalidParametersError } from '../util/errors.ts'
import { PeerUnreachableError, TransportNotStartedError } from './errors.ts'
import { createTesseraLibp2p, type TesseraLibp2p, type TesseraLibp2pOptions, type WireMeter } from './libp2p.ts'
import { assertPeerName, peerIdFromPeerName, peerNameFromPeerId } from './peer-name.ts'
import type {
  HandleOptions, MessageHandler, Misbehaviour, MisbehaviourListener, PublishResult, RequestHandler,
  SendOptions, SubscribeOptions, TopicPeerListener, TopicValidator, Transport
} from './transport.ts'

export class Libp2pTransport implements Transport {
  readonly node: TesseraLibp2p
  readonly self: string
  /** raw bytes sent and received on this node's connections (libp2p.ts WireMeter) */
  readonly wire: Readonly<WireMeter>
  private readonly listeners = new Set<MisbehaviourListener>()
  private readonly detach: Array<() => void> = []

  /**
   * `bans`: libp2p peer id string -> ban end (ms since the epoch); the node's connection gater
   * must read the same map (create() wires both), or a ban only hangs up.
   */
  constructor (node: TesseraLibp2p, wire: WireMeter = { sent: 0, received: 0 }, bans = new Map<string, number>()) {
    this.bans = bans
    this.node = node
    this.wire = wire
    const name = peerNameFromPeerId(node.peerId)
    if (name === undefined) throw new InvalidParametersError('a Tessera peer must have an Ed25519 PeerId')
    this.self = name
    const fanOut = (peer: string, reason: Misbehaviour): void => {
      for (const l of this.listeners) {
        try { l(peer, reason) } catch { /* listeners must not break the transport */ }
      }
    }
    this.detach.push(node.services.gossip.onMisbehaviour(fanOut))
    this.detach.push(node.services.rpc.onMisbehaviour((peer: PeerId, reason) => { fanOut(peerNameFromPeerId(peer) ?? peer.toString(), reason) }))
  }

  /** Build a libp2p node with createTesseraLibp2p and wrap it (not started). */
  static async create (options: Partial<TesseraLibp2pOptions> & Pick<TesseraLibp2pOptions, 'privateKey' | 'netId'>): Promise<Libp2pTransport> {
    const wire: WireMeter = { sent: 0, received: 0 }
    const bans = new Map<string, number>()
    return new Libp2pTransport(await createTesseraLibp2p(options, wire, {
      denied: (peerId) => { const until = bans.get(peerId); return until !== undefined && until > Date.now() }
    }), wire, bans)
  }

  private readonly bans: Map<string, number>

  async ban (peer: string, untilMs: number): Promise<void> {
    assertPeerName(peer)
    if (!Number.isFinite(untilMs)) throw new InvalidParametersError(`untilMs must be finite, got ${String(untilMs)}`)
    const id = peerIdFromPeerName(peer).toString()
    if (untilMs <= Date.now()) { this.bans.delete(id); return }
    this.bans.set(id, untilMs)
    if (this.node.status === 'started') await this.node.hangUp(peerIdFromPeerName(peer)).catch(() => undefined)
  }

  async knownAddresses (peer: string): Promise<string[]> {
    let id
    try { id = peerIdFromPeerName(peer) } catch { return [] }
    try {
      // The peer store holds what identify reported (the remote's listen addresses), not the
      // ephemeral source port of an inbound connection.
      const p = await this.node.peerStore.get(id)
      return [...new Set(p.addresses.map(a => a.multiaddr.toString()))].slice(0, 16)
    } catch { return [] }
  }

  async learnAddresses (peer: string, addresses: string[]): Promise<void> {
    assertPeerName(peer)
    if (!Array.isArray(addresses)) throw new InvalidParametersError('addresses must be an array of multiaddrs')
    const id = peerIdFromPeerName(peer)
    const mas = []
    for (const a of addresses.slice(0, 16)) {
      if (typeof a !== 'string' || a.length > 512) continue
      try {
        const m = multiaddr(a)
        // Only transport addresses; a /p2p suffix must name this very peer.
        const p2p = m.getComponents().find(c => c.name === 'p2p')?.value
        if (p2p !== undefined && p2p !== id.toString()) continue
        mas.push(p2p === undefined ? m : m.decapsulateCode(421))
      } catch { /* not a multiaddr: skipped */ }
    }
    if (mas.length > 0) await this.node.peerStore.merge(id, { multiaddrs: mas })
  }

  isBanned (peer: string): boolean {
    let id: string
    try { id = peerIdFromPeerName(peer).toString() } catch { return false }
    const until = this.bans.get(id)
    return until !== undefined && until > Date.now()
  }

  async start (): Promise<void> { await this.node.start() }

  async stop (): Promise<void> {
    await this.node.stop()
  }

  private requireStarted (): void {
    if (this.node.status !== 'started') throw new TransportNotStartedError()
  }

  async send (peer: string, protocol: string, request: Uint8Array, opts?: SendOptions): Promise<Uint8Array> {
    this.requireStarted()
    assertPeerName(peer)
    if (peer === this.self) throw new PeerUnreachableError(peer, 'cannot send a request to ourselves')
    return await this.node.services.rpc.request(peerIdFromPeerName(peer), protocol, request, opts)
  }

  async handle (protocol: string, handler: RequestHandler, opts?: HandleOptions): Promise<void> {
    await this.node.services.rpc.handle(protocol, handler, opts)
  }

  async unhandle (protocol: string): Promise<void> {
    await this.node.services.rpc.unhandle(protocol)
  }

  async publish (topic: string, data: Uint8Array): Promise<PublishResult> {
    this.requireStarted()
    return await this.node.services.gossip.publish(topic, data)
  }

  subscribe (topic: string, validator: TopicValidator, onMessage: MessageHandler, opts?: SubscribeOptions): () => void {
    return this.node.services.gossip.subscribe(topic, validator, onMessage, opts)
  }

  peers (): string[] {
    return names(this.node.getPeers())
  }

  topicPeers (topic: string): string[] {
    if (this.node.status !== 'started') return []
    return names(this.node.services.gossip.topicPeers(topic))
  }

  onTopicPeer (topic: string, listener: TopicPeerListener): () => void {
    return this.node.services.gossip.onTopicPeer(topic, listener)
  }

  onMisbehaviour (listener: MisbehaviourListener): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** Our listen addresses, each ending in /p2p/<peer id>. */
  addresses (): string[] {
    return this.node.getMultiaddrs().map((a) => a.toString())
  }

  /** Connect to a peer by multiaddr (with /p2p/); returns its peer name. */
  async dial (address: string, opts: { signal?: AbortSignal } = {}): Promise<string> {
    this.requireStarted()
    let ma
    try { ma = multiaddr(address) } catch (err) { throw new InvalidParametersError(`'${address}' is not a multiaddr: ${(err as Error).message}`) }
    try {
      const conn = await this.node.dial(ma, { signal: opts.signal ?? AbortSignal.timeout(10_000) })
      const name = peerNameFromPeerId(conn.remotePeer)
      if (name === undefined) { await conn.close(); throw new PeerUnreachableError(address, 'remote is not an Ed25519 peer') }
      return name
    } catch (err) {
      if ((err as Error).name === 'PeerUnreachableError') throw err
      throw new PeerUnreachableError(address, `cannot dial ${address}: ${(err as Error).message}`, { cause: err })
    }
  }

  /**
   * Open a connection to `peer` (by name, from the addresses the peer store
   * knows) without sending anything, so that a later deadline-bound request
   * finds it open. Why: a connection costs 26-42 ms of CPU and, when the
   * contributors of a round all dial the same m committee members at once,
   * 2-6 s of latency at 20-40 peers on a loaded machine (bench/round-dial.ts);
   * inside a 3 s share deadline that loses shares. The committee of round r is
   * known from checkpoint r-1, so the connections can be opened before the share
   * phase. Resolves true if a connection is open, false if the peer is banned,
   * unknown or unreachable (never throws for those); a malformed name is an
   * InvalidPeerNameError.
   */
  async connect (peer: string, opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    this.requireStarted()
    assertPeerName(peer)
    if (peer === this.self || this.isBanned(peer)) return false
    const id = peerIdFromPeerName(peer)
    if (this.node.getConnections(id).some(c => c.status === 'open')) return true
    try {
      await this.node.dial(id, { signal: opts.signal ?? AbortSignal.timeout(10_000) })
      return true
    } catch {
      return false
    }
  }

  /** Close our connections to a peer. */
  async hangUp (peer: string): Promise<void> {
    assertPeerName(peer)
    await this.node.hangUp(peerIdFromPeerName(peer))
  }
}

function names (ids: PeerId[]): string[] {
  const out: string[] = []
  for (const id of ids) {
    const n = peerNameFromPeerId(id)
    if (n !== undefined) out.push(n)
  }
  return out
}
