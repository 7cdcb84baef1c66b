/**
 * The libp2p node of a Tessera peer on Node (DESIGN "Transports"):
 *
 *   transports   TCP + WebSockets listeners (browsers dial the WebSockets one)
 *   encryption   Noise XX (libp2p noise spec), authenticating the Ed25519 PeerId
 *   muxer        Yamux
 *   services     identify; gossipsub (StrictNoSign: payloads authenticate their authors;
 *                topic validators, network-scoped
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
import { createHash } from 'node:crypto'
import { publicKeyFromProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { InvalidParametersError } from '../util/errors.ts'
import { meshKeeper, type MeshKeeper } from './mesh-keeper.ts'
import { tesseraGossip, gossipConfig, type GossipInit, type GossipService } from './gossip.ts'
import { fastNoiseCrypto, quietNoise } from './noise-crypto.ts'
import { streamRpc, streamRpcConfig, type StreamRpcInit, type StreamRpc } from './stream-rpc.ts'
import { isNetworkId, networkProtocols } from './protocol-ids.ts'
import { Validation, type GossipMessage, type ValidationResult } from './transport.ts'

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
   * IHAVE gossip fan-out (gossipsub v1.1 spec, "Parameters": D_lazy, gossip_factor): each heartbeat
   * a peer sends IHAVE, per topic with recent messages, to max(gossipLazy, gossipFactor x the
   * topic's connected non-mesh peers) of them. IHAVE/IWANT is the repair path of messages a mesh
   * path missed; delivery itself goes along the mesh.
   */
  gossipLazy: number
  gossipFactor: number
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
  // (`signedDiscovery`), so a newcomer is known at once; it learns the others' addresses
  // within one interval (or from bootstrap and identify).
  //
  // 300 s (was 60 s): with every peer connected to every other (mesh keeper), an announcement re-tells
  // addresses everybody already holds, yet each copy costs its receivers an Ed25519 verify and a
  // peer-store merge. That is N announcements per peer per interval whatever the round does: at 70
  // peers (82 s rounds on a loaded 2-core machine) ~100 per peer-round, 44 ms of Ed25519 verify and
  // ~60 ms of discovery/peer-store work per peer-round in a CPU profile (vs 4 ms at 40 peers; see
  // "CPU by area" in docs/architecture/benchmarks-round.md). A newcomer still announces itself at
  // its first subscriber, and identify carries a connected peer's address changes.
  discoveryIntervalMs: 300_000,
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
  // 1000 ms (was 700; gossipsub's own default is 1 s, v1.0 spec "Parameters"): the heartbeat walks
  // every topic's peers (N of them, everyone is connected) and flushes IHAVE; 1.2 ms of CPU per beat
  // and peer at 70 peers, 136 ms per peer-round (82 s rounds), the largest time-driven cost of the
  // profile ("CPU by area", docs/architecture/benchmarks-round.md). Messages travel along the mesh
  // as they come, not at heartbeats.
  heartbeatSteadyIntervalMs: 1000,
  heartbeatStartupMs: 10_000,
  floodPublish: false,
  // gossip_factor 0 (gossipsub's default 0.25): IHAVE to D_lazy = 6 non-mesh peers per topic and
  // heartbeat instead of 25% of them. With every peer connected to every other, 0.25 meant ~17 IHAVE
  // targets per topic at 70 peers (~24 at 100), most of them separate RPCs (an encrypted write each)
  // carrying ids the receiver already saw from its mesh: the heartbeat's flush was 88 of its 136 ms
  // per peer-round at 70 peers. 6 random non-mesh peers per heartbeat keep the repair path (each
  // missed message is offered by every peer that has it, at each of 3 gossip heartbeats).
  gossipLazy: 6,
  gossipFactor: 0,
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
 * Gossipsub message id (its `msgIdFn`) under StrictNoSign: the first 20 bytes of
 * SHA-256(decimal byte length of topic || ':' || topic || data), node's native
 * SHA-256. Gossipsub records an id in its seen-cache (and its fast-id cache)
 * BEFORE the topic validator runs, so a forged message whose id equals a valid
 * message's id would make that valid message a "duplicate" if it arrived first.
 * With unsigned envelopes the id must therefore bind the whole content: a second
 * preimage of a 160-bit truncated SHA-256 (FIPS 180-4; truncation per NIST
 * SP 800-107 §5.1) is out of reach, and a collision (2^80) only lets an attacker
 * shadow one of its own messages with another of its own. The topic is inside
 * the hash, so a copy replayed on another topic (rejected there) cannot shadow
 * the original. No `fastMsgIdFn`: without signatures to skip, a duplicate costs
 * one hash either way.
 */
export function gossipMessageId (msg: { topic: string, data?: Uint8Array }): Uint8Array {
  const d = createHash('sha256').update(`${Buffer.byteLength(msg.topic)}:${msg.topic}`).update(msg.data ?? new Uint8Array(0)).digest()
  return new Uint8Array(d.buffer, d.byteOffset, MESSAGE_ID_BYTES)
}

const MESSAGE_ID_BYTES = 20

/**
 * Gossipsub's message id -> map key (its `msgIdToStrFn`): one Latin-1 character
 * per byte, injective, made natively. The default (base64 through uint8arrays)
 * was 60 MB of allocation in IHAVE handling per measured 10-peer benchmark run.
 */
export function messageIdToKey (id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('latin1')
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
  // At least one IHAVE target: without gossip a message a mesh path lost is only found by catch-up.
  int('gossipLazy', c.gossipLazy, 1, 100)
  if (typeof c.gossipFactor !== 'number' || !Number.isFinite(c.gossipFactor) || c.gossipFactor < 0 || c.gossipFactor > 1) throw new InvalidParametersError(`gossipFactor must be a number in [0, 1], got ${String(c.gossipFactor)}`)
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

// ---- signed discovery announcements (topic peer/discovery/2) ---------------------------------

/**
 * A discovery announcement is @libp2p/pubsub-peer-discovery's Peer protobuf (field 1 the
 * announced peer's public key, field 2 its multiaddrs) followed by field 3, the time of
 * announcement (ms since the epoch, varint), and field 4, the announced peer's Ed25519
 * signature (RFC 8032) of
 *
 *   "tessera/discovery/v2" || 0x00 || topic || 0x00 || the bytes of fields 1-3
 *
 * in that order, each of fields 1, 3 and 4 exactly once. The module's decoder skips fields
 * 3 and 4, so it reads our announcements unchanged. With unsigned gossip envelopes this is
 * what makes an announcement authentic: it names the peer that signed it, so nobody can
 * announce addresses for another peer (under StrictSign anyone could: the module never
 * compared the announced key with the envelope's signer). The topic in the signed bytes
 * keeps an announcement to one network; the time lets a replay of old addresses be ignored.
 */
const DISCOVERY_DOMAIN = new TextEncoder().encode('tessera/discovery/v2\0')
export const DISCOVERY_LIMITS = Object.freeze({
  maxKeyBytes: 64,
  maxAddrs: 32,
  maxAddrBytes: 512,
  /** announcements older than this (ms) are ignored (a replay, or a clock far behind) */
  maxAgeMs: 10 * 60_000,
  /** ... and so are those this far (ms) in the future */
  maxSkewMs: 2 * 60_000
})

function pbVarint (out: number[], v: number): void {
  while (v >= 0x80) { out.push((v % 0x80) | 0x80); v = Math.floor(v / 0x80) }
  out.push(v)
}

function pbBytes (out: number[], field: number, b: Uint8Array): void {
  pbVarint(out, (field << 3) | 2)
  pbVarint(out, b.length)
  for (let i = 0; i < b.length; i++) out.push(b[i]!)
}

function discoverySigningBytes (topic: string, body: Uint8Array): Uint8Array {
  const t = new TextEncoder().encode(topic)
  const out = new Uint8Array(DISCOVERY_DOMAIN.length + t.length + 1 + body.length)
  out.set(DISCOVERY_DOMAIN, 0)
  out.set(t, DISCOVERY_DOMAIN.length)
  out[DISCOVERY_DOMAIN.length + t.length] = 0
  out.set(body, DISCOVERY_DOMAIN.length + t.length + 1)
  return out
}

/** The signed announcement of `privateKey`'s peer at `addrs` (multiaddr bytes) on `topic`. */
export async function encodeDiscoveryAnnouncement (topic: string, privateKey: PrivateKey, addrs: Uint8Array[], atMs: number): Promise<Uint8Array> {
  const body: number[] = []
  pbBytes(body, 1, publicKeyToProtobuf(privateKey.publicKey))
  for (const a of addrs.slice(0, DISCOVERY_LIMITS.maxAddrs)) pbBytes(body, 2, a)
  pbVarint(body, (3 << 3) | 0)
  pbVarint(body, Math.max(0, Math.floor(atMs)))
  const bodyBytes = Uint8Array.from(body)
  const sig = await privateKey.sign(discoverySigningBytes(topic, bodyBytes))
  const out = [...body]
  pbBytes(out, 4, sig)
  return Uint8Array.from(out)
}

/** Why an announcement is refused; `stale` ones are ignored, anything else is provably bad. */
export type DiscoveryVerdict = { ok: true, peer: string } | { ok: false, stale: boolean, why: string }

/** Check one announcement (bytes already under the topic cap): shape, key, signature, age. */
export function verifyDiscoveryAnnouncement (topic: string, data: Uint8Array, nowMs: number): DiscoveryVerdict {
  const bad = (why: string): DiscoveryVerdict => ({ ok: false, stale: false, why })
  let pos = 0
  const varint = (): number | undefined => {
    let v = 0
    let mul = 1
    for (let i = 0; i < 8; i++) {
      if (pos >= data.length) return undefined
      const b = data[pos++]!
      v += (b & 0x7f) * mul
      if (b < 0x80) return Number.isSafeInteger(v) ? v : undefined
      mul *= 0x80
    }
    return undefined
  }
  const bytesOf = (max: number): Uint8Array | undefined => {
    const n = varint()
    if (n === undefined || n > max || pos + n > data.length) return undefined
    const b = data.subarray(pos, pos + n)
    pos += n
    return b
  }
  let key: Uint8Array | undefined
  let addrs = 0
  let at: number | undefined
  let bodyEnd = -1
  let sig: Uint8Array | undefined
  let last = 0
  while (pos < data.length) {
    const tag = varint()
    if (tag === undefined) return bad('bad tag')
    const field = Math.floor(tag / 8)
    // Canonical order (1, 2*, 3, 4), each singular field once: the signed body is then unambiguous.
    if (field < last || (field === last && field !== 2)) return bad('fields out of order or repeated')
    last = field
    if (field === 1 && tag === 0x0a) { key = bytesOf(DISCOVERY_LIMITS.maxKeyBytes); if (key === undefined) return bad('bad public key field') } else if (field === 2 && tag === 0x12) {
      if (++addrs > DISCOVERY_LIMITS.maxAddrs || bytesOf(DISCOVERY_LIMITS.maxAddrBytes) === undefined) return bad('bad or too many addresses')
    } else if (field === 3 && tag === 0x18) { at = varint(); if (at === undefined) return bad('bad time') } else if (field === 4 && tag === 0x22) {
      bodyEnd = pos - 1
      sig = bytesOf(64)
      if (sig === undefined || sig.length !== 64) return bad('bad signature field')
    } else return bad(`unexpected field ${field}`)
  }
  if (key === undefined || at === undefined || sig === undefined) return bad('unsigned announcement (wire 2 needs key, time and signature)')
  let pub
  try { pub = publicKeyFromProtobuf(key) } catch { return bad('not a public key') }
  if (pub.type !== 'Ed25519') return bad('not an Ed25519 key')
  let ok: boolean
  // Node's @libp2p/crypto verifies synchronously; anything but `true` (a Promise elsewhere) is no.
  try { ok = (pub.verify(discoverySigningBytes(topic, data.subarray(0, bodyEnd)), sig) as unknown) === true } catch { ok = false }
  if (!ok) return bad('bad signature')
  if (at < nowMs - DISCOVERY_LIMITS.maxAgeMs || at > nowMs + DISCOVERY_LIMITS.maxSkewMs) return { ok: false, stale: true, why: 'stale or future announcement' }
  return { ok: true, peer: pub.toString() }
}

/**
 * @libp2p/pubsub-peer-discovery, with signed announcements (above) and a topic validator
 * (through the gossip service, so a forged one is Rejected before delivery or forwarding
 * and charged to the neighbour that sent it) that lets only verified ones reach the
 * module. The module broadcasts once when it starts, when gossipsub knows no subscriber
 * yet (so that broadcast is skipped), and then every interval; the wrapper also
 * broadcasts once, shortly after the first remote subscription to the discovery topic
 * reaches it: with a long interval a newcomer would otherwise stay unknown for a whole
 * interval.
 */
function signedDiscovery (factory: (components: any) => PeerDiscovery, topic: string): (components: any) => PeerDiscovery {
  return (components) => {
    const d = factory(components) as PeerDiscovery & { afterStart?: () => void, beforeStop?: () => void, _broadcast?: () => void, isStarted?: () => boolean }
    if (typeof d._broadcast !== 'function' || typeof d.afterStart !== 'function') throw new Error('@libp2p/pubsub-peer-discovery changed: no _broadcast/afterStart to sign announcements with')
    // Services are built after peer discovery: look pubsub up at start (the components throw before).
    type Events = { addEventListener: (t: string, l: (e: any) => void) => void, removeEventListener: (t: string, l: (e: any) => void) => void }
    type Pub = Events & { getSubscribers: (t: string) => unknown[], publish: (t: string, d: Uint8Array) => Promise<unknown> }
    let pubsub: Pub | undefined
    let done = false
    let timer: ReturnType<typeof setTimeout> | undefined
    d._broadcast = () => {
      const ps = components.pubsub as Pub
      if (ps.getSubscribers(topic).length === 0) return
      const addrs = (components.addressManager.getAddresses() as Array<{ bytes: Uint8Array }>).map((ma) => ma.bytes)
      void encodeDiscoveryAnnouncement(topic, components.privateKey as PrivateKey, addrs, Date.now())
        .then(async (msg) => await ps.publish(topic, msg)).catch(() => undefined)
    }
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
      pubsub = components.pubsub as Pub
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

/** The discovery topic's validator (installed through the gossip service). */
export function discoveryValidator (m: GossipMessage): ValidationResult {
  const v = verifyDiscoveryAnnouncement(m.topic, m.data, Date.now())
  return v.ok ? Validation.Accept : v.stale ? Validation.Ignore : Validation.Reject
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
  if (c.pubsubDiscovery) peerDiscovery.push(signedDiscovery(pubsubPeerDiscovery({ interval: c.discoveryIntervalMs, topics: [net.topics.discovery.name] }), net.topics.discovery.name))

  const services: Record<string, (components: any) => unknown> = {
    identify: identify(),
    pubsub: gossipsub({
      // Unsigned envelopes (gossip wire 2, protocol-ids.ts GOSSIP_WIRE): every payload on our
      // topics authenticates its author itself (round messages and ledger entries carry their
      // authors' Ed25519 signatures, discovery announcements are signed by the announced peer:
      // `signedDiscovery`), and the topic validators verify those signatures before anything is
      // delivered or forwarded. Gossipsub's own signature was a second Ed25519 signature and
      // verification per message (4.8% of a 10-peer round's CPU with its per-message key import).
      globalSignaturePolicy: 'StrictNoSign',
      fallbackToFloodsub: false,
      emitSelf: false,
      allowPublishToZeroTopicPeers: true,
      doPX: false,
      msgIdFn: gossipMessageId,
      msgIdToStrFn: messageIdToKey,
      // Publish to the mesh (D peers), not to every subscriber: with flood publishing each of N
      // contributions went to all N - 1 peers and was then forwarded again, O(N^2) copies per round.
      floodPublish: c.floodPublish,
      D: c.mesh.D,
      Dlo: c.mesh.Dlo,
      Dhi: c.mesh.Dhi,
      // Dout (outbound mesh links kept) must stay below Dlo and at most D / 2.
      Dout: Math.min(c.mesh.Dlo - 1, Math.floor(c.mesh.D / 2)),
      Dlazy: c.gossipLazy,
      gossipFactor: c.gossipFactor,
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
  // The discovery module reads only what this validator accepted (gossipsub's 'message' event
  // follows validation); the no-op handler: the module listens itself.
  if (c.pubsubDiscovery) node.services.gossip.subscribe(net.topics.discovery.name, discoveryValidator, () => {}, { maxBytes: net.topics.discovery.maxBytes })
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
