/**
 * The libp2p node of a Tessera peer on Node (DESIGN "Transports"):
 *
 *   transports   TCP + WebSockets listeners (browsers dial the WebSockets one)
 *   encryption   Noise XX (libp2p noise spec), authenticating the Ed25519 PeerId
 *   muxer        Yamux
 *   services     identify; gossipsub (StrictSign, topic validators, network-scoped
 *                allowed topics) as `pubsub`; Tessera gossip (gossip.ts) and stream
 *                RPC (stream-rpc.ts); circuit relay v2 server, so browsers can
 *                reserve a slot and be reached through this peer (the relay
 *                forwards Noise ciphertext only)
 *   discovery    bootstrap list + pubsub peer discovery on the network's own topic
 *
 * Connection limits are sized for ~100 peers on one machine: every peer shares
 * 127.0.0.1, so libp2p's per-host inbound rate limit (5/s by default) would
 * throttle a local network; it is raised here.
 *
 * Import './polyfills.ts' before this module (it does so itself, first).
 */
import './polyfills.ts'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, type Identify } from '@libp2p/identify'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayServer, type CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { pubsubPeerDiscovery } from '@libp2p/pubsub-peer-discovery'
import { gossipsub, type GossipSub, type SubscriptionChangeData } from '@libp2p/gossipsub'
import { isPrivateKey, type MultiaddrConnection, type PeerDiscovery, type PrivateKey, type Transport as Libp2pTransportModule, type Upgrader } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { Uint8ArrayList } from 'uint8arraylist'
import { InvalidParametersError } from '../util/errors.ts'
import { meshKeeper, type MeshKeeper } from './mesh-keeper.ts'
import { tesseraGossip, gossipConfig, type GossipInit, type GossipService } from './gossip.ts'
import { fastNoiseCrypto, quietNoise } from './noise-crypto.ts'
import { streamRpc, streamRpcConfig, type StreamRpcInit, type StreamRpc } from './stream-rpc.ts'
import { isNetworkId, networkProtocols } from './protocol-ids.ts'

export interface TesseraLibp2pOptions {
  /** the peer's Ed25519 key (identity.ts) */
  privateKey: PrivateKey
  /** network id (protocol-ids.ts): scopes topics and discovery */
  netId: string
  /** TCP listen multiaddrs */
  listenTcp: string[]
  /** WebSockets listen multiaddrs (ending in /ws) */
  listenWs: string[]
  /** addresses to announce instead of the listen addresses (e.g. behind NAT) */
  announce: string[]
  /** bootstrap peers: multiaddrs ending in /p2p/<peer id> */
  bootstrap: string[]
  /** find peers through the network's discovery topic */
  pubsubDiscovery: boolean
  discoveryIntervalMs: number
  /** act as a circuit relay v2 server (for browsers) */
  relayServer: boolean
  maxRelayReservations: number
  /** connection manager limits */
  maxConnections: number
  maxIncomingPendingConnections: number
  /** max inbound connections per second from one host */
  inboundConnectionThreshold: number
  maxParallelDials: number
  dialTimeoutMs: number
  /**
   * libp2p's connection monitor pings every connection every `pingIntervalMs` and aborts it when
   * the ping fails or takes longer than `pingTimeoutMs` (libp2p's defaults: 10 s, at least 5 s).
   * 0 turns the monitor off, the default: on a busy process a ping waits for the event loop, not
   * the network, and the monitor aborted ~every connection of a 70-peer network in round 1 (see
   * "Connections at scale" in docs/architecture/peer.md). A dead peer still loses its connection:
   * a FIN or RST when its process ends, and when its machine vanishes the kernel's retransmission
   * timeout on the Yamux keep-alive pings (every 30 s).
   */
  pingIntervalMs: number
  pingTimeoutMs: number
  /**
   * Keep a connection open to up to this many known peers (mesh keeper, below): the round's
   * direct sends then find their connection open instead of dialling ~N x m cold connections to a
   * new committee every round. 0 turns the keeper off.
   */
  keepConnected: number
  /** dials the mesh keeper has in flight at most */
  keepConnectedConcurrency: number
  /** how often the mesh keeper looks for known peers it is not connected to (ms) */
  keepConnectedIntervalMs: number
  /** gossipsub heartbeat (ms) during start-up (`heartbeatStartupMs`), while meshes form */
  heartbeatIntervalMs: number
  /**
   * gossipsub heartbeat (ms) after start-up; the interval used is the larger of
   * this and `heartbeatIntervalMs`. The heartbeat maintains meshes, emits IHAVE
   * gossip and shifts the message cache (gossipsub v1.0 spec, "Heartbeat"); once
   * meshes stand, a fast one only costs CPU (4% of a 30-peer round at 200 ms).
   */
  heartbeatSteadyIntervalMs: number
  /** how long after start the start-up heartbeat runs (ms) */
  heartbeatStartupMs: number
  /** gossipsub flood publishing (own messages to every subscriber instead of the mesh) */
  floodPublish: boolean
  /**
   * gossipsub mesh degree D and its bounds [Dlo, Dhi] (gossipsub v1.0 spec,
   * "Parameters"). Every message crosses each mesh link once, so a network of N
   * carries about N x D copies of each message.
   */
  mesh: { D: number, Dlo: number, Dhi: number }
  /**
   * IP addresses exempt from gossipsub's IP colocation penalty (peer score P6,
   * gossipsub v1.1 §"Peer Scoring"): beyond 10 peers on one address every one
   * of them scores -5 x surplus^2, below the gossip and publish thresholds.
   */
  ipColocationWhitelist: string[]
  /**
   * Yamux initial receive window per stream (bytes; the protocol's default is
   * 256 KiB, Yamux spec "Flow Control"). A request larger than the window (an
   * MLP share is 407 KB) stalls for a window update from the receiver, i.e. for
   * a turn of the receiver's event loop, once per window; a window that holds
   * the whole request costs one such round trip at the stream's start at most.
   */
  streamWindowBytes: number
  /** topics gossipsub accepts at all; default: every topic of the network */
  allowedTopics: string[] | undefined
  gossip: Partial<GossipInit>
  rpc: Partial<StreamRpcInit>
}

export const LIBP2P_DEFAULTS: Readonly<Omit<TesseraLibp2pOptions, 'privateKey' | 'netId'>> = Object.freeze({
  listenTcp: ['/ip4/127.0.0.1/tcp/0'],
  listenWs: ['/ip4/127.0.0.1/tcp/0/ws'],
  announce: [],
  bootstrap: [],
  pubsubDiscovery: true,
  // Every peer's announcement reaches every peer about D times (gossipsub mesh): N^2 x D / interval
  // copies per second network-wide. At 10 s (the module's default) and 40 peers these were 3x all
  // round and ledger gossip together (73,000 of 96,000 copies one worker received in a 40-peer
  // benchmark). A peer still announces itself as soon as its first neighbour subscribes
  // (`announceOnFirstSubscriber`), so a newcomer is known at once; it learns the others' addresses
  // within one interval (or from bootstrap and identify).
  discoveryIntervalMs: 60_000,
  relayServer: true,
  maxRelayReservations: 32,
  maxConnections: 200,
  // Round 1 of a 100-peer network: every contributor dials the same m committee members at
  // once, so each member has ~N inbound handshakes pending together.
  maxIncomingPendingConnections: 256,
  inboundConnectionThreshold: 1000,
  maxParallelDials: 64,
  dialTimeoutMs: 10_000,
  // libp2p's defaults are 10 s and an adaptive timeout of at least 5 s (connection-monitor.js,
  // @libp2p/utils AdaptiveTimeout): in a 70-peer round 1, processes stalled by a burst of
  // handshakes, the monitor aborted 994 connections in 8 s (628 ping timeouts, 366 ping streams
  // the stalled remote closed); with a 60 s timeout it still aborted some (the latter kind).
  pingIntervalMs: 0,
  pingTimeoutMs: 60_000,
  // At most maxConnections - 50: room for inbound connections, browsers and relayed peers.
  // TESSERA_KEEP_CONNECTED overrides it (0 = off) for A/B runs of bench/round.ts, whose Peers
  // pass no value of their own; a bad value fails validation like any other.
  keepConnected: Number(process.env.TESSERA_KEEP_CONNECTED ?? 150),
  keepConnectedConcurrency: 2,
  keepConnectedIntervalMs: 2000,
  heartbeatIntervalMs: 1000,
  heartbeatSteadyIntervalMs: 700,
  heartbeatStartupMs: 10_000,
  floodPublish: false,
  // Below gossipsub's 6/4/12: meshes filled up to Dhi = 12, and forwarding those copies was the
  // largest single cost at 30 peers in one process (profile, bench/round.ts). Each first copy
  // arrives about D + 0.5 times (measured 4.5 at 4/3/6, 3.3-3.5 at 3/2/4: 22% fewer gossip copies
  // at 30 peers, every round completed; docs/architecture/benchmarks-round.md). D = 3 keeps a mesh
  // of N peers connected with diameter ~log_2 N; a lost link is repaired at the next heartbeat,
  // and IHAVE gossip to Dlazy non-mesh peers covers what a broken path missed.
  mesh: { D: 3, Dlo: 2, Dhi: 4 },
  // Loopback: a local network of more than 10 peers (tests, benchmarks, `npm start`) shares
  // 127.0.0.1; with the penalty every peer scored below zero, nobody grafted anybody, and gossip
  // stopped at 11+ peers (measured: no round completed at 20 peers).
  ipColocationWhitelist: ['127.0.0.1', '::1'],
  streamWindowBytes: 1024 * 1024,
  allowedTopics: undefined,
  gossip: {},
  rpc: {}
})

export interface TesseraServices {
  identify: Identify
  pubsub: GossipSub
  gossip: GossipService
  rpc: StreamRpc
  relay?: CircuitRelayService
  meshKeeper?: MeshKeeper
  [key: string]: unknown
}

export type TesseraLibp2p = Libp2p<TesseraServices>

/**
 * Bytes on the wire of one node: everything its TCP/WebSockets connections
 * carried (Noise frames, Yamux headers, multistream negotiation, gossipsub
 * control traffic and forwarding included), counted below the encryption, so
 * it is what a network link actually sees. DESIGN "What must be measured":
 * bytes per peer per round.
 */
export interface WireMeter {
  sent: number
  received: number
}

/** Sends up to this size are copied into one buffer before the socket write (see `metered`). */
const COALESCE_MAX_BYTES = 256 * 1024

/**
 * Gossipsub's de-duplication id computed before any verification (its
 * `fastMsgIdFn`). Without one, gossipsub checks the Ed25519 signature of every
 * copy of a message before it looks in its seen-cache, and with a mesh of
 * degree D every message arrives up to D times: in a 10-peer round these
 * duplicate verifications were 10-14% of all CPU. The id is the topic plus the
 * signature bytes. An entry enters the cache only after its message passed
 * validation, so a forged copy (same signature, other bytes) is at worst
 * dropped as a duplicate of a message already delivered; it can never make a
 * valid message look seen (Ed25519 signatures are strongly unforgeable, RFC 8032
 * §5.1.7 with the canonical-S check). Unsigned messages (refused under
 * StrictSign anyway) fall back to topic, sender and seqno.
 */
export function fastMessageId (msg: { topic: string, signature?: Uint8Array, from?: Uint8Array, seqno?: Uint8Array }): string {
  const bin = (b: Uint8Array | undefined): string => b === undefined ? '' : String.fromCharCode.apply(null, b as unknown as number[])
  return msg.signature !== undefined && msg.signature.length > 0
    ? `s/${msg.topic}/${bin(msg.signature)}`
    : `u/${msg.topic}/${bin(msg.from)}/${bin(msg.seqno)}`
}

/**
 * Wrap a libp2p transport factory so that every connection it dials or accepts
 * counts its raw bytes into `meter`. The counting hooks the multiaddr
 * connection (the layer under Noise) through the upgrader handed to the
 * transport; nothing else changes.
 */
function metered (factory: (components: any) => Libp2pTransportModule, meter: WireMeter): (components: any) => Libp2pTransportModule {
  const track = (maConn: MultiaddrConnection): void => {
    const m = maConn as unknown as { sendData: (d: { byteLength: number }) => { sentBytes: number }, onData: (d: { byteLength: number }) => void, socket?: unknown }
    const send = m.sendData.bind(maConn)
    const recv = m.onData.bind(maConn)
    const socket = m.socket as { cork?: () => void, uncork?: () => void, destroyed?: boolean } | undefined
    if (socket !== undefined && typeof socket.cork === 'function' && typeof socket.uncork === 'function') {
      // TCP: cork the socket for the rest of this tick, so every frame written to this connection
      // in the same tick (Noise [length, ciphertext] pairs, Yamux headers, bodies and window
      // updates of several streams, gossipsub forwards) leaves in one writev instead of one write
      // syscall each (socket writes were 6.5% of a 40-peer round's CPU in a profile, yamux window
      // updates 5%). Node's cork/uncork: https://nodejs.org/api/stream.html#writablecork
      let corked = false
      const uncork = (): void => { corked = false; if (socket.destroyed !== true) socket.uncork!() }
      m.sendData = (d) => {
        if (!corked) { corked = true; socket.cork!(); process.nextTick(uncork) }
        const r = send(d)
        meter.sent += r.sentBytes
        return r
      }
    } else {
      // Other transports (WebSockets): one write per send instead of one per buffer (Noise hands
      // down [length, ciphertext] pairs and Yamux [header, body] pairs); copying a few KiB is cheaper.
      m.sendData = (d) => {
        const list = d as unknown as Uint8ArrayList
        const r = send(list.byteLength <= COALESCE_MAX_BYTES ? new Uint8ArrayList(list.subarray()) as any : d)
        meter.sent += r.sentBytes
        return r
      }
    }
    m.onData = (d) => { meter.received += d.byteLength; recv(d) }
  }
  const wrap = (u: Upgrader): Upgrader => new Proxy(u, {
    get (target, prop, receiver) {
      if (prop === 'upgradeInbound' || prop === 'upgradeOutbound') {
        const f = (target as any)[prop] as (c: MultiaddrConnection, o: unknown) => Promise<unknown>
        return async (maConn: MultiaddrConnection, o: unknown) => { track(maConn); return await f.call(target, maConn, o) }
      }
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    }
  })
  return (components) => {
    const t = factory(components)
    const dial = t.dial.bind(t)
    const createListener = t.createListener.bind(t)
    t.dial = async (ma, o) => await dial(ma, { ...o, upgrader: wrap(o.upgrader) })
    t.createListener = (o) => createListener({ ...o, upgrader: wrap(o.upgrader) })
    return t
  }
}

function int (name: string, v: unknown, lo: number, hi: number): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < lo || v > hi) throw new InvalidParametersError(`${name} must be an integer in [${lo}, ${hi}], got ${String(v)}`)
}

function addrs (name: string, v: unknown, check: (a: string) => string | undefined): void {
  if (!Array.isArray(v) || v.length > 64) throw new InvalidParametersError(`${name} must be an array of at most 64 multiaddrs`)
  for (const a of v) {
    if (typeof a !== 'string') throw new InvalidParametersError(`${name}: ${String(a)} is not a string`)
    let ma
    try { ma = multiaddr(a) } catch (err) { throw new InvalidParametersError(`${name}: '${a}' is not a multiaddr: ${(err as Error).message}`) }
    const problem = check(ma.toString())
    if (problem !== undefined) throw new InvalidParametersError(`${name}: '${a}' ${problem}`)
  }
}

/** Defaults, merge, validate (House style 7). */
export function libp2pConfig (options: Partial<TesseraLibp2pOptions> & Pick<TesseraLibp2pOptions, 'privateKey' | 'netId'>): TesseraLibp2pOptions {
  const c: TesseraLibp2pOptions = { ...LIBP2P_DEFAULTS, ...options }
  if (!isPrivateKey(c.privateKey) || c.privateKey.type !== 'Ed25519') throw new InvalidParametersError('privateKey must be a libp2p Ed25519 private key')
  if (!isNetworkId(c.netId)) throw new InvalidParametersError(`netId must be 16 lowercase hex characters, got '${String(c.netId).slice(0, 40)}'`)
  addrs('listenTcp', c.listenTcp, (a) => /\/tcp\/\d+$/.test(a) ? undefined : 'must be /ip4|ip6/<host>/tcp/<port>')
  addrs('listenWs', c.listenWs, (a) => /\/tcp\/\d+\/wss?$/.test(a) ? undefined : 'must end in /tcp/<port>/ws')
  addrs('announce', c.announce, () => undefined)
  addrs('bootstrap', c.bootstrap, (a) => /\/p2p\/[A-Za-z0-9]+$/.test(a) ? undefined : 'must end in /p2p/<peer id>')
  if (c.listenTcp.length + c.listenWs.length === 0) throw new InvalidParametersError('at least one listen address is needed')
  if (typeof c.pubsubDiscovery !== 'boolean') throw new InvalidParametersError('pubsubDiscovery must be a boolean')
  if (typeof c.relayServer !== 'boolean') throw new InvalidParametersError('relayServer must be a boolean')
  if (typeof c.floodPublish !== 'boolean') throw new InvalidParametersError('floodPublish must be a boolean')
  if (c.mesh === null || typeof c.mesh !== 'object') throw new InvalidParametersError('mesh must be { D, Dlo, Dhi }')
  int('mesh.Dlo', c.mesh.Dlo, 1, 100)
  int('mesh.D', c.mesh.D, c.mesh.Dlo, 100)
  int('mesh.Dhi', c.mesh.Dhi, c.mesh.D, 200)
  if (!Array.isArray(c.ipColocationWhitelist) || c.ipColocationWhitelist.length > 1024 || c.ipColocationWhitelist.some((a) => typeof a !== 'string' || a.length === 0 || a.length > 64)) {
    throw new InvalidParametersError('ipColocationWhitelist must be an array of at most 1024 IP address strings')
  }
  int('discoveryIntervalMs', c.discoveryIntervalMs, 100, 3_600_000)
  int('maxRelayReservations', c.maxRelayReservations, 0, 10_000)
  int('maxConnections', c.maxConnections, 1, 100_000)
  int('maxIncomingPendingConnections', c.maxIncomingPendingConnections, 1, 10_000)
  int('inboundConnectionThreshold', c.inboundConnectionThreshold, 1, 1_000_000)
  int('maxParallelDials', c.maxParallelDials, 1, 10_000)
  int('dialTimeoutMs', c.dialTimeoutMs, 100, 600_000)
  if (c.pingIntervalMs !== 0) int('pingIntervalMs', c.pingIntervalMs, 100, 3_600_000)
  int('pingTimeoutMs', c.pingTimeoutMs, 100, 3_600_000)
  int('keepConnected', c.keepConnected, 0, c.maxConnections)
  int('keepConnectedConcurrency', c.keepConnectedConcurrency, 1, 64)
  int('keepConnectedIntervalMs', c.keepConnectedIntervalMs, 50, 3_600_000)
  int('heartbeatIntervalMs', c.heartbeatIntervalMs, 50, 60_000)
  int('heartbeatSteadyIntervalMs', c.heartbeatSteadyIntervalMs, 50, 60_000)
  int('heartbeatStartupMs', c.heartbeatStartupMs, 0, 3_600_000)
  int('streamWindowBytes', c.streamWindowBytes, 256 * 1024, 16 * 1024 * 1024)
  if (c.allowedTopics !== undefined && (!Array.isArray(c.allowedTopics) || c.allowedTopics.some((t) => typeof t !== 'string' || t.length === 0))) {
    throw new InvalidParametersError('allowedTopics must be an array of non-empty strings')
  }
  // Validate the nested configs now, so a bad value fails here with its name.
  gossipConfig(c.gossip)
  streamRpcConfig(c.rpc)
  return c
}

/**
 * @libp2p/pubsub-peer-discovery broadcasts once when it starts, when gossipsub
 * knows no subscriber yet (so that broadcast is skipped), and then every
 * interval. Wrap it so that the peer also broadcasts once, shortly after the
 * first remote subscription to the discovery topic reaches it: with a long
 * interval a newcomer would otherwise stay unknown for a whole interval.
 */
function announceOnFirstSubscriber (factory: (components: any) => PeerDiscovery, topic: string): (components: any) => PeerDiscovery {
  return (components) => {
    const d = factory(components) as PeerDiscovery & { afterStart?: () => void, beforeStop?: () => void, _broadcast?: () => void, isStarted?: () => boolean }
    if (typeof d._broadcast !== 'function' || typeof d.afterStart !== 'function') return d
    // Services are built after peer discovery: look pubsub up at start (the components throw before).
    type Events = { addEventListener: (t: string, l: (e: any) => void) => void, removeEventListener: (t: string, l: (e: any) => void) => void }
    let pubsub: Events | undefined
    let done = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const onChange = (evt: CustomEvent<SubscriptionChangeData>): void => {
      if (done || !evt.detail.subscriptions.some((s) => s.subscribe && s.topic === topic)) return
      done = true
      pubsub?.removeEventListener('subscription-change', onChange)
      // Gossipsub opens its outbound stream to the new subscriber asynchronously: wait a moment.
      timer = setTimeout(() => { timer = undefined; if (d.isStarted?.() !== false) { try { d._broadcast!() } catch { /* stopped meanwhile */ } } }, 250)
    }
    const afterStart = d.afterStart.bind(d)
    d.afterStart = () => {
      afterStart()
      pubsub = components.pubsub as Events
      if (!done) pubsub.addEventListener('subscription-change', onChange)
    }
    const beforeStop = d.beforeStop?.bind(d)
    d.beforeStop = () => {
      pubsub?.removeEventListener('subscription-change', onChange)
      if (timer !== undefined) clearTimeout(timer)
      beforeStop?.()
    }
    return d
  }
}

/** Peers this node refuses to connect to, both ways (the transport's bans, local reputation). */
export interface PeerGate { denied: (peerId: string) => boolean }

/** Build (not start) the libp2p node of a Tessera peer. */
export async function createTesseraLibp2p (options: Partial<TesseraLibp2pOptions> & Pick<TesseraLibp2pOptions, 'privateKey' | 'netId'>, meter: WireMeter = { sent: 0, received: 0 }, gate?: PeerGate): Promise<TesseraLibp2p> {
  const c = libp2pConfig(options)
  const net = networkProtocols(c.netId)
  const allowedTopics = c.allowedTopics ?? net.allTopics
  const gossipCfg = gossipConfig({ ...c.gossip, allowedTopics })

  const peerDiscovery: Array<(components: any) => PeerDiscovery> = []
  if (c.bootstrap.length > 0) peerDiscovery.push(bootstrap({ list: c.bootstrap }))
  if (c.pubsubDiscovery) peerDiscovery.push(announceOnFirstSubscriber(pubsubPeerDiscovery({ interval: c.discoveryIntervalMs, topics: [net.topics.discovery.name] }), net.topics.discovery.name))

  const services: Record<string, (components: any) => unknown> = {
    identify: identify(),
    pubsub: gossipsub({
      globalSignaturePolicy: 'StrictSign',
      fallbackToFloodsub: false,
      emitSelf: false,
      allowPublishToZeroTopicPeers: true,
      doPX: false,
      fastMsgIdFn: fastMessageId,
      // Publish to the mesh (D peers), not to every subscriber: with flood publishing each of N
      // contributions went to all N - 1 peers and was then forwarded again, O(N^2) copies per round.
      floodPublish: c.floodPublish,
      D: c.mesh.D,
      Dlo: c.mesh.Dlo,
      Dhi: c.mesh.Dhi,
      // Dout (outbound mesh links kept) must stay below Dlo and at most D / 2.
      Dout: Math.min(c.mesh.Dlo - 1, Math.floor(c.mesh.D / 2)),
      scoreParams: { IPColocationFactorWhitelist: new Set(c.ipColocationWhitelist) },
      heartbeatInterval: c.heartbeatIntervalMs,
      maxInboundDataLength: gossipCfg.maxMessageBytes,
      allowedTopics
    }),
    gossip: tesseraGossip(gossipCfg),
    rpc: streamRpc(c.rpc)
  }
  if (c.relayServer) services.relay = circuitRelayServer({ reservations: { maxReservations: c.maxRelayReservations } })
  if (c.keepConnected > 0) services.meshKeeper = meshKeeper({ target: c.keepConnected, concurrency: c.keepConnectedConcurrency, intervalMs: c.keepConnectedIntervalMs, dialTimeoutMs: c.dialTimeoutMs }, gate)

  const node = await createLibp2p<TesseraServices>({
    start: false,
    privateKey: c.privateKey,
    addresses: { listen: [...c.listenTcp, ...c.listenWs], announce: c.announce },
    transports: [metered(tcp(), meter), metered(webSockets(), meter)],
    // Node crypto with key objects imported once per key instead of from DER per Diffie-Hellman
    // (noise-crypto.ts): ~5 ms -> ~0.6 ms of CPU per handshake side.
    // quietNoise: the module's Noise, minus one thrown-and-caught RangeError per TCP read (noise-crypto.ts).
    connectionEncrypters: [quietNoise({ crypto: fastNoiseCrypto })],
    streamMuxers: [yamux({ streamOptions: { initialStreamWindowSize: c.streamWindowBytes, maxStreamWindowSize: Math.max(c.streamWindowBytes, 16 * 1024 * 1024) } })],
    peerDiscovery,
    connectionManager: {
      maxConnections: c.maxConnections,
      maxIncomingPendingConnections: c.maxIncomingPendingConnections,
      inboundConnectionThreshold: c.inboundConnectionThreshold,
      maxParallelDials: c.maxParallelDials,
      dialTimeout: c.dialTimeoutMs,
      // libp2p aborts each address after 6 s by default, inside the dial's own timeout. A member
      // that 40 contributors dial at once (round 1) finishes those handshakes in 3-6 s on a busy
      // machine; aborting them wasted their CPU and brought a retry (bench/round-dial.ts: 110 of
      // 195 dials failed so at 40 peers, load ~18). A peer has one or two addresses here.
      addressDialTimeout: c.dialTimeoutMs
    },
    connectionMonitor: {
      enabled: c.pingIntervalMs > 0,
      pingInterval: c.pingIntervalMs,
      pingTimeout: { minTimeout: c.pingTimeoutMs, maxTimeout: Math.max(c.pingTimeoutMs, 2 * c.pingTimeoutMs) }
    },
    // Banned peers: no dial to them, no connection from them once they are identified.
    connectionGater: gate === undefined
      ? undefined
      : {
          denyDialPeer: (peerId: { toString: () => string }) => gate.denied(peerId.toString()),
          denyInboundEncryptedConnection: (peerId: { toString: () => string }) => gate.denied(peerId.toString()),
          denyOutboundEncryptedConnection: (peerId: { toString: () => string }) => gate.denied(peerId.toString())
        },
    services: services as any
  })
  slowHeartbeatAfterStartup(node, c)
  return node
}

/**
 * Switch gossipsub to the steady heartbeat `heartbeatStartupMs` after the node
 * starts. Gossipsub reads `opts.heartbeatInterval` when it schedules each next
 * heartbeat (gossipsub.js `runHeartbeat`), so changing it takes effect at the
 * next beat; the timer is cleared if the node stops first.
 */
function slowHeartbeatAfterStartup (node: TesseraLibp2p, c: TesseraLibp2pOptions): void {
  const steady = Math.max(c.heartbeatIntervalMs, c.heartbeatSteadyIntervalMs)
  if (steady === c.heartbeatIntervalMs) return
  let timer: ReturnType<typeof setTimeout> | undefined
  node.addEventListener('start', () => {
    timer = setTimeout(() => {
      const opts = (node.services.pubsub as unknown as { opts?: { heartbeatInterval?: number } }).opts
      if (opts !== undefined && typeof opts.heartbeatInterval === 'number') opts.heartbeatInterval = steady
    }, c.heartbeatStartupMs)
    timer.unref?.()
  })
  node.addEventListener('stop', () => {
    if (timer !== undefined) clearTimeout(timer)
    const opts = (node.services.pubsub as unknown as { opts?: { heartbeatInterval?: number } }).opts
    if (opts !== undefined) opts.heartbeatInterval = c.heartbeatIntervalMs
  })
}
