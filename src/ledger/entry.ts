/**
 * Ledger entries: types, canonical encoding, content ids, signing.
 *
 * Encoding: an entry is the DAG-CBOR map { v, type, author, seq, prev, ts?, body }
 * (@ipld/dag-cbor: deterministic, map keys sorted length-first, shortest integer
 * forms, no floats where an integer fits, no undefined). Its content id is the
 * CIDv1 of those bytes with codec dag-cbor (0x71) and multihash sha2-256. The
 * envelope on the wire and on disk is the DAG-CBOR map { entry: <entry bytes>,
 * sig: <64 bytes> }: the entry travels as its exact canonical bytes, so the CID
 * and the signature are checked on the bytes received, and decoding re-encodes
 * to reject any non-canonical form.
 *
 * Signature: Ed25519 (RFC 8032) over
 *   "tessera/ledger/genesis/v1" 0x00 || entryBytes                   (the genesis)
 *   "tessera/ledger/entry/v1" 0x00 || genesisCid.bytes || entryBytes  (every other entry)
 * so a signature means nothing outside the ledger (domain separation) nor in
 * another network (the genesis CID binds it).
 */
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesEqual, concatBytes, utf8 } from './bytes.ts'
import { LIMITS, parseCharter, type Charter } from './charter.ts'
import { LedgerVerificationError } from './errors.ts'
import * as s from './schema.ts'
import type { Signer } from './signature.ts'

export const ENTRY_TYPES = ['genesis', 'join', 'admit', 'contribution', 'receipt', 'plan', 'checkpoint', 'watermark', 'dispute', 'equivocation'] as const
export type EntryType = typeof ENTRY_TYPES[number]

export const DAG_CBOR_CODE = 0x71
export const SHA2_256_CODE = 0x12

export const GENESIS_DOMAIN = utf8('tessera/ledger/genesis/v1\0')
export const ENTRY_DOMAIN = utf8('tessera/ledger/entry/v1\0')
export const COSIGN_DOMAIN = utf8('tessera/ledger/checkpoint/v1\0')

export type PublicKey = Uint8Array

export interface JoinBody { note?: string }
export interface AdmitBody { peer: PublicKey }
/**
 * A contributor's commitments to the shares it sent, one SHA-256 per committee
 * member in committee order. There is no group field: groups are the balanced
 * partition of the planned contributors (src/gossip-fl/committee.ts
 * `assignGroups`), known only once the plan exists; the plan and the checkpoint
 * carry them and the verifier checks them.
 */
export interface ContributionBody { round: number, retry: number, commitments: Uint8Array[] }
export interface ReceiptBody { round: number, retry: number, acks: CID[] }
export interface PlanBody { round: number, retry: number, groups: PublicKey[][] }
export interface Head { author: PublicKey, seq: number, cid: CID }
export interface Cosignature { signer: PublicKey, sig: Uint8Array }
export interface CheckpointCore {
  round: number
  retry: number
  /** CID of the previous checkpoint, or of the genesis for round 1. */
  prev: CID
  modelHash: Uint8Array
  /** Included contributors per group (group index = position). */
  groups: PublicKey[][]
  groupSumsHash: Uint8Array
  blame: PublicKey[]
  /** Contributors refused by the norm check. */
  refused: PublicKey[]
  /** Groups whose sum lay far from the aggregate (reputation evidence). */
  farGroups: number[]
  /** Author chain heads this checkpoint covers, sorted by author bytes. */
  heads: Head[]
  /**
   * Persistent-outlier evidence: per group (same positions), the group mean's projection on
   * the aggregate's direction as a fixed-point integer q = round(p * 2^20), 0 for an empty
   * group (src/reputation/outlier-evidence.ts). Present exactly when the charter enables
   * exclusion (version 3); absent (no key) otherwise.
   */
  projections?: number[]
}
export interface CheckpointBody extends CheckpointCore { cosigs: Cosignature[] }
export interface WatermarkBody { commitment: Uint8Array, modelHash: Uint8Array }
export interface WatermarkOpening { scheme: string, key: Uint8Array, message: Uint8Array, salt: Uint8Array }
export interface DisputeBody { registration: CID, opening: WatermarkOpening, suspectModelHash: Uint8Array }
export interface EnvelopeParts { entry: Uint8Array, sig: Uint8Array }
export interface EquivocationBody { a: EnvelopeParts, b: EnvelopeParts }

export interface BodyOf {
  genesis: Charter
  join: JoinBody
  admit: AdmitBody
  contribution: ContributionBody
  receipt: ReceiptBody
  plan: PlanBody
  checkpoint: CheckpointBody
  watermark: WatermarkBody
  dispute: DisputeBody
  equivocation: EquivocationBody
}

export interface Entry<T extends EntryType = EntryType> {
  v: 1
  type: T
  author: PublicKey
  seq: number
  prev: CID | null
  ts?: number
  body: BodyOf[T]
}

/** A decoded, well-formed (not yet verified against the ledger) envelope. */
export interface SignedEntry<T extends EntryType = EntryType> {
  entry: Entry<T>
  /** Canonical bytes of the entry (what the CID hashes and the signature covers, after the domain). */
  bytes: Uint8Array
  cid: CID
  sig: Uint8Array
  /** The envelope's bytes, as stored and sent. */
  envelope: Uint8Array
}

export function cidOf(bytes: Uint8Array): CID {
  return CID.createV1(DAG_CBOR_CODE, Digest.create(SHA2_256_CODE, sha256(bytes)))
}

/** The bytes the author signs. `genesisCid` is null only for the genesis itself. */
export function signingMessage(entryBytes: Uint8Array, genesisCid: CID | null): Uint8Array {
  return genesisCid === null ? concatBytes(GENESIS_DOMAIN, entryBytes) : concatBytes(ENTRY_DOMAIN, genesisCid.bytes, entryBytes)
}

/** The bytes each committee member co-signs for a checkpoint: the body without `cosigs`. */
export function cosigningMessage(core: CheckpointCore, genesisCid: CID): Uint8Array {
  const { round, retry, prev, modelHash, groups, groupSumsHash, blame, refused, farGroups, heads, projections } = core
  const o: Record<string, unknown> = { round, retry, prev, modelHash, groups, groupSumsHash, blame, refused, farGroups, heads }
  // The evidence is co-signed with the rest; without it the bytes are exactly the pre-v3 ones.
  if (projections !== undefined) o.projections = projections
  return concatBytes(COSIGN_DOMAIN, genesisCid.bytes, dagCbor.encode(o))
}

export function encodeEntry(entry: Entry): Uint8Array {
  const o: Record<string, unknown> = { v: entry.v, type: entry.type, author: entry.author, seq: entry.seq, prev: entry.prev, body: entry.body }
  if (entry.ts !== undefined) o.ts = entry.ts
  // Encode optional fields only when present: DAG-CBOR has no undefined.
  return dagCbor.encode(stripUndefined(o))
}

function stripUndefined(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripUndefined)
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && CID.asCID(v) === null) {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = stripUndefined(x)
    return out
  }
  return v
}

export function encodeEnvelope(entryBytes: Uint8Array, sig: Uint8Array): Uint8Array {
  return dagCbor.encode({ entry: entryBytes, sig })
}

/** Build, encode and sign an entry. Validates the body like a verifier would (a signer cannot publish malformed entries). */
export async function signEntry<T extends EntryType>(signer: Signer, entry: Omit<Entry<T>, 'v' | 'author'> & { author?: PublicKey }, genesisCid: CID | null): Promise<SignedEntry<T>> {
  const full = { v: 1, ...entry, author: entry.author ?? signer.publicKey } as Entry<T>
  if (!bytesEqual(full.author, signer.publicKey)) throw new LedgerVerificationError('signature', 'entry author is not the signer')
  const bytes = encodeEntry(full)
  const sig = await signer.sign(signingMessage(bytes, full.type === 'genesis' ? null : genesisCid))
  const envelope = encodeEnvelope(bytes, sig)
  return decodeEnvelope(envelope) as SignedEntry<T>
}

function decodeCbor(bytes: Uint8Array, what: string): unknown {
  try {
    return dagCbor.decode(bytes)
  } catch (err) {
    throw new LedgerVerificationError('malformed', `${what} is not valid DAG-CBOR: ${(err as Error).message}`, { cause: err })
  }
}

/** Decode an envelope and check the form of the entry and its body (no signatures, no ledger rules). */
export function decodeEnvelope(envelope: Uint8Array): SignedEntry {
  if (!(envelope instanceof Uint8Array)) throw new LedgerVerificationError('malformed', 'envelope must be bytes')
  if (envelope.length > LIMITS.maxEnvelopeBytes) throw new LedgerVerificationError('malformed', `envelope of ${envelope.length} bytes exceeds ${LIMITS.maxEnvelopeBytes}`)
  const env = s.obj(decodeCbor(envelope, 'envelope'), 'envelope', ['entry', 'sig'])
  const bytes = s.bytes(env.entry, 'envelope.entry')
  const sig = s.bytes(env.sig, 'envelope.sig', 64)
  const raw = decodeCbor(bytes, 'entry')
  const entry = parseEntry(raw)
  // parseEntry admits no unknown field, so re-encoding the decoded value is re-encoding the entry.
  if (!bytesEqual(dagCbor.encode(raw), bytes)) throw new LedgerVerificationError('malformed', 'entry bytes are not in canonical DAG-CBOR form')
  if (!isCanonicalEnvelope(envelope, bytes.length)) throw new LedgerVerificationError('malformed', 'envelope is not in canonical DAG-CBOR form')
  return { entry, bytes, cid: cidOf(bytes), sig, envelope }
}

// The canonical envelope is map(2) { "sig": bytes(64), "entry": bytes(n) } (DAG-CBOR
// sorts keys length-first): a fixed layout, checked in place without re-encoding.
const ENV_HEAD = Uint8Array.from([0xa2, 0x63, 0x73, 0x69, 0x67, 0x58, 0x40])
const ENV_ENTRY_KEY = Uint8Array.from([0x65, 0x65, 0x6e, 0x74, 0x72, 0x79])

function bytesHeader(n: number): number[] {
  if (n < 24) return [0x40 | n]
  if (n < 0x100) return [0x58, n]
  if (n < 0x10000) return [0x59, n >>> 8, n & 0xff]
  return [0x5a, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
}

function isCanonicalEnvelope(env: Uint8Array, entryLength: number): boolean {
  const hdr = bytesHeader(entryLength)
  if (env.length !== ENV_HEAD.length + 64 + ENV_ENTRY_KEY.length + hdr.length + entryLength) return false
  for (let i = 0; i < ENV_HEAD.length; i++) if (env[i] !== ENV_HEAD[i]) return false
  const k = ENV_HEAD.length + 64
  for (let i = 0; i < ENV_ENTRY_KEY.length; i++) if (env[k + i] !== ENV_ENTRY_KEY[i]) return false
  const h = k + ENV_ENTRY_KEY.length
  for (let i = 0; i < hdr.length; i++) if (env[h + i] !== hdr[i]) return false
  return true
}

const key32 = (v: unknown, p: string): Uint8Array => s.bytes(v, p, 32)
const hash32 = key32
const round = (v: unknown, p: string): number => s.int(v, p, 1, 2 ** 40)
const retry = (v: unknown, p: string): number => s.int(v, p, 0, 1 << 16)
const keyList = (v: unknown, p: string): Uint8Array[] => s.list(v, p, LIMITS.maxListLength, key32)

function parseEntry(v: unknown): Entry {
  const o = s.obj(v, 'entry', ['v', 'type', 'author', 'seq', 'prev', 'body'], ['ts'])
  s.int(o.v, 'entry.v', 1, 1)
  const type = s.oneOf(o.type, 'entry.type', ENTRY_TYPES)
  const entry: Entry = {
    v: 1,
    type,
    author: key32(o.author, 'entry.author'),
    seq: s.int(o.seq, 'entry.seq'),
    prev: o.prev === null ? null : s.cid(o.prev, 'entry.prev'),
    body: parseBody(type, o.body) as never
  }
  if (o.ts !== undefined) entry.ts = s.int(o.ts, 'entry.ts')
  return entry
}

function envelopeParts(v: unknown, p: string): EnvelopeParts {
  const o = s.obj(v, p, ['entry', 'sig'])
  return { entry: s.bytes(o.entry, `${p}.entry`, undefined, LIMITS.maxEnvelopeBytes), sig: s.bytes(o.sig, `${p}.sig`, 64) }
}

export function parseBody(type: EntryType, v: unknown): BodyOf[EntryType] {
  const p = 'body'
  switch (type) {
    case 'genesis':
      return parseCharter(v, p)
    case 'join': {
      const o = s.obj(v, p, [], ['note'])
      return o.note === undefined ? {} : { note: s.str(o.note, `${p}.note`) }
    }
    case 'admit':
      return { peer: key32(s.obj(v, p, ['peer']).peer, `${p}.peer`) }
    case 'contribution': {
      const o = s.obj(v, p, ['round', 'retry', 'commitments'])
      return {
        round: round(o.round, `${p}.round`),
        retry: retry(o.retry, `${p}.retry`),
        commitments: s.list(o.commitments, `${p}.commitments`, LIMITS.maxCommittee, hash32, 1)
      }
    }
    case 'receipt': {
      const o = s.obj(v, p, ['round', 'retry', 'acks'])
      return { round: round(o.round, `${p}.round`), retry: retry(o.retry, `${p}.retry`), acks: s.list(o.acks, `${p}.acks`, LIMITS.maxListLength, s.cid) }
    }
    case 'plan': {
      const o = s.obj(v, p, ['round', 'retry', 'groups'])
      return { round: round(o.round, `${p}.round`), retry: retry(o.retry, `${p}.retry`), groups: s.list(o.groups, `${p}.groups`, LIMITS.maxGroups, keyList) }
    }
    case 'checkpoint': {
      const o = s.obj(v, p, ['round', 'retry', 'prev', 'modelHash', 'groups', 'groupSumsHash', 'blame', 'refused', 'farGroups', 'heads', 'cosigs'], ['projections'])
      const body: CheckpointBody = {
        round: round(o.round, `${p}.round`),
        retry: retry(o.retry, `${p}.retry`),
        prev: s.cid(o.prev, `${p}.prev`),
        modelHash: hash32(o.modelHash, `${p}.modelHash`),
        groups: s.list(o.groups, `${p}.groups`, LIMITS.maxGroups, keyList),
        groupSumsHash: hash32(o.groupSumsHash, `${p}.groupSumsHash`),
        blame: keyList(o.blame, `${p}.blame`),
        refused: keyList(o.refused, `${p}.refused`),
        farGroups: s.list(o.farGroups, `${p}.farGroups`, LIMITS.maxGroups, (x, q) => s.int(x, q, 0, LIMITS.maxGroups - 1)),
        heads: s.list(o.heads, `${p}.heads`, LIMITS.maxListLength, (x, q) => {
          const h = s.obj(x, q, ['author', 'seq', 'cid'])
          return { author: key32(h.author, `${q}.author`), seq: s.int(h.seq, `${q}.seq`), cid: s.cid(h.cid, `${q}.cid`) }
        }),
        cosigs: s.list(o.cosigs, `${p}.cosigs`, LIMITS.maxCommittee, (x, q) => {
          const c = s.obj(x, q, ['signer', 'sig'])
          return { signer: key32(c.signer, `${q}.signer`), sig: s.bytes(c.sig, `${q}.sig`, 64) }
        })
      }
      if (o.projections !== undefined) {
        // One safe integer per group (length and the zero of empty groups: checked here too, so a
        // malformed evidence list is 'malformed' before any ledger rule runs).
        const ps = s.list(o.projections, `${p}.projections`, LIMITS.maxGroups, (x, q) => s.int(x, q, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER))
        if (ps.length !== body.groups.length) s.fail(`${p}.projections`, `${ps.length} entries for ${body.groups.length} groups`)
        ps.forEach((x, j) => { if (body.groups[j]!.length === 0 && x !== 0) s.fail(`${p}.projections[${j}]`, 'must be 0 for an empty group') })
        body.projections = ps
      }
      return body
    }
    case 'watermark': {
      const o = s.obj(v, p, ['commitment', 'modelHash'])
      return { commitment: hash32(o.commitment, `${p}.commitment`), modelHash: hash32(o.modelHash, `${p}.modelHash`) }
    }
    case 'dispute': {
      const o = s.obj(v, p, ['registration', 'opening', 'suspectModelHash'])
      const op = s.obj(o.opening, `${p}.opening`, ['scheme', 'key', 'message', 'salt'])
      return {
        registration: s.cid(o.registration, `${p}.registration`),
        opening: {
          scheme: s.str(op.scheme, `${p}.opening.scheme`, 64, 1),
          key: s.bytes(op.key, `${p}.opening.key`, undefined, 1 << 16),
          message: s.bytes(op.message, `${p}.opening.message`, undefined, 1 << 16),
          salt: s.bytes(op.salt, `${p}.opening.salt`, undefined, 1024)
        },
        suspectModelHash: hash32(o.suspectModelHash, `${p}.suspectModelHash`)
      }
    }
    case 'equivocation': {
      const o = s.obj(v, p, ['a', 'b'])
      return { a: envelopeParts(o.a, `${p}.a`), b: envelopeParts(o.b, `${p}.b`) }
    }
  }
}

/** SHA-256 of the canonical DAG-CBOR of a watermark opening: the commitment a registration publishes. */
export function watermarkCommitment(opening: WatermarkOpening): Uint8Array {
  return sha256(dagCbor.encode({ scheme: opening.scheme, key: opening.key, message: opening.message, salt: opening.salt }))
}
