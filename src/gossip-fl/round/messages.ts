/**
 * The round protocol's messages and their canonical encoding (DESIGN.md "A round").
 *
 * Every message is a deterministic CBOR map (@ipld/dag-cbor: canonical key order,
 * no floats here, no undefined), so the bytes a peer signs are the bytes every
 * other peer re-derives. Field vectors travel as little-endian Uint32 bytes.
 *
 * Decoding is defensive (House style 3 and 4): the byte length is checked against
 * the family's explicit cap BEFORE the CBOR parser runs, then the shape is checked
 * field by field; anything else is a MessageDecodeError / MessageTooLargeError.
 * docs/architecture/round.md lists every message with its fields and caps.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from '@noble/hashes/sha2.js'
import { isPeerId } from '../../reputation/peer-id.ts'
import { firstNonField } from '../../secret-sharing/field.ts'
import { MessageDecodeError, MessageTooLargeError } from './errors.ts'

/** Protocol ids (one versioned id per family, House style 3). Direct streams: */
export const FAMILY_SHARE = '/tessera/round-share/1.0.0'
export const FAMILY_ZERO = '/tessera/round-zero/1.0.0'
/**
 * 2.0.0: one message per (holder, member) carries the share-sums of every group the holder sums
 * (1.0.0 sent one message per (group, member): G times the streams and signatures).
 * 3.0.0: same layout; the signature covers SHA-256 of `data` instead of `data` itself
 * (`signingBytes`), so signing and verifying a 2 MB message hash it once natively.
 */
export const FAMILY_PARTIAL = '/tessera/round-partial/3.0.0'
/** Gossip topics (suffixes; the node prefixes them with the network's genesis hash). */
export const TOPIC_CONTRIBUTION = 'round/contribution/1'
/**
 * Receipt payload version 2 (issue #4): `y` is one masked norm point per dealer block the member
 * holds completely (plan.ts dealerBlocks), not one number over its whole dealer set; old and new
 * decoders refuse each other's receipts (MessageDecodeError), so the topic moved to /2 together
 * with src/node/protocol-ids.ts GOSSIP_TOPICS.receipt (the node's transport allows only that table's topics).
 */
export const TOPIC_RECEIPT = 'round/receipt/2'
export const TOPIC_PLAN = 'round/plan/1'
export const TOPIC_CHECKPOINT = 'round/checkpoint/2'
export const TOPIC_ZCHECK = 'round/zcheck/1'

export type Family = typeof FAMILY_SHARE | typeof FAMILY_ZERO | typeof FAMILY_PARTIAL
export type Topic = typeof TOPIC_CONTRIBUTION | typeof TOPIC_RECEIPT | typeof TOPIC_PLAN | typeof TOPIC_CHECKPOINT | typeof TOPIC_ZCHECK

/** Hard limits, independent of the charter, so no decode can be made to allocate without bound. */
export const LIMITS = Object.freeze({
  /** Largest model (number of parameters) a round can carry: 2^22 (16 MiB per field vector). */
  maxDim: 4_194_304,
  maxCommittee: 256,
  maxContributors: 65_536,
  maxGroups: 65_536,
  maxRound: Number.MAX_SAFE_INTEGER,
  maxRetry: 1024,
  /** Bytes of a reason string in a refusal or blame. */
  maxReason: 64,
  /** Small gossip messages (receipts, plans, checkpoint signatures): 4 MiB. */
  maxSmallBytes: 4 * 1024 * 1024,
  /** Vector messages: one field vector plus a small header. */
  maxVectorBytes: 4 * 4_194_304 + 4096
})

export interface Header {
  /** Round number r (the round that produces checkpoint r). */
  r: number
  /** Retry k within the round (0 first). */
  k: number
  /** Sender's peer id (64 hex). */
  from: string
}

/** Contributor -> one member, direct: that member's Shamir share of the contributor's encoded update. */
export interface ShareMsg extends Header { type: 'share', x: number, data: Uint32Array }
/** Contributor -> gossip: commitments to its m shares (SHA-256 of each share's bytes, in committee order). */
export interface ContributionMsg extends Header { type: 'contribution', dim: number, commitments: Uint8Array[], sig: Uint8Array }
/**
 * Member -> member, direct: the dealer's shares of zero (one degree-2(t-1) polynomial
 * per eligible contributor, plus one check polynomial last) evaluated at the recipient's x.
 */
export interface ZeroMsg extends Header { type: 'zero', masks: Uint32Array }
/**
 * `y`: the masked norm-square points of this share, one per dealer block (plan.ts `dealerBlocks`)
 * whose masks are all in `dealers`, in block order: sum of squares + that block's masks at my x.
 */
export interface ReceiptItem { c: string, h: Uint8Array, y: number[] }
/** Member -> gossip: which shares it holds (with their hashes), whose zero masks it holds, and its masked norm-square points per contributor. */
export interface ReceiptMsg extends Header { type: 'receipt', dealers: string[], held: ReceiptItem[], sig: Uint8Array }
export interface PlanGroup { members: string[], holders: string[] }
export interface Refusal { peer: string, reason: string }
/** Leader -> gossip: per group, the admitted contributors and the members holding all their shares. */
export interface PlanMsg extends Header { type: 'plan', dealers: string[], groups: PlanGroup[], refused: Refusal[], blamed: Refusal[], sig: Uint8Array }
/**
 * Member -> gossip, after the plan: per dealer of the plan's dealer set, its point
 * w = K_d(x) + sum_c rho_c Z_{d,c}(x) of the dealer's check combination, rho derived
 * from the plan. All points of one dealer must lie on a degree-2(t-1) polynomial
 * with zero constant term, or the dealer's masks were not shares of zero.
 */
export interface ZeroCheckMsg extends Header { type: 'zcheck', points: Array<{ d: string, w: number }>, sig: Uint8Array }
/**
 * Member -> member, direct: its shares of the sums of the planned groups `g` (strictly
 * increasing plan indices), concatenated in that order in `data` (g.length x d field
 * elements). A holder sends every group it sums in one message per member, split into
 * several only when they would exceed the vector cap (LIMITS.maxDim elements per message).
 */
export interface PartialMsg extends Header { type: 'partial', g: number[], data: Uint32Array, sig: Uint8Array }
/** The checkpoint body every member signs (DESIGN.md "The ledger": a round checkpoint). */
export interface CheckpointBody {
  round: number
  retry: number
  prev: Uint8Array
  committee: string[]
  /** The plan's groups in plan order; a group whose sum could not be reconstructed has empty members and holders. */
  groups: PlanGroup[]
  /** Indices of groups whose mean lay far from the aggregate (reputation evidence). */
  farGroups: number[]
  groupSumsHash: Uint8Array
  modelHash: Uint8Array
  ruleStateHash: Uint8Array
  blamed: Refusal[]
  refused: Refusal[]
  /**
   * Persistent-outlier evidence (present exactly when the network's charter enables exclusion,
   * RoundConfig.outliers): per plan group, its mean's projection on the aggregate's direction
   * as a fixed-point integer, 0 for a group not reconstructed (src/reputation/outlier-evidence.ts).
   * Absent, the body encodes exactly as before (same hash).
   */
  projections?: number[]
}
/** Member -> gossip: its signature on a checkpoint body. */
export interface CheckpointSigMsg extends Header { type: 'ckpt', body: CheckpointBody, sig: Uint8Array }

export type RoundMessage = ShareMsg | ContributionMsg | ZeroMsg | ReceiptMsg | PlanMsg | ZeroCheckMsg | PartialMsg | CheckpointSigMsg
export type SignedMessage = ContributionMsg | ReceiptMsg | PlanMsg | ZeroCheckMsg | PartialMsg | CheckpointSigMsg

// ---------------------------------------------------------------- bytes <-> field vectors

/** A hash of bytes (32 bytes out): SHA-256 here; hosts may inject a native one (RoundConfig.sha256). */
export type Hash = (b: Uint8Array) => Uint8Array

/** Whether this platform stores typed arrays little-endian (then the wire bytes are the memory bytes). */
export const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1

/** Little-endian bytes of a Uint32Array (copy; independent of platform endianness). */
export function vectorToBytes(v: Uint32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength))
  const out = new Uint8Array(v.length * 4)
  const dv = new DataView(out.buffer)
  for (let i = 0; i < v.length; i++) dv.setUint32(i * 4, v[i]!, true)
  return out
}

export function bytesToVector(b: Uint8Array): Uint32Array {
  if (b.length % 4 !== 0) throw new MessageDecodeError(`vector bytes length ${b.length} is not a multiple of 4`)
  if (LITTLE_ENDIAN) return new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
  const out = new Uint32Array(b.length / 4)
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  for (let i = 0; i < out.length; i++) out[i] = dv.getUint32(i * 4, true)
  return out
}

/**
 * The field vector in `b` WITHOUT a copy where that is possible (issue #4): on a little-endian
 * platform with b's offset 4-byte aligned, a Uint32Array view of b's own memory (it then shares
 * b's memory: for bytes nobody else writes, such as the CBOR decoder's output, which copies
 * every byte string into a fresh buffer); otherwise a copy, as bytesToVector.
 */
export function bytesAsVector(b: Uint8Array): Uint32Array {
  if (b.length % 4 !== 0) throw new MessageDecodeError(`vector bytes length ${b.length} is not a multiple of 4`)
  if (LITTLE_ENDIAN && b.byteOffset % 4 === 0) return new Uint32Array(b.buffer, b.byteOffset, b.length / 4)
  return bytesToVector(b)
}

/**
 * The little-endian bytes of a Uint32Array for encoding: the array's own memory on
 * little-endian platforms (no copy; dag-cbor copies it into its output anyway).
 */
function vectorView(v: Uint32Array): Uint8Array {
  return LITTLE_ENDIAN ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : vectorToBytes(v)
}

/** SHA-256 commitment to one share: the hash of its canonical bytes. */
export function shareCommitment(share: Uint32Array, hash: Hash = sha256): Uint8Array {
  // Little-endian platforms hash the array's own memory (no copy).
  return hash(LITTLE_ENDIAN ? new Uint8Array(share.buffer, share.byteOffset, share.byteLength) : vectorToBytes(share))
}

// ---------------------------------------------------------------- encoding

function toWire(m: RoundMessage | Omit<SignedMessage, 'sig'>): Record<string, unknown> {
  const o: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(m)) {
    if (value instanceof Uint32Array) o[key] = vectorView(value)
    else o[key] = value
  }
  return o
}

export function encodeMessage(m: RoundMessage): Uint8Array {
  return dagCbor.encode(toWire(m))
}

/**
 * The bytes a signature covers: a domain tag then the message without its `sig`.
 * A partial sum (FAMILY_PARTIAL 3.0.0) is signed over SHA-256 of its data bytes in
 * place of the data (tag "tessera/round/v1/partial-sha256"): hash-then-sign, so a
 * 2 MB message costs one native SHA-256 (`hash`, the machine's RoundConfig.sha256)
 * instead of two copies and Ed25519's SHA-512 over all of it, at sender and receivers.
 */
export function signingBytes(m: SignedMessage | Omit<SignedMessage, 'sig'>, hash: Hash = sha256): Uint8Array {
  const { sig: _sig, ...rest } = m as SignedMessage
  let type: string = rest.type
  let wire = toWire(rest as Omit<SignedMessage, 'sig'>)
  if (rest.type === 'partial') {
    type = 'partial-sha256'
    wire = { ...wire, data: hash(vectorView((rest as Omit<PartialMsg, 'sig'>).data)) }
  }
  const body = dagCbor.encode(wire)
  const tag = new TextEncoder().encode(`tessera/round/v1/${type}\u0000`)
  const out = new Uint8Array(tag.length + body.length)
  out.set(tag)
  out.set(body, tag.length)
  return out
}

/** Canonical bytes of a checkpoint body (what its hash and the members' signatures cover). */
export function encodeCheckpointBody(b: CheckpointBody): Uint8Array {
  // dag-cbor has no undefined: a body without evidence encodes without the key (the pre-exclusion bytes).
  if (b.projections === undefined && 'projections' in b) {
    const { projections: _p, ...rest } = b
    return dagCbor.encode(rest)
  }
  return dagCbor.encode(b)
}

export function checkpointBodyHash(b: CheckpointBody, hash: Hash = sha256): Uint8Array {
  return hash(encodeCheckpointBody(b))
}

// ---------------------------------------------------------------- decoding

/** Size cap of a message family (vector families get the vector cap). */
export function capFor(kind: 'vector' | 'small'): number {
  return kind === 'vector' ? LIMITS.maxVectorBytes : LIMITS.maxSmallBytes
}

type Obj = Record<string, unknown>

function fail(msg: string): never {
  throw new MessageDecodeError(msg)
}

function expectKeys(o: Obj, keys: readonly string[], what: string): void {
  const have = Object.keys(o)
  if (have.length !== keys.length || !keys.every(k => Object.prototype.hasOwnProperty.call(o, k))) {
    fail(`${what}: expected exactly the fields ${[...keys].sort().join(',')}, got ${have.sort().join(',')}`)
  }
}

function int(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(`${what} must be an integer in [${min}, ${max}]`)
  return v
}

function peer(v: unknown, what: string): string {
  if (!isPeerId(v)) fail(`${what} must be a peer id (64 lowercase hex)`)
  return v
}

function bytes(v: unknown, what: string, len?: number): Uint8Array {
  if (!(v instanceof Uint8Array)) fail(`${what} must be bytes`)
  if (len !== undefined && v.length !== len) fail(`${what} must be ${len} bytes, got ${v.length}`)
  return v
}

function arr(v: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(v)) fail(`${what} must be an array`)
  if (v.length > max) fail(`${what} has ${v.length} entries, more than ${max}`)
  return v
}

function obj(v: unknown, what: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) fail(`${what} must be a map`)
  return v as Obj
}

function peers(v: unknown, what: string, max: number): string[] {
  const a = arr(v, what, max).map((p, i) => peer(p, `${what}[${i}]`))
  if (new Set(a).size !== a.length) fail(`${what} lists a peer twice`)
  return a
}

function fieldVector(v: unknown, what: string): Uint32Array {
  const b = bytes(v, what)
  if (b.length > LIMITS.maxDim * 4) fail(`${what} longer than ${LIMITS.maxDim} elements`)
  // A view of the decoder's fresh copy of the byte string (no second copy); the entry check
  // is secret-sharing's small scan function (optimized once for all its callers).
  const vec = bytesAsVector(b)
  const i = firstNonField(vec)
  if (i >= 0) fail(`${what}[${i}] is not a field element`)
  return vec
}

function reason(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > LIMITS.maxReason) fail(`${what} must be a string of 1..${LIMITS.maxReason} characters`)
  return v
}

function refusals(v: unknown, what: string): Refusal[] {
  return arr(v, what, LIMITS.maxContributors).map((e, i) => {
    const o = obj(e, `${what}[${i}]`)
    expectKeys(o, ['peer', 'reason'], `${what}[${i}]`)
    return { peer: peer(o.peer, `${what}[${i}].peer`), reason: reason(o.reason, `${what}[${i}].reason`) }
  })
}

function planGroups(v: unknown, what: string): PlanGroup[] {
  return arr(v, what, LIMITS.maxGroups).map((e, i) => {
    const o = obj(e, `${what}[${i}]`)
    expectKeys(o, ['holders', 'members'], `${what}[${i}]`)
    return { members: peers(o.members, `${what}[${i}].members`, LIMITS.maxContributors), holders: peers(o.holders, `${what}[${i}].holders`, LIMITS.maxCommittee) }
  })
}

const BODY_KEYS = ['blamed', 'committee', 'farGroups', 'groupSumsHash', 'groups', 'modelHash', 'prev', 'refused', 'retry', 'round', 'ruleStateHash']

function checkpointBody(v: unknown): CheckpointBody {
  const o = obj(v, 'body')
  const withProjections = Object.prototype.hasOwnProperty.call(o, 'projections')
  expectKeys(o, withProjections ? [...BODY_KEYS, 'projections'] : BODY_KEYS, 'body')
  const body: CheckpointBody = {
    round: int(o.round, 'body.round', 0, LIMITS.maxRound),
    retry: int(o.retry, 'body.retry', 0, LIMITS.maxRetry),
    prev: bytes(o.prev, 'body.prev', 32),
    committee: peers(o.committee, 'body.committee', LIMITS.maxCommittee),
    groups: planGroups(o.groups, 'body.groups'),
    farGroups: arr(o.farGroups, 'body.farGroups', LIMITS.maxGroups).map((j, i) => int(j, `body.farGroups[${i}]`, 0, LIMITS.maxGroups - 1)),
    groupSumsHash: bytes(o.groupSumsHash, 'body.groupSumsHash', 32),
    modelHash: bytes(o.modelHash, 'body.modelHash', 32),
    ruleStateHash: bytes(o.ruleStateHash, 'body.ruleStateHash', 32),
    blamed: refusals(o.blamed, 'body.blamed'),
    refused: refusals(o.refused, 'body.refused')
  }
  if (withProjections) {
    // One safe integer per group (fixed point, src/reputation/outlier-evidence.ts), 0 for an empty group.
    const ps = arr(o.projections, 'body.projections', LIMITS.maxGroups).map((q, i) => int(q, `body.projections[${i}]`, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER))
    if (ps.length !== body.groups.length) fail(`body.projections has ${ps.length} entries for ${body.groups.length} groups`)
    ps.forEach((q, j) => { if (body.groups[j]!.members.length === 0 && q !== 0) fail(`body.projections[${j}] must be 0 for an empty group`) })
    body.projections = ps
  }
  return body
}

const VECTOR_TYPES = new Set(['share', 'partial'])

/**
 * Decode and validate one round message. Throws MessageTooLargeError (over the cap
 * of its kind, checked before parsing) or MessageDecodeError; never anything else.
 */
export function decodeMessage(b: Uint8Array): RoundMessage {
  if (!(b instanceof Uint8Array)) throw new MessageDecodeError('message must be bytes')
  if (b.length > LIMITS.maxVectorBytes) throw new MessageTooLargeError(`message of ${b.length} bytes exceeds the cap of ${LIMITS.maxVectorBytes}`)
  let raw: unknown
  try {
    raw = dagCbor.decode(b)
  } catch (err) {
    throw new MessageDecodeError(`not canonical dag-cbor: ${(err as Error).message}`, { cause: err })
  }
  const o = obj(raw, 'message')
  const type = o.type
  if (typeof type !== 'string') fail('message.type must be a string')
  if (!VECTOR_TYPES.has(type) && b.length > LIMITS.maxSmallBytes) throw new MessageTooLargeError(`${type} message of ${b.length} bytes exceeds the cap of ${LIMITS.maxSmallBytes}`)
  const h = (): Header => ({ r: int(o.r, 'r', 0, LIMITS.maxRound), k: int(o.k, 'k', 0, LIMITS.maxRetry), from: peer(o.from, 'from') })
  switch (type) {
    case 'share': {
      expectKeys(o, ['data', 'from', 'k', 'r', 'type', 'x'], 'share')
      return { type, ...h(), x: int(o.x, 'x', 1, LIMITS.maxCommittee), data: fieldVector(o.data, 'data') }
    }
    case 'contribution': {
      expectKeys(o, ['commitments', 'dim', 'from', 'k', 'r', 'sig', 'type'], 'contribution')
      const commitments = arr(o.commitments, 'commitments', LIMITS.maxCommittee).map((c, i) => bytes(c, `commitments[${i}]`, 32))
      return { type, ...h(), dim: int(o.dim, 'dim', 1, LIMITS.maxDim), commitments, sig: bytes(o.sig, 'sig', 64) }
    }
    case 'zero': {
      expectKeys(o, ['from', 'k', 'masks', 'r', 'type'], 'zero')
      const masks = fieldVector(o.masks, 'masks')
      if (masks.length > LIMITS.maxContributors) fail(`masks has more than ${LIMITS.maxContributors} entries`)
      return { type, ...h(), masks }
    }
    case 'receipt': {
      expectKeys(o, ['dealers', 'from', 'held', 'k', 'r', 'sig', 'type'], 'receipt')
      const held = arr(o.held, 'held', LIMITS.maxContributors).map((e, i) => {
        const it = obj(e, `held[${i}]`)
        expectKeys(it, ['c', 'h', 'y'], `held[${i}]`)
        const y = arr(it.y, `held[${i}].y`, LIMITS.maxCommittee).map((v, q) => int(v, `held[${i}].y[${q}]`, 0, 2147483646))
        return { c: peer(it.c, `held[${i}].c`), h: bytes(it.h, `held[${i}].h`, 32), y }
      })
      if (new Set(held.map(e => e.c)).size !== held.length) fail('held lists a contributor twice')
      return { type, ...h(), dealers: peers(o.dealers, 'dealers', LIMITS.maxCommittee), held, sig: bytes(o.sig, 'sig', 64) }
    }
    case 'plan': {
      expectKeys(o, ['blamed', 'dealers', 'from', 'groups', 'k', 'r', 'refused', 'sig', 'type'], 'plan')
      return { type, ...h(), dealers: peers(o.dealers, 'dealers', LIMITS.maxCommittee), groups: planGroups(o.groups, 'groups'), refused: refusals(o.refused, 'refused'), blamed: refusals(o.blamed, 'blamed'), sig: bytes(o.sig, 'sig', 64) }
    }
    case 'zcheck': {
      expectKeys(o, ['from', 'k', 'points', 'r', 'sig', 'type'], 'zcheck')
      const points = arr(o.points, 'points', LIMITS.maxCommittee).map((e, i) => {
        const it = obj(e, `points[${i}]`)
        expectKeys(it, ['d', 'w'], `points[${i}]`)
        return { d: peer(it.d, `points[${i}].d`), w: int(it.w, `points[${i}].w`, 0, 2147483646) }
      })
      if (new Set(points.map(p => p.d)).size !== points.length) fail('points lists a dealer twice')
      return { type, ...h(), points, sig: bytes(o.sig, 'sig', 64) }
    }
    case 'partial': {
      expectKeys(o, ['data', 'from', 'g', 'k', 'r', 'sig', 'type'], 'partial')
      const g = arr(o.g, 'g', LIMITS.maxGroups).map((j, i) => int(j, `g[${i}]`, 0, LIMITS.maxGroups - 1))
      if (g.length === 0) fail('g must name at least one group')
      for (let i = 1; i < g.length; i++) if (g[i]! <= g[i - 1]!) fail('g must be strictly increasing')
      const data = fieldVector(o.data, 'data')
      if (data.length === 0 || data.length % g.length !== 0) fail(`data of ${data.length} elements does not hold ${g.length} equal share-sums`)
      return { type, ...h(), g, data, sig: bytes(o.sig, 'sig', 64) }
    }
    case 'ckpt': {
      expectKeys(o, ['body', 'from', 'k', 'r', 'sig', 'type'], 'ckpt')
      return { type, ...h(), body: checkpointBody(o.body), sig: bytes(o.sig, 'sig', 64) }
    }
    default:
      return fail(`unknown message type '${type.slice(0, 32)}'`)
  }
}
