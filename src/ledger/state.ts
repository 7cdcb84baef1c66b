/**
 * LedgerState: what a peer knows after folding verified entries in order:
 * author chains (heads), the admitted and excluded sets, checkpoints by round,
 * each round's contributions, receipts and plan, and the charter.
 *
 * `apply(signed)` checks every ledger rule for one entry whose signatures were
 * already checked (verify.ts), then records it. It throws a
 * LedgerVerificationError naming the broken rule and leaves the state unchanged
 * on any failure (all checks run before the first mutation). Pure: no I/O, no
 * clock, no randomness; the same entries in the same order give the same state
 * on every peer.
 *
 * Determinism of committees. Arrival order of entries from different authors
 * differs between peers, so anything a committee depends on must not. The
 * committee of round r is therefore computed only from what checkpoint r-1
 * covers: its chain heads fix which admissions and equivocation proofs count
 * (MemberInfo.joinedRound / excludedAtRound = the round of the first checkpoint
 * covering them) and the evidence of rounds < r (RoundEvidence, from receipts
 * covered by each checkpoint). Round 1 is run by the charter's founders (the
 * bootstrap committee; the genesis author if there are none), seeded by the
 * genesis CID.
 */
import type { CID } from 'multiformats/cid'
import { sha256 } from '@noble/hashes/sha2.js'
import { assignGroups, selectCommittee } from '../gossip-fl/committee.ts'
import { committeeCandidates, computeReputation, ReputationAccumulator } from '../reputation/index.ts'
import { OutlierAccumulator, persistentOutliers, type OutlierRound } from '../reputation/outliers.ts'
import { checkpointEvidence } from '../reputation/outlier-evidence.ts'
import type { MemberInfo, RoundEvidence } from '../reputation/index.ts'
import { bytesEqual, compareBytes, concatBytes, toHex } from './bytes.ts'
import type { Charter } from './charter.ts'
import { LedgerVerificationError, type LedgerRule } from './errors.ts'
import { cosigningMessage, decodeEnvelope, encodeEnvelope, watermarkCommitment, type CheckpointBody, type CheckpointCore, type EntryType, type SignedEntry } from './entry.ts'
import { retrySeed } from '../gossip-fl/round/util.ts'

/** What the state keeps about each stored entry. */
export interface EntryMeta {
  cid: CID
  author: string
  seq: number
  type: EntryType
  /** Position in this ledger's append order (0 = genesis). */
  position: number
  round?: number
}

interface ChainRecord { cids: string[] }
interface AdmissionRecord {
  /** Entries whose coverage by a checkpoint makes the admission count for committees: (author, seq). */
  witnesses: Array<{ author: string, seq: number }>
  /** How many witnesses must be covered (k in consortium mode, 1 for a join). */
  needed: number
  /** Admitted locally (may author entries now). */
  admitted: boolean
  joinedRound?: number
}
interface ExclusionRecord { proof: { author: string, seq: number }, excludedAtRound?: number }
interface RoundRecord {
  contributions: Map<string, { cid: string, seq: number }>
  receipts: Map<string, { seq: number, contributors: string[] }>
  plan?: { author: string, seq: number, cid: string, groups: string[][] }
}
export interface CheckpointRecord {
  round: number
  retry: number
  cid: CID
  author: string
  /** Highest covered seq per author (cumulative over checkpoints). */
  coverage: Map<string, number>
  committee: string[]
  signers: string[]
  body: CheckpointBody
  /** seed(round + 1, 0): `checkpointSeed` of this checkpoint's core. */
  seed: Uint8Array
}

const MAX_CACHE = 64
const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now())

function fail(rule: LedgerRule, message: string, cid?: CID): never {
  throw new LedgerVerificationError(rule, message, cid === undefined ? {} : { cid: cid.toString() })
}

/**
 * The seed of retry k of a round: s itself for k = 0, else
 * SHA-256("tessera/retry/v1" || s || uint32_be(k)). One definition, the round
 * machine's (src/gossip-fl/round/util.ts), re-exported here.
 */
export { retrySeed }

/**
 * seed(r + 1, 0) from checkpoint r: SHA-256 of exactly the bytes its quorum
 * co-signed (`cosigningMessage`: domain || genesis CID || dag-cbor(core)), i.e.
 * of the checkpoint WITHOUT its co-signatures, author, seq or timestamp. The
 * entry's CID would also hash the co-signature set, which the appending member
 * picks among the quorum subsets it holds: it could grind the next committee.
 * Two checkpoints with one core give one seed whoever appended them.
 */
export function checkpointSeed(core: CheckpointCore, genesisCid: CID): Uint8Array {
  return sha256(cosigningMessage(core, genesisCid))
}

/** seed(1, 0): the SHA-256 digest in the genesis CID (the hash of the genesis entry's bytes). */
export function genesisSeed(genesisCid: CID): Uint8Array {
  return genesisCid.multihash.digest
}

export class LedgerState {
  genesisCid: CID | null = null
  charter: Charter | null = null
  genesisAuthor: string | null = null
  /** Number of entries applied. */
  size = 0
  readonly entries = new Map<string, EntryMeta>()
  readonly chains = new Map<string, ChainRecord>()
  readonly members = new Map<string, AdmissionRecord>()
  readonly excluded = new Map<string, ExclusionRecord>()
  /** checkpoints[r] is the checkpoint of round r (index 0 unused: the genesis plays checkpoint 0). */
  readonly checkpoints: CheckpointRecord[] = []
  readonly rounds = new Map<string, RoundRecord>()
  readonly watermarks = new Map<string, { author: string, commitment: Uint8Array, modelHash: Uint8Array, position: number }>()
  readonly disputes: Array<{ cid: string, registration: string, suspectModelHash: Uint8Array, claimant: string }> = []
  /** RoundEvidence of each checkpointed round, index r-1. */
  readonly evidence: RoundEvidence[] = []
  /** Time spent deriving committees (reputation + sampling), for benchmarks. */
  readonly stats = { committeeMs: 0, committees: 0 }
  /**
   * Evidence folded incrementally (src/reputation ReputationAccumulator): the
   * committee of round lastRound + 1 costs O(members), not O(history). Its
   * snapshot has exactly the bits of computeReputation over the whole history;
   * older rounds (late entries) use computeReputation. Null until the genesis,
   * or if the evidence was ever refused (then computeReputation raises the same error).
   */
  private reputation: ReputationAccumulator | null = null
  private readonly admits = new Map<string, Set<string>>()
  private readonly joined = new Set<string>()
  private readonly committeeCache = new Map<string, string[]>()
  /**
   * Persistent-outlier evidence of each checkpointed round, index r-1 (charter.exclusion
   * enabled only): the checkpoint's non-empty groups and their decoded projections.
   */
  readonly outlierHistory: OutlierRound[] = []
  private readonly outlierCache = new Map<number, string[]>()
  /** The same evidence folded incrementally: the set of round lastRound + 1 in O(contributors). */
  private outlierAcc: OutlierAccumulator | null = null
  /** heads(), valid until the next `record` */
  private headsCache: Array<{ author: Uint8Array, seq: number, cid: CID }> | null = null

  get lastRound(): number { return this.checkpoints.length === 0 ? 0 : this.checkpoints.length - 1 }

  /** CID of the checkpoint of round r (the genesis for r = 0), or undefined. */
  checkpointCid(r: number): CID | undefined {
    if (r === 0) return this.genesisCid ?? undefined
    return this.checkpoints[r]?.cid
  }

  /** The next (seq, prev) for an author's new entry. */
  next(author: Uint8Array | string): { seq: number, prev: CID | null } {
    const a = typeof author === 'string' ? author : toHex(author)
    const chain = this.chains.get(a)
    if (chain === undefined) return { seq: 0, prev: null }
    return { seq: chain.cids.length, prev: this.entries.get(chain.cids[chain.cids.length - 1]!)!.cid }
  }

  /**
   * Current heads of every chain, sorted by author bytes: what a new checkpoint covers. Cached
   * until the next recorded entry (issue #4: ledger sync answers every peer's catch-up with the
   * heads, and a stalled 70-peer round spent 1.1 s of CPU per worker re-deriving the same list).
   */
  heads(): Array<{ author: Uint8Array, seq: number, cid: CID }> {
    if (this.headsCache === null) {
      const out: Array<{ author: Uint8Array, seq: number, cid: CID }> = []
      for (const [a, chain] of this.chains) {
        const meta = this.entries.get(chain.cids[chain.cids.length - 1]!)!
        out.push({ author: hexBytes(a), seq: meta.seq, cid: meta.cid })
      }
      this.headsCache = out.sort((x, y) => compareBytes(x.author, y.author))
    }
    return this.headsCache.map((h) => ({ author: Uint8Array.from(h.author), seq: h.seq, cid: h.cid }))
  }

  isAdmitted(peer: string): boolean { return this.members.get(peer)?.admitted === true }
  isExcluded(peer: string): boolean { return this.excluded.has(peer) }

  /** The bootstrap committee of round 1: the charter's founders, or the genesis author. */
  founders(): string[] {
    const f = this.charter!.admission.founders.map(toHex)
    return f.length > 0 ? f : [this.genesisAuthor!]
  }

  /** MemberInfo of every peer whose admission checkpoint `asOf` (or an earlier one) covers. */
  memberInfo(asOf: number): MemberInfo[] {
    const out: MemberInfo[] = []
    for (const [peer, rec] of this.members) {
      if (rec.joinedRound === undefined || rec.joinedRound > asOf) continue
      const ex = this.excluded.get(peer)?.excludedAtRound
      out.push(ex !== undefined && ex <= asOf ? { peer, joinedRound: rec.joinedRound, excludedAtRound: ex } : { peer, joinedRound: rec.joinedRound })
    }
    return out.sort((a, b) => (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0))
  }

  /**
   * The seed of (round, retry), 32 bytes: retrySeed(seed(round, 0), retry) with
   * seed(1, 0) = genesisSeed, seed(r, 0) = checkpointSeed(core of checkpoint r-1).
   */
  seed(round: number, retry: number): Uint8Array {
    if (!Number.isSafeInteger(round) || round < 1) fail('reference', `no round ${round}`)
    let s: Uint8Array | undefined
    if (round === 1) s = this.genesisCid === null ? undefined : genesisSeed(this.genesisCid)
    else s = this.checkpoints[round - 1]?.seed
    if (s === undefined) fail('reference', `round ${round} cannot start: no checkpoint for round ${round - 1}`)
    return retrySeed(s, retry)
  }

  /**
   * The committee of (round, retry), in committee order (first = leader):
   * `selectCommittee` (src/gossip-fl/committee.ts) seeded by `seed(round, retry)`
   * over the eligible peers weighted by `computeReputation` (src/reputation) of
   * the evidence of rounds < round. Size min(m, candidates); fewer than t
   * candidates means no valid committee ('committee').
   */
  committee(round: number, retry: number): string[] {
    const key = `${round}/${retry}`
    const cached = this.committeeCache.get(key)
    if (cached !== undefined) return cached
    if (this.charter === null) fail('genesis', 'no genesis')
    const t0 = now()
    try {
      const committee = this.drawCommittee(round, retry)
      if (this.committeeCache.size >= MAX_CACHE) this.committeeCache.delete(this.committeeCache.keys().next().value!)
      this.committeeCache.set(key, committee)
      return committee
    } finally {
      this.stats.committeeMs += now() - t0
      this.stats.committees++
    }
  }

  private drawCommittee(round: number, retry: number): string[] {
    const seed = this.seed(round, retry)
    const charter = this.charter!
    const { m, t } = charter.committee
    let candidates: Array<{ peer: string, weight: number }>
    if (round === 1) {
      candidates = this.founders().filter((p) => !this.isExcludedAsOf(p, 0)).map((peer) => ({ peer, weight: 1 }))
    } else {
      try {
        const members = this.memberInfo(round - 1)
        const acc = this.reputation
        const rep = acc !== null && acc.lastRound === round - 1
          ? acc.snapshot(members, round)
          : computeReputation(this.evidence.slice(0, round - 1), members, { ...charter.reputation, round })
        candidates = committeeCandidates(rep)
      } catch (err) {
        fail('committee', `reputation of round ${round} cannot be computed: ${(err as Error).message}`)
      }
    }
    if (candidates.length < t) fail('committee', `round ${round} retry ${retry}: ${candidates.length} eligible candidates, fewer than the threshold t = ${t}`)
    let committee: string[]
    try {
      committee = selectCommittee(seed, candidates, Math.min(m, candidates.length))
    } catch (err) {
      fail('committee', `committee of round ${round} cannot be drawn: ${(err as Error).message}`)
    }
    return committee
  }

  /** Whether the charter makes persistent-outlier exclusion binding (v3 with exclusion.enabled). */
  get exclusionEnabled(): boolean { return this.charter?.exclusion.enabled === true }

  /**
   * Contributors excluded from round `round` as persistent outliers, in peer-id order:
   * `persistentOutliers` (src/reputation/outliers.ts) with the charter's parameters over the
   * evidence of checkpoints 1 .. round-1 (their groups and projections). A function of the
   * checkpoints alone, so every peer and every verifier replaying the ledger gets the same
   * set; sticky (an excluded contributor is no longer planned, so its window keeps the rounds
   * that excluded it). Empty when the charter does not enable exclusion. Needs checkpoint
   * round-1 ('reference' otherwise).
   */
  outlierExclusion(round: number): string[] {
    if (this.charter === null) fail('genesis', 'no genesis')
    if (!Number.isSafeInteger(round) || round < 1) fail('reference', `no round ${round}`)
    if (!this.exclusionEnabled) return []
    if (round - 1 > this.lastRound) fail('reference', `round ${round}: no checkpoint for round ${round - 1}`)
    const cached = this.outlierCache.get(round)
    if (cached !== undefined) return cached
    const { window, minObservations, tCritical } = this.charter.exclusion
    // The next round (every plan and checkpoint being checked): the accumulator, equal bit for
    // bit to persistentOutliers over the whole history; an older round: recomputed.
    const acc = this.outlierAcc
    const out = acc !== null && acc.rounds === round - 1 ? acc.excluded() : persistentOutliers(this.outlierHistory.slice(0, round - 1), { window, minObservations, tCritical })
    if (this.outlierCache.size >= MAX_CACHE) this.outlierCache.delete(this.outlierCache.keys().next().value!)
    this.outlierCache.set(round, out)
    return out
  }

  /** ceil(2|C|/3): co-signatures a checkpoint needs, counting its author. */
  quorum(committeeSize: number): number {
    return Math.ceil((2 * committeeSize) / 3)
  }

  private isExcludedAsOf(peer: string, round: number): boolean {
    const r = this.excluded.get(peer)?.excludedAtRound
    return r !== undefined && r <= round
  }

  private roundRecord(round: number, retry: number, create: boolean): RoundRecord | undefined {
    const key = `${round}/${retry}`
    let rec = this.rounds.get(key)
    if (rec === undefined && create) {
      rec = { contributions: new Map(), receipts: new Map() }
      this.rounds.set(key, rec)
    }
    return rec
  }

  /**
   * Check every rule for `signed` (its signatures already verified) and record it.
   * Throws LedgerVerificationError; the state is unchanged when it throws.
   */
  apply(signed: SignedEntry, position = this.size): EntryMeta {
    return this.prepare(signed, position)()
  }

  /**
   * Check every rule for `signed` without changing the state; return the commit
   * that records it. Lets the store write durably between the check and the
   * commit (nothing else may touch the state in between).
   */
  prepare(signed: SignedEntry, position = this.size): () => EntryMeta {
    const { entry, cid } = signed
    const author = toHex(entry.author)
    const cidStr = cid.toString()

    // Genesis first, exactly once.
    if (this.genesisCid === null) {
      if (entry.type !== 'genesis') fail('genesis', 'the first entry must be the genesis', cid)
      if (entry.seq !== 0 || entry.prev !== null) fail('genesis', 'the genesis must have seq 0 and no prev', cid)
      return () => {
        const charter = entry.body as Charter
        this.genesisCid = cid
        this.charter = charter
        this.genesisAuthor = author
        const meta = this.record(signed, author, position)
        for (const f of new Set([author, ...charter.admission.founders.map(toHex)])) {
          this.members.set(f, { witnesses: [], needed: 0, admitted: true, joinedRound: 0 })
        }
        this.checkpoints.length = 1
        if (charter.exclusion.enabled) {
          const { window, minObservations, tCritical } = charter.exclusion
          this.outlierAcc = new OutlierAccumulator({ window, minObservations, tCritical })
        }
        try {
          this.reputation = new ReputationAccumulator(charter.reputation)
        } catch {
          this.reputation = null
        }
        return meta
      }
    }
    if (entry.type === 'genesis') fail('genesis', 'a network has exactly one genesis', cid)
    if (this.entries.has(cidStr)) fail('duplicate', `entry ${cidStr} is already in the ledger`, cid)
    if (this.excluded.has(author)) fail('excluded-author', `author ${author} was excluded for equivocation`, cid)

    // Per-author hash chain.
    const chain = this.chains.get(author)
    const nextSeq = chain === undefined ? 0 : chain.cids.length
    if (entry.seq < nextSeq) {
      const existing = chain!.cids[entry.seq]!
      throw new LedgerVerificationError('equivocation', `author ${author} already has a different entry ${existing} at seq ${entry.seq}`, { cid: cidStr, conflictCid: existing })
    }
    if (entry.seq > nextSeq) fail('seq-gap', `author ${author}: expected seq ${nextSeq}, got ${entry.seq}`, cid)
    const expectedPrev = chain === undefined ? null : this.entries.get(chain.cids[chain.cids.length - 1]!)!.cid
    if (expectedPrev === null ? entry.prev !== null : (entry.prev === null || !entry.prev.equals(expectedPrev))) {
      fail('chain-prev', `author ${author} seq ${entry.seq}: prev must be ${expectedPrev?.toString() ?? 'null'}`, cid)
    }

    // Admission.
    const charter = this.charter!
    const admitted = this.isAdmitted(author)
    if (entry.type === 'join') {
      if (charter.admission.mode === 'consortium' && !admitted) fail('not-admitted', `consortium: ${author} needs ${charter.admission.k} founders' admit entries before it may write`, cid)
      if (this.joined.has(author) || (charter.admission.mode === 'open' && admitted)) fail('duplicate', `${author} is already a member`, cid)
    } else if (!admitted) {
      fail('not-admitted', `${author} is not a member of the network`, cid)
    }

    const effect = this.checkType(signed, author, position)
    return () => {
      const meta = this.record(signed, author, position)
      effect(meta)
      return meta
    }
  }

  private record(signed: SignedEntry, author: string, position: number): EntryMeta {
    this.headsCache = null
    const { entry, cid } = signed
    const body = entry.body as { round?: number }
    const meta: EntryMeta = { cid, author, seq: entry.seq, type: entry.type, position }
    if (typeof body.round === 'number') meta.round = body.round
    const cidStr = cid.toString()
    this.entries.set(cidStr, meta)
    let chain = this.chains.get(author)
    if (chain === undefined) { chain = { cids: [] }; this.chains.set(author, chain) }
    chain.cids.push(cidStr)
    this.size++
    return meta
  }

  /** Type-specific checks; returns the mutation to run once the entry is recorded. */
  private checkType(signed: SignedEntry, author: string, position: number): (meta: EntryMeta) => void {
    const { entry, cid } = signed
    const charter = this.charter!
    const cidStr = cid.toString()
    switch (entry.type) {
      case 'genesis':
        return fail('genesis', 'unreachable', cid)
      case 'join': {
        if (charter.admission.mode === 'consortium') return () => { this.joined.add(author) }
        return (meta) => {
          this.joined.add(author)
          this.members.set(author, { witnesses: [{ author, seq: meta.seq }], needed: 1, admitted: true })
        }
      }
      case 'admit': {
        const adm = charter.admission
        if (adm.mode !== 'consortium') fail('charter-limit', 'admit entries exist only in consortium mode', cid)
        if (!adm.founders.some((f) => toHex(f) === author)) fail('not-admitted', `${author} is not a founder and cannot admit`, cid)
        const peer = toHex((entry as SignedEntry<'admit'>['entry']).body.peer)
        if (this.excluded.has(peer)) fail('excluded-author', `${peer} was excluded for equivocation`, cid)
        const by = this.admits.get(peer)
        if (by?.has(author) === true) fail('duplicate', `${author} already admitted ${peer}`, cid)
        return (meta) => {
          const set = by ?? new Set<string>()
          set.add(author)
          this.admits.set(peer, set)
          let rec = this.members.get(peer)
          if (rec === undefined) { rec = { witnesses: [], needed: adm.k, admitted: false }; this.members.set(peer, rec) }
          if (rec.joinedRound === undefined) rec.witnesses.push({ author, seq: meta.seq })
          if (set.size >= adm.k) rec.admitted = true
        }
      }
      case 'contribution': {
        const b = (entry as SignedEntry<'contribution'>['entry']).body
        const committee = this.committee(b.round, b.retry)
        if (b.commitments.length !== committee.length) fail('charter-limit', `round ${b.round} retry ${b.retry}: ${b.commitments.length} commitments for a committee of ${committee.length}`, cid)
        if (this.roundRecord(b.round, b.retry, false)?.contributions.has(author) === true) fail('duplicate', `${author} already contributed to round ${b.round} retry ${b.retry}`, cid)
        return (meta) => { this.roundRecord(b.round, b.retry, true)!.contributions.set(author, { cid: cidStr, seq: meta.seq }) }
      }
      case 'receipt': {
        const b = (entry as SignedEntry<'receipt'>['entry']).body
        const committee = this.committee(b.round, b.retry)
        if (!committee.includes(author)) fail('committee', `${author} is not in the committee of round ${b.round} retry ${b.retry}`, cid)
        const rec = this.roundRecord(b.round, b.retry, false)
        if (rec?.receipts.has(author) === true) fail('duplicate', `${author} already published a receipt for round ${b.round} retry ${b.retry}`, cid)
        const seen = new Set<string>()
        for (const ack of b.acks) {
          const a = ack.toString()
          const m = this.entries.get(a)
          if (m === undefined || m.type !== 'contribution') fail('reference', `receipt acknowledges ${a}, which is not a known contribution`, cid)
          if (rec?.contributions.get(m.author)?.cid !== a) fail('reference', 'receipt acknowledges a contribution to another round', cid)
          if (seen.has(m.author)) fail('duplicate', `receipt acknowledges ${m.author} twice`, cid)
          seen.add(m.author)
        }
        const contributors = [...seen]
        return (meta) => { this.roundRecord(b.round, b.retry, true)!.receipts.set(author, { seq: meta.seq, contributors }) }
      }
      case 'plan': {
        const b = (entry as SignedEntry<'plan'>['entry']).body
        const committee = this.committee(b.round, b.retry)
        if (committee[0] !== author) fail('committee', `only the leader ${committee[0]} may publish the plan of round ${b.round} retry ${b.retry}`, cid)
        const rec = this.roundRecord(b.round, b.retry, false)
        if (rec?.plan !== undefined) fail('duplicate', `round ${b.round} retry ${b.retry} already has a plan`, cid)
        const groups = b.groups.map((g) => g.map(toHex))
        this.checkGroups(groups, b.round, b.retry, rec, cid)
        this.checkNotExcluded(groups, b.round, cid)
        return (meta) => { this.roundRecord(b.round, b.retry, true)!.plan = { author, seq: meta.seq, cid: cidStr, groups } }
      }
      case 'checkpoint':
        return this.checkCheckpoint(signed as SignedEntry<'checkpoint'>, author)
      case 'watermark': {
        const b = (entry as SignedEntry<'watermark'>['entry']).body
        return () => { this.watermarks.set(cidStr, { author, commitment: b.commitment, modelHash: b.modelHash, position }) }
      }
      case 'dispute': {
        const b = (entry as SignedEntry<'dispute'>['entry']).body
        const reg = this.watermarks.get(b.registration.toString())
        if (reg === undefined) fail('reference', `dispute names ${b.registration.toString()}, which is not a watermark registration`, cid)
        if (!charter.watermark.schemes.includes(b.opening.scheme)) fail('charter-limit', `watermark scheme '${b.opening.scheme}' is not allowed by the charter`, cid)
        if (!bytesEqual(watermarkCommitment(b.opening), reg.commitment)) fail('commitment', 'the opening does not match the registered commitment', cid)
        return () => { this.disputes.push({ cid: cidStr, registration: b.registration.toString(), suspectModelHash: b.suspectModelHash, claimant: author }) }
      }
      case 'equivocation': {
        const b = (entry as SignedEntry<'equivocation'>['entry']).body
        const { accused } = parseEquivocationProof(b)
        if (this.excluded.has(accused)) fail('duplicate', `${accused} is already excluded`, cid)
        return (meta) => { this.excluded.set(accused, { proof: { author, seq: meta.seq } }) }
      }
    }
  }

  /** Groups must be the balanced partition `assignGroups(seed, contributors, g)` of contributors with a contribution in (round, retry). */
  private checkGroups(groups: string[][], round: number, retry: number, rec: RoundRecord | undefined, cid: CID): void {
    const all = groups.flat()
    if (new Set(all).size !== all.length) fail('group', 'a contributor appears twice in the groups', cid)
    for (const p of all) if (rec?.contributions.has(p) !== true) fail('reference', `${p} has no contribution to round ${round} retry ${retry}`, cid)
    if (all.length === 0) return
    let expected: string[][]
    try {
      expected = assignGroups(this.seed(round, retry), all, this.charter!.committee.g)
    } catch (err) {
      fail('group', `groups cannot be formed: ${(err as Error).message}`, cid)
    }
    const same = expected.length === groups.length && expected.every((g, j) => g.length === groups[j]!.length && g.every((p, i) => p === groups[j]![i]))
    if (!same) fail('group', `groups of round ${round} retry ${retry} are not assignGroups(seed, contributors, g)`, cid)
  }

  /** No planned contributor may be one the ledger excludes from `round` as a persistent outlier. */
  private checkNotExcluded(groups: string[][], round: number, cid: CID): void {
    if (!this.exclusionEnabled) return
    let excluded: Set<string>
    try {
      excluded = new Set(this.outlierExclusion(round))
    } catch (err) {
      if (err instanceof LedgerVerificationError) throw err
      fail('outlier', `outlier exclusion of round ${round} cannot be computed: ${(err as Error).message}`, cid)
    }
    for (const g of groups) for (const p of g) if (excluded.has(p)) fail('outlier', `round ${round} groups ${p}, excluded as a persistent outlier`, cid)
  }

  private checkCheckpoint(signed: SignedEntry<'checkpoint'>, author: string): (meta: EntryMeta) => void {
    const { entry, cid } = signed
    const b = entry.body
    const last = this.lastRound
    if (b.round <= last) fail('duplicate', `round ${b.round} already has a checkpoint`, cid)
    if (b.round !== last + 1) fail('checkpoint-order', `next checkpoint is for round ${last + 1}, got ${b.round}`, cid)
    if (!b.prev.equals(this.checkpointCid(last)!)) fail('checkpoint-order', `prev must be ${this.checkpointCid(last)!.toString()}`, cid)
    const committee = this.committee(b.round, b.retry)
    if (!committee.includes(author)) fail('committee', `author ${author} is not in the committee of round ${b.round} retry ${b.retry}`, cid)
    const signers = new Set([author])
    for (const c of b.cosigs) {
      const s = toHex(c.signer)
      if (!committee.includes(s)) fail('committee', `co-signer ${s} is not in the committee of round ${b.round} retry ${b.retry}`, cid)
      if (signers.has(s)) fail('duplicate', `co-signer ${s} appears twice`, cid)
      signers.add(s)
    }
    const need = this.quorum(committee.length)
    if (signers.size < need) fail('quorum', `${signers.size} committee signatures, need ${need} of ${committee.length}`, cid)

    // Covered heads: sorted, known, matching, never backwards.
    const prevCoverage = last === 0 ? new Map<string, number>() : this.checkpoints[last]!.coverage
    const coverage = new Map(prevCoverage)
    for (let i = 0; i < b.heads.length; i++) {
      const h = b.heads[i]!
      if (i > 0 && compareBytes(b.heads[i - 1]!.author, h.author) >= 0) fail('malformed', 'heads must be sorted by author with no repeats', cid)
      const a = toHex(h.author)
      const known = this.chains.get(a)?.cids[h.seq]
      if (known === undefined) fail('heads', `covered head ${a} seq ${h.seq} is not in the ledger`, cid)
      if (known !== h.cid.toString()) fail('heads', `covered head ${a} seq ${h.seq} is ${known}, not ${h.cid.toString()}`, cid)
      if (h.seq < (prevCoverage.get(a) ?? -1)) fail('heads', `covered head of ${a} goes back from ${prevCoverage.get(a)} to ${h.seq}`, cid)
      coverage.set(a, h.seq)
    }
    const covered = (w: { author: string, seq: number }): boolean => (coverage.get(w.author) ?? -1) >= w.seq

    // Groups: the plan's groups, each possibly emptied (a group whose sum could not be reconstructed).
    const rec = this.roundRecord(b.round, b.retry, false)
    const plan = rec?.plan
    if (plan === undefined) fail('reference', `round ${b.round} retry ${b.retry} has no plan`, cid)
    if (!covered(plan)) fail('heads', 'the checkpoint does not cover the plan', cid)
    const groups = b.groups.map((g) => g.map(toHex))
    if (groups.length !== plan.groups.length) fail('group', `${groups.length} groups, the plan has ${plan.groups.length}`, cid)
    for (let j = 0; j < groups.length; j++) {
      const g = groups[j]!
      const pg = plan.groups[j]!
      if (g.length !== 0 && (g.length !== pg.length || g.some((p, i) => p !== pg[i]))) fail('group', `group ${j} is neither the plan's group nor empty`, cid)
      for (const p of g) if (!covered({ author: p, seq: rec!.contributions.get(p)!.seq })) fail('heads', `the checkpoint does not cover ${p}'s contribution`, cid)
    }
    for (const j of b.farGroups) if (j >= groups.length) fail('group', `far group ${j} does not exist`, cid)
    // Persistent-outlier exclusion (charter v3): the evidence is required (and forbidden without
    // it), and no included contributor may be one the ledger excludes from this round.
    let outlierRound: OutlierRound | undefined
    if (this.exclusionEnabled) {
      if (b.projections === undefined) fail('outlier', `round ${b.round}: the charter enables exclusion but the checkpoint carries no projections`, cid)
      try {
        outlierRound = checkpointEvidence(groups, b.projections)
      } catch (err) {
        fail('malformed', `round ${b.round}: ${(err as Error).message}`, cid)
      }
      this.checkNotExcluded(groups, b.round, cid)
    } else if (b.projections !== undefined) {
      fail('outlier', `round ${b.round}: projections on a checkpoint of a network without exclusion`, cid)
    }
    const named = (list: Uint8Array[], what: string): string[] => list.map((k) => {
      const p = toHex(k)
      const m = this.members.get(p)
      if (m === undefined) fail('unknown-author', `${what} ${p} is not a member`, cid)
      return p
    })
    const blamed = named(b.blame, 'blamed peer')
    const refused = named(b.refused, 'refused contributor')

    // Members and exclusions this checkpoint covers for the first time.
    const newlyJoined: string[] = []
    for (const [peer, m] of this.members) {
      if (m.joinedRound !== undefined || !m.admitted) continue
      if (m.witnesses.filter(covered).length >= m.needed) newlyJoined.push(peer)
    }
    const newlyExcluded: string[] = []
    for (const [peer, x] of this.excluded) if (x.excludedAtRound === undefined && covered(x.proof)) newlyExcluded.push(peer)
    const joinedNow = new Set(newlyJoined)
    const memberNow = (p: string): boolean => this.members.get(p)?.joinedRound !== undefined || joinedNow.has(p)
    for (const p of [...groups.flat(), ...blamed, ...refused]) if (!memberNow(p)) fail('heads', `the checkpoint names ${p} but does not cover its admission`, cid)

    // Evidence for reputation (src/reputation RoundEvidence), from entries this checkpoint covers.
    const delivered: Record<string, number> = {}
    const receipted = new Set<string>()
    for (const [member, r] of rec!.receipts) {
      if (!committee.includes(member) || !covered({ author: member, seq: r.seq })) continue
      receipted.add(member)
      // Add, never assign: a member that also contributes is credited for its own
      // receipt and for the receipts acknowledging its shares, and a sum does not
      // depend on which receipt arrived first (an assignment did, so peers that saw
      // receipts in different orders drew different committees).
      delivered[member] = (delivered[member] ?? 0) + r.contributors.length
      // Only peers whose admission this checkpoint covers may appear in evidence
      // (src/reputation refuses others): an acknowledged contributor the checkpoint
      // does not cover earns nothing here, rather than poisoning every later round.
      for (const c of r.contributors) if (memberNow(c)) delivered[c] = (delivered[c] ?? 0) + 1
    }
    const far = new Set<string>()
    for (const j of b.farGroups) for (const p of groups[j]!) far.add(p)
    const evidence: RoundEvidence = {
      round: b.round,
      committee: [...committee],
      contributors: plan.groups.flat().filter(memberNow),
      delivered,
      blamed,
      // Members without a covered receipt: fixed by the co-signed core. (Not "did not co-sign": the
      // appending member picks which quorum subset of co-signatures to include, and would pick whom
      // to penalise, hence the next committees.)
      missed: committee.filter((p) => !receipted.has(p)),
      farGroupMembers: [...far],
      refused
    }
    return (meta) => {
      for (const p of newlyJoined) this.members.get(p)!.joinedRound = b.round
      for (const p of newlyExcluded) this.excluded.get(p)!.excludedAtRound = b.round
      const { cosigs: _cosigs, ...core } = b
      this.checkpoints[b.round] = { round: b.round, retry: b.retry, cid, author, coverage, committee, signers: [...signers], body: b, seed: checkpointSeed(core, this.genesisCid!) }
      this.evidence.push(evidence)
      if (outlierRound !== undefined) {
        this.outlierHistory.push(outlierRound)
        try {
          this.outlierAcc?.add(outlierRound)
        } catch {
          this.outlierAcc = null // outlierExclusion recomputes from the history instead
        }
      }
      if (this.reputation !== null) {
        try {
          this.reputation.addRound(evidence, this.memberInfo(b.round))
        } catch {
          this.reputation = null // computeReputation will report the same problem for later rounds
        }
      }
      void meta
    }
  }
}

function hexBytes(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16)
  return out
}

/**
 * Decode the two envelopes of an equivocation proof and check they prove
 * equivocation: same author, same seq, different entries. Signatures are
 * checked separately (verify.ts). Throws LedgerVerificationError('proof').
 */
export function parseEquivocationProof(body: { a: { entry: Uint8Array, sig: Uint8Array }, b: { entry: Uint8Array, sig: Uint8Array } }): { accused: string, a: SignedEntry, b: SignedEntry } {
  let a: SignedEntry, b: SignedEntry
  try {
    a = decodeEnvelope(encodeEnvelope(body.a.entry, body.a.sig))
    b = decodeEnvelope(encodeEnvelope(body.b.entry, body.b.sig))
  } catch (err) {
    throw new LedgerVerificationError('proof', `equivocation proof holds a malformed entry: ${(err as Error).message}`, { cause: err })
  }
  if (!bytesEqual(a.entry.author, b.entry.author)) throw new LedgerVerificationError('proof', 'the two entries have different authors')
  if (a.entry.seq !== b.entry.seq) throw new LedgerVerificationError('proof', 'the two entries have different seq')
  if (a.cid.equals(b.cid)) throw new LedgerVerificationError('proof', 'the two entries are the same entry')
  return { accused: toHex(a.entry.author), a, b }
}
