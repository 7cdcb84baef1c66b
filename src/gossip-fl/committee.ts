/**
 * Committee and group selection for a round (DESIGN.md "A round", step 1).
 *
 * Everything here is a pure function of the round seed s (the hash of checkpoint
 * r-1) and of peer ids, so every peer that holds the same ledger computes the same
 * committee and the same groups, byte for byte:
 *
 * - `selectCommittee`: a weighted sample of m peers WITHOUT replacement, by the
 *   Efraimidis-Spirakis method (P. S. Efraimidis, P. G. Spirakis, "Weighted random
 *   sampling with a reservoir", Information Processing Letters 97(5), 2006): each
 *   candidate i gets key u_i^(1/w_i) with u_i uniform on (0,1); the m largest keys
 *   win, in decreasing key order. This equals drawing peers one at a time with
 *   probability proportional to weight among those not yet drawn. We compare
 *   ln(u_i)/w_i (same order, no underflow) with a logarithm that is bit-identical on
 *   every engine (det-log.ts), and derive u_i from SHA-256(tag, s, peer), so no
 *   shared RNG state and no dependence on the order of the input list.
 * - `assignGroups`: Tessera's group assignment. G = floor(n / g) groups; peers
 *   sorted by SHA-256(tag, s, peer) and cut into G contiguous runs of floor(n/G) or
 *   ceil(n/G) members, so EVERY group has at least g members (the privacy floor:
 *   only sums of >= g updates are ever revealed) and at most 2g - 1.
 * - `groupOf`: the DESIGN.md formula H(s, peer) mod G taken literally, with an
 *   unbiased reduction. Its group sizes are multinomial, so some groups fall below
 *   g; Tessera does NOT use it to form groups (see docs/architecture/reputation.md).
 *
 * Leader = first member of the committee (DESIGN.md step 3).
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { InvalidParametersError, TesseraError } from '../util/errors.ts'
import { assertPeerId, comparePeerIds, peerIdBytes } from '../reputation/peer-id.ts'
import { detLog } from '../reputation/det-log.ts'

/** Not enough peers to fill a committee of m, or to form one group of g. */
export class InsufficientPeersError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'InsufficientPeersError'
  }
}

/** Bounds on inputs, so hostile sizes give a typed error instead of a hang. */
export const MAX_SEED_BYTES = 1024
export const MAX_CANDIDATES = 1_000_000

const ENC = new TextEncoder()
const TAG_COMMITTEE = ENC.encode('tessera/committee/v1')
const TAG_GROUP_MOD = ENC.encode('tessera/group-mod/v1')
const TAG_GROUPS = ENC.encode('tessera/groups/v1')
const NO_EXTRA = new Uint8Array(0)

function assertSeed(seed: unknown): asserts seed is Uint8Array {
  if (!(seed instanceof Uint8Array)) throw new InvalidParametersError('seed must be a Uint8Array')
  if (seed.length === 0) throw new InvalidParametersError('seed must not be empty')
  if (seed.length > MAX_SEED_BYTES) throw new InvalidParametersError(`seed must be at most ${MAX_SEED_BYTES} bytes, got ${seed.length}`)
}

/**
 * SHA-256(tag || 0x00 || len32be(seed) || seed || peer key bytes || extra).
 * The length prefix keeps (seed, peer) pairs unambiguous; the tag separates the
 * uses of the seed from each other and from every other hash in Tessera.
 */
function peerHash(t: Uint8Array, seed: Uint8Array, peer: string, extra: Uint8Array = NO_EXTRA): Uint8Array {
  const p = peerIdBytes(peer)
  const e = extra
  const buf = new Uint8Array(t.length + 1 + 4 + seed.length + p.length + e.length)
  let o = 0
  buf.set(t, o); o += t.length
  buf[o++] = 0
  new DataView(buf.buffer).setUint32(o, seed.length, false); o += 4
  buf.set(seed, o); o += seed.length
  buf.set(p, o); o += p.length
  buf.set(e, o)
  return sha256(buf)
}

/** Uniform u in the open interval (0,1): (x + 1/2) / 2^52 for the top 52 bits x; exact. */
function openUnit(h: Uint8Array): number {
  // 52 bits = 4 bytes (32) + 20 bits; every intermediate is an exact integer.
  const hi = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0
  const lo = (h[4]! << 12) | (h[5]! << 4) | (h[6]! >>> 4)
  const x = hi * 1048576 + lo
  return (x + 0.5) / 4503599627370496
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!
  }
  return a.length - b.length
}

/**
 * Deterministic weighted sample of m distinct peers without replacement, in order
 * (first = leader). Peers with weight 0 are never drawn. The result depends on the
 * set of (peer, weight) pairs and the seed only, not on the order of `candidates`.
 *
 * Throws InvalidParametersError (bad seed, m, weight, duplicate peer),
 * InvalidPeerIdError (malformed id) or InsufficientPeersError (fewer than m
 * candidates of positive weight).
 */
export function selectCommittee(seed: Uint8Array, candidates: ReadonlyArray<{ peer: string, weight: number }>, m: number): string[] {
  assertSeed(seed)
  if (!Array.isArray(candidates)) throw new InvalidParametersError('candidates must be an array')
  if (candidates.length > MAX_CANDIDATES) throw new InvalidParametersError(`at most ${MAX_CANDIDATES} candidates, got ${candidates.length}`)
  if (!Number.isSafeInteger(m) || m < 1) throw new InvalidParametersError(`committee size m must be a positive integer, got ${String(m)}`)

  const seen = new Set<string>()
  let maxWeight = 0
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]
    if (c === null || typeof c !== 'object') throw new InvalidParametersError(`candidates[${i}] must be an object`)
    assertPeerId(c.peer, `candidates[${i}].peer`)
    if (seen.has(c.peer)) throw new InvalidParametersError(`candidates[${i}]: duplicate peer ${c.peer}`)
    seen.add(c.peer)
    const w = c.weight
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
      throw new InvalidParametersError(`candidates[${i}].weight must be a finite number >= 0, got ${String(w)}`)
    }
    if (w > maxWeight) maxWeight = w
  }

  const keyed: Array<{ peer: string, key: number }> = []
  for (const c of candidates) {
    if (c.weight === 0) continue
    // Normalising by the largest weight (exact for powers of two, deterministic
    // otherwise) keeps ln(u)/w far from overflow for tiny absolute weights.
    const w = c.weight / maxWeight
    const u = openUnit(peerHash(TAG_COMMITTEE, seed, c.peer))
    keyed.push({ peer: c.peer, key: detLog(u) / w })
  }
  if (keyed.length < m) {
    throw new InsufficientPeersError(`committee of ${m} needs at least ${m} candidates of positive weight, have ${keyed.length}`)
  }
  // Largest key first; ties (probability ~2^-52 per pair, or -Infinity after an
  // underflow) broken by peer id so the order is total and input-order free.
  keyed.sort((a, b) => (a.key > b.key ? -1 : a.key < b.key ? 1 : comparePeerIds(a.peer, b.peer)))
  return keyed.slice(0, m).map(k => k.peer)
}

/**
 * H(s, peer) mod G as written in DESIGN.md, with an unbiased reduction: take a
 * 32-bit word x of SHA-256(tag, s, peer, counter) and accept it when
 * x < 2^32 - (2^32 mod G), else hash again with the next counter (rejection
 * sampling; each try succeeds with probability > 1/2). Not used for Tessera's
 * groups, whose sizes must not fall below g: see `assignGroups`.
 */
export function groupOf(seed: Uint8Array, peer: string, groups: number): number {
  assertSeed(seed)
  assertPeerId(peer, 'peer')
  if (!Number.isSafeInteger(groups) || groups < 1 || groups > 0xffffffff) {
    throw new InvalidParametersError(`groups must be an integer in [1, 2^32 - 1], got ${String(groups)}`)
  }
  const limit = 4294967296 - (4294967296 % groups)
  const ctr = new Uint8Array(4)
  let x = 0
  // 256 rejections in a row have probability < 2^-256; the bound only keeps the
  // loop finite by construction.
  for (let c = 0; c < 256; c++) {
    new DataView(ctr.buffer).setUint32(0, c, false)
    const h = peerHash(TAG_GROUP_MOD, seed, peer, ctr)
    x = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0
    if (x < limit) break
  }
  return x % groups
}

/** Number of groups Tessera forms from n contributors with minimum group size g: floor(n / g). */
export function groupCount(n: number, groupSize: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidParametersError(`contributor count must be an integer >= 0, got ${String(n)}`)
  if (!Number.isSafeInteger(groupSize) || groupSize < 1) throw new InvalidParametersError(`group size g must be a positive integer, got ${String(groupSize)}`)
  return Math.floor(n / groupSize)
}

/**
 * Tessera's balanced random groups for a round. With n contributors and group size
 * g: G = floor(n / g); contributors sorted by SHA-256(tag, s, peer) (a uniformly
 * random permutation under the seed); group j takes positions
 * [floor(j n / G), floor((j + 1) n / G)). Every contributor is in exactly one
 * group and every group has floor(n/G) or ceil(n/G) members, which lies in
 * [g, 2g - 1]. Members within a group are listed in peer-id order (canonical for
 * checkpoints); groups are in cut order.
 *
 * Throws InsufficientPeersError when n < g (no group could keep the privacy floor).
 */
export function assignGroups(seed: Uint8Array, contributors: ReadonlyArray<string>, groupSize: number): string[][] {
  assertSeed(seed)
  if (!Array.isArray(contributors)) throw new InvalidParametersError('contributors must be an array')
  if (contributors.length > MAX_CANDIDATES) throw new InvalidParametersError(`at most ${MAX_CANDIDATES} contributors, got ${contributors.length}`)
  const n = contributors.length
  const G = groupCount(n, groupSize)
  const seen = new Set<string>()
  const keyed: Array<{ peer: string, h: Uint8Array }> = []
  for (let i = 0; i < n; i++) {
    const p = contributors[i]
    assertPeerId(p, `contributors[${i}]`)
    if (seen.has(p)) throw new InvalidParametersError(`contributors[${i}]: duplicate peer ${p}`)
    seen.add(p)
    keyed.push({ peer: p, h: peerHash(TAG_GROUPS, seed, p) })
  }
  if (G === 0) throw new InsufficientPeersError(`${n} contributors cannot form one group of at least ${groupSize}`)
  keyed.sort((a, b) => compareBytes(a.h, b.h) || comparePeerIds(a.peer, b.peer))
  const groups: string[][] = []
  for (let j = 0; j < G; j++) {
    const start = Math.floor((j * n) / G)
    const end = Math.floor(((j + 1) * n) / G)
    groups.push(keyed.slice(start, end).map(k => k.peer).sort(comparePeerIds))
  }
  return groups
}

/** Index of `peer`'s group in the output of `assignGroups`, or -1 if it has none. */
export function groupIndexOf(groups: ReadonlyArray<ReadonlyArray<string>>, peer: string): number {
  for (let j = 0; j < groups.length; j++) if (groups[j]!.includes(peer)) return j
  return -1
}
