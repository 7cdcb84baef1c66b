/**
 * Protocol ids and gossip topic names of one Tessera network.
 *
 * DESIGN "The network charter": topic names and protocol ids derive from the
 * genesis hash, so two networks never mix. Scheme (one versioned id per message
 * family, House style 3):
 *
 *   netid            = hex(SHA-256("tessera/netid/v1" || genesisId)[0..8])   16 hex chars
 *   stream protocol  = /tessera/<netid>/<family>/<semver>     e.g. /tessera/0f3a…/shares/1.0.0
 *   gossip topic     = /tessera/<netid>/<topic>/<semver>      e.g. /tessera/0f3a…/receipts/1.0.0
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

/** Request/response families (bulk data over streams). */
export const STREAM_FAMILIES = {
  /** contributor -> committee member: one Shamir share vector (DESIGN "A round" 2). Reply: receipt. */
  shares: { version: '1.0.0', maxRequestBytes: 16 * MiB, maxResponseBytes: 16 * KiB },
  /** member -> member: share-sums per planned group (DESIGN "A round" 4). */
  'partial-sums': { version: '1.0.0', maxRequestBytes: 16 * MiB, maxResponseBytes: 16 * KiB },
  /** fetch missing ledger entries by hash (DESIGN "The ledger", Sync). */
  'ledger-sync': { version: '1.0.0', maxRequestBytes: 64 * KiB, maxResponseBytes: 8 * MiB },
  /** fetch a model by hash. */
  'model-fetch': { version: '1.0.0', maxRequestBytes: 4 * KiB, maxResponseBytes: 64 * MiB }
} as const

/**
 * Gossip topics (small signed messages). Gossipsub drops messages over about
 * 4 MiB and floods every message to every subscriber, so caps stay small.
 */
export const GOSSIP_TOPICS = {
  /** new ledger entries announced by hash (DESIGN "The ledger", Sync) */
  announce: { version: '1.0.0', maxBytes: 64 * KiB },
  /** signed share receipts (DESIGN "A round" 3) */
  receipts: { version: '1.0.0', maxBytes: 16 * KiB },
  /** per-contributor sums of squares for the norm check (DESIGN "A round" 3) */
  norm: { version: '1.0.0', maxBytes: 256 * KiB },
  /** the leader's plan (DESIGN "A round" 3) */
  plan: { version: '1.0.0', maxBytes: 256 * KiB },
  /** checkpoint signatures and co-signed checkpoints (DESIGN "The ledger") */
  checkpoint: { version: '1.0.0', maxBytes: 256 * KiB },
  /** libp2p pubsub peer discovery, scoped to the network */
  discovery: { version: '1.0.0', maxBytes: 4 * KiB }
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
    topics[topic] = { name: `/tessera/${netId}/${topic}/${t.version}`, maxBytes: t.maxBytes }
  }
  return { netId, protocols, topics, allTopics: Object.values(topics).map((t) => t.name) }
}

/** Parse a Tessera protocol id or topic name back into its parts; undefined if it is not one. */
export function parseProtocolId (id: string): { netId: string, name: string, version: string } | undefined {
  if (typeof id !== 'string' || id.length > 200) return undefined
  const m = /^\/tessera\/([0-9a-f]{16})\/([a-z][a-z0-9-]{0,31})\/(\d+\.\d+\.\d+)$/.exec(id)
  if (m == null) return undefined
  return { netId: m[1]!, name: m[2]!, version: m[3]! }
}
