/**
 * Protocol ids and gossip topic names of one Tessera network.
 *
 * DESIGN "The network charter": topic names and protocol ids derive from the
 * genesis hash, so two networks never mix. Scheme (one versioned id per message
 * family, House style 3):
 *
 *   netid            = hex(SHA-256("tessera/netid/v1" || genesisId)[0..8])   16 hex chars
 *   stream protocol  = /tessera/<netid>/<family>/<semver>   e.g. /tessera/0f3a…/round-share/1.0.0
 *   gossip topic     = /tessera/<netid>/g2/<suffix>         e.g. /tessera/0f3a…/g2/round/receipt/2
 *
 * `g2` is the gossip wire version (GOSSIP_WIRE): gossipsub envelopes carry no
 * signature, seqno or author (StrictNoSign); every payload authenticates its own
 * author (libp2p.ts, docs/architecture/network.md "Payload-authenticated gossip").
 * Wire 1 (no segment) used StrictSign envelopes; a wire-1 peer's topics are not
 * among a wire-2 peer's allowed topics, so gossipsub drops its subscriptions and
 * messages unread.
 *
 * The round protocol (src/gossip-fl/round/messages.ts) names its families
 * network-free (`/tessera/round-share/1.0.0`) and its topics by suffix
 * (`round/receipt/2`); `scopeProtocol` and `scopeTopic` put the netid in.
 *
 * `genesisId` is whatever bytes identify the genesis entry (its CID bytes or its
 * digest). Hashing it first makes the netid independent of that choice: CID
 * bytes start with constant version/codec prefixes, which a plain "first 8
 * bytes" would turn into the same netid for every network. 64 bits keep
 * accidental collisions negligible (birthday bound ~2^32 networks); they do not
 * stop a deliberate collision, which the ledger's genesis check catches anyway.
 *
 * Each family and topic carries its size cap here, so both ends of a stream and
 * every gossip validator enforce the same number. Pure module.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { InvalidParametersError } from '../util/errors.ts'

const KiB = 1024
const MiB = 1024 * KiB
/** One field vector of 2^22 u32 elements plus a 4 KiB header: the round's LIMITS.maxVectorBytes. */
export const VECTOR_CAP = 4 * 4_194_304 + 4096

/** Request/response families (bulk data over streams). Replies of the round families are acknowledgements. */
export const STREAM_FAMILIES = {
  /** contributor -> committee member: one Shamir share vector (DESIGN "A round" 2) */
  'round-share': { version: '1.0.0', maxRequestBytes: VECTOR_CAP, maxResponseBytes: 16 * KiB },
  /** member -> member: shares of zero that mask the norm points (DESIGN "A round" 3) */
  'round-zero': { version: '1.0.0', maxRequestBytes: VECTOR_CAP, maxResponseBytes: 16 * KiB },
  /** member -> member: share-sums per planned group (DESIGN "A round" 4) */
  'round-partial': { version: '3.0.0', maxRequestBytes: VECTOR_CAP, maxResponseBytes: 16 * KiB },
  /** fetch missing ledger entries by hash (DESIGN "The ledger", Sync) */
  'ledger-sync': { version: '1.0.0', maxRequestBytes: 64 * KiB, maxResponseBytes: 8 * MiB },
  /** fetch a model (or a round's published group sums) by hash */
  'model-fetch': { version: '1.0.0', maxRequestBytes: 4 * KiB, maxResponseBytes: 64 * MiB }
} as const

/**
 * Gossip topics (small signed messages). Gossipsub drops messages over about
 * 4 MiB without a word and floods every message to every subscriber, so caps
 * stay at 1 MiB or less.
 */
export const GOSSIP_TOPICS = {
  /** contribution entries: commitments to the shares (DESIGN "A round" 2) */
  contribution: { suffix: 'round/contribution/1', maxBytes: 64 * KiB },
  /** signed receipts with masked norm points (DESIGN "A round" 3) */
  receipt: { suffix: 'round/receipt/2', maxBytes: 1 * MiB },
  /** the leader's plan (DESIGN "A round" 3) */
  plan: { suffix: 'round/plan/1', maxBytes: 1 * MiB },
  /** checkpoint signatures (DESIGN "A round" 5) */
  checkpoint: { suffix: 'round/checkpoint/2', maxBytes: 1 * MiB },
  /** new ledger entries announced by hash (DESIGN "The ledger", Sync) */
  announce: { suffix: 'ledger/announce/1', maxBytes: 64 * KiB },
  /**
   * libp2p pubsub peer discovery, scoped to the network. 2: the module's Peer protobuf plus a
   * timestamp and the announced peer's own Ed25519 signature (libp2p.ts `signedDiscovery`)
   */
  discovery: { suffix: 'peer/discovery/2', maxBytes: 4 * KiB }
} as const

export type StreamFamily = keyof typeof STREAM_FAMILIES
export type GossipTopic = keyof typeof GOSSIP_TOPICS

/** Largest gossip message of any topic: the gossipsub-wide decode cap. */
export const MAX_GOSSIP_BYTES = Math.max(...Object.values(GOSSIP_TOPICS).map((t) => t.maxBytes))

export interface ProtocolSpec { id: string, maxRequestBytes: number, maxResponseBytes: number }
export interface TopicSpec { name: string, maxBytes: number }

export interface NetworkProtocols {
  netId: string
  protocols: Record<StreamFamily, ProtocolSpec>
  topics: Record<GossipTopic, TopicSpec>
  /** Every topic name of the network (gossipsub `allowedTopics`). */
  allTopics: string[]
}

/**
 * Gossip wire version, the first segment after the netid of every topic: 2 = unsigned gossipsub
 * envelopes, payloads that authenticate their authors (see the module comment).
 */
export const GOSSIP_WIRE = 'g2'

const DOMAIN = new TextEncoder().encode('tessera/netid/v1')

/** The 16-hex-character network id of a genesis identifier (see module comment). */
export function networkIdFromGenesis (genesisId: Uint8Array): string {
  if (!(genesisId instanceof Uint8Array) || genesisId.length < 16) {
    throw new InvalidParametersError(`genesis id must be at least 16 bytes (a hash or CID), got ${genesisId instanceof Uint8Array ? genesisId.length : typeof genesisId}`)
  }
  const input = new Uint8Array(DOMAIN.length + genesisId.length)
  input.set(DOMAIN, 0)
  input.set(genesisId, DOMAIN.length)
  const d = sha256(input)
  let s = ''
  for (let i = 0; i < 8; i++) s += d[i]!.toString(16).padStart(2, '0')
  return s
}

const NETID = /^[0-9a-f]{16}$/

export function isNetworkId (s: unknown): s is string {
  return typeof s === 'string' && NETID.test(s)
}

/** All protocol ids and topics of the network with id `netId`. */
export function networkProtocols (netId: string): NetworkProtocols {
  if (!isNetworkId(netId)) throw new InvalidParametersError(`network id must be 16 lowercase hex characters, got '${String(netId).slice(0, 40)}'`)
  const protocols = {} as Record<StreamFamily, ProtocolSpec>
  for (const [family, f] of Object.entries(STREAM_FAMILIES) as Array<[StreamFamily, (typeof STREAM_FAMILIES)[StreamFamily]]>) {
    protocols[family] = { id: `/tessera/${netId}/${family}/${f.version}`, maxRequestBytes: f.maxRequestBytes, maxResponseBytes: f.maxResponseBytes }
  }
  const topics = {} as Record<GossipTopic, TopicSpec>
  for (const [topic, t] of Object.entries(GOSSIP_TOPICS) as Array<[GossipTopic, (typeof GOSSIP_TOPICS)[GossipTopic]]>) {
    topics[topic] = { name: scopeTopic(netId, t.suffix), maxBytes: t.maxBytes }
  }
  return { netId, protocols, topics, allTopics: Object.values(topics).map((t) => t.name) }
}

const SEGMENT = '[a-z][a-z0-9-]{0,31}'
const UNSCOPED = new RegExp(`^/tessera/(${SEGMENT})/(\\d+\\.\\d+\\.\\d+)$`)
const SUFFIX = new RegExp(`^${SEGMENT}(?:/${SEGMENT}){0,2}/\\d+(?:\\.\\d+){0,2}$`)
const SCOPED = new RegExp(`^/tessera/([0-9a-f]{16})/(${SEGMENT}(?:/${SEGMENT}){0,3})/(\\d+(?:\\.\\d+){0,2})$`)

/** `/tessera/<family>/<semver>` (network-free, as the round names it) -> `/tessera/<netid>/<family>/<semver>`. */
export function scopeProtocol (netId: string, unscoped: string): string {
  if (!isNetworkId(netId)) throw new InvalidParametersError(`network id must be 16 lowercase hex characters, got '${String(netId).slice(0, 40)}'`)
  const m = typeof unscoped === 'string' ? UNSCOPED.exec(unscoped) : null
  if (m == null) throw new InvalidParametersError(`'${String(unscoped).slice(0, 80)}' is not a /tessera/<family>/<semver> protocol id`)
  return `/tessera/${netId}/${m[1]!}/${m[2]!}`
}

/** A topic suffix such as `round/receipt/2` -> `/tessera/<netid>/g2/round/receipt/2` (GOSSIP_WIRE). */
export function scopeTopic (netId: string, suffix: string): string {
  if (!isNetworkId(netId)) throw new InvalidParametersError(`network id must be 16 lowercase hex characters, got '${String(netId).slice(0, 40)}'`)
  if (typeof suffix !== 'string' || !SUFFIX.test(suffix)) throw new InvalidParametersError(`'${String(suffix).slice(0, 80)}' is not a topic suffix like round/receipt/2`)
  return `/tessera/${netId}/${GOSSIP_WIRE}/${suffix}`
}

/** Parse a scoped protocol id or topic name into netid, name and version; undefined if it is not one. */
export function parseProtocolId (id: string): { netId: string, name: string, version: string } | undefined {
  if (typeof id !== 'string' || id.length > 256) return undefined
  const m = SCOPED.exec(id)
  if (m == null) return undefined
  return { netId: m[1]!, name: m[2]!, version: m[3]! }
}
