/**
 * One peer's round r as a pure state machine (DESIGN.md "A round"): inputs are
 * messages, clock ticks and the host's training result; outputs are direct sends,
 * gossip publications, ledger entry bodies, a training request, misbehaviour
 * reports and, at the end, the co-signed checkpoint. No I/O, no clock, no global
 * randomness: the Signer, the verifier and the Rng are injected.
 *
 * A peer plays up to two roles in the same machine:
 * - contributor: clip, noise, encode, Shamir-share to the m members (one direct
 *   send each), publish commitments;
 * - committee member (of retry k's committee): deal zero masks, collect shares,
 *   publish a receipt with masked norm points, (leader) publish the plan, send
 *   partial sums, reconstruct group sums robustly, aggregate, sign the checkpoint.
 *
 * Hostile input never throws out of `step`: it becomes a typed error, is dropped,
 * and is reported as `{ kind: 'misbehaviour' }` with severity 'reject' (provable
 * misbehaviour: charge reputation) or 'ignore' (stale / duplicate / late).
 * docs/architecture/round.md describes phases, messages, deadlines and failures.
 */
import type { Rng } from '../../util/rng.ts'
import { TesseraError } from '../../util/errors.ts'
import { comparePeerIds } from '../../reputation/peer-id.ts'
import { selectCommittee } from '../committee.ts'
import { clipL2, gaussianFill } from '../../model/update.ts'
import {
  decodeMessage, encodeMessage, signingBytes, LIMITS, shareCommitment, checkpointBodyHash,
  FAMILY_SHARE, FAMILY_ZERO, FAMILY_PARTIAL, TOPIC_CONTRIBUTION, TOPIC_RECEIPT, TOPIC_PLAN, TOPIC_CHECKPOINT, TOPIC_ZCHECK,
  type Family, type Topic, type RoundMessage, type ShareMsg, type ContributionMsg, type ZeroMsg, type ReceiptMsg,
  type PlanMsg, type ZeroCheckMsg, type Hash, type PartialMsg, type CheckpointSigMsg, type CheckpointBody, type Refusal, type PlanGroup, type SignedMessage
} from './messages.ts'
import {
  BadSignatureError, DuplicateMessageError, MessageDecodeError, ProtocolViolationError, RoundStateError,
  UnauthorizedSenderError, WrongRoundError
} from './errors.ts'
import { checkpointQuorum, fixedPointPlan, perContributorNoiseStd, phaseDeadlines, type FixedPointPlan, type RoundParams } from './params.ts'
import { zeroCheckChallenge, zeroCheckPoint, decodeNormSquared, dealZeroMasks, encodeFixed, holderX, robustReconstructVector, shareVector, sumOfSquares, sumSharesInto, P } from './sharing.ts'
import { blocksHeld, buildPlan, checkPlan, dealerBlocks, normVerdicts, planBlock, receiptShapeError, type NormVerdicts } from './plan.ts'
import { encodeGroupSums, groupSumsHash, modelHash, projectionsForCheckpoint, recomputeModelFromField, ruleStateHash } from './aggregate.ts'
import type { RuleState } from './rules.ts'
import type { RoundSigner, RoundVerify } from './signer.ts'
import { bytesEqual, retrySeed, toHex } from './util.ts'
import { sha256 } from '@noble/hashes/sha2.js'

// ---------------------------------------------------------------- inputs / outputs

export type RoundInput =
  /**
   * `decoded`: optionally, `decodeMessage(payload)` as the host already computed it (the node's
   * router decodes every inbound message to route it by round): the machine then skips a second
   * decode of model-sized shares and partial sums. Only a host that obtained it from
   * `decodeMessage(payload)` may pass it.
   */
  | { kind: 'message', from: string, payload: Uint8Array, decoded?: RoundMessage }
  | { kind: 'tick', now: number }
  | { kind: 'trained', update: Float32Array }
  /**
   * A contribution the host took from its verified ledger (`RoundConfig.contributionsFromLedger`):
   * the ledger entry {round, retry, commitments} is signed by the contributor's key, the same
   * Ed25519 key that signs its round messages, and the ledger verified it, so the machine does not
   * verify it again. Every other check of a gossiped contribution applies.
   */
  | { kind: 'contribution', from: string, round: number, retry: number, commitments: Uint8Array[] }

/**
 * Ledger entry bodies the host signs, chains and appends (E's ledger); ledger.ts
 * maps each to E's body type (contributionBody, receiptBody, planBody, checkpointCore).
 */
export type LedgerBody =
  | { type: 'contribution', round: number, retry: number, dim: number, commitments: Uint8Array[] }
  | { type: 'receipt', round: number, retry: number, held: Array<{ c: string, h: Uint8Array }> /* ledger.ts receiptBody: acks = CIDs of these contributions */ }
  | { type: 'plan', round: number, retry: number, groups: PlanGroup[], refused: Refusal[], blamed: Refusal[] }
  /** `receipts`: the members whose receipts this member held when it signed (the ledger checkpoint should cover their receipt entries: reputation's `missed`) */
  | { type: 'checkpoint', body: CheckpointBody, bodyHash: Uint8Array, sig: Uint8Array, receipts: string[] }

export interface CompletedCheckpoint {
  body: CheckpointBody
  bodyHash: Uint8Array
  /** >= ceil(2m/3) committee signatures on bodyHash. */
  signatures: Array<{ peer: string, sig: Uint8Array }>
  /** Members only: the new model, the rule's state, and the published group sums blob. */
  model?: Float32Array
  ruleState?: RuleState
  groupSums?: Uint8Array
}

export type MisbehaviourSeverity = 'reject' | 'ignore'

export type RoundOutput =
  | { kind: 'send', to: string, family: Family, bytes: Uint8Array }
  | { kind: 'publish', topic: Topic, bytes: Uint8Array }
  | { kind: 'append', entry: LedgerBody }
  | { kind: 'train', model: Float32Array, round: number }
  | { kind: 'misbehaviour', peer: string, reason: string, severity: MisbehaviourSeverity, error: string }
  | { kind: 'retry', retry: number, committee: string[], reason: string }
  | { kind: 'failed', reason: string }
  | { kind: 'done', checkpoint: CompletedCheckpoint }

/** Fault injection for research and tests (never set in production). */
export interface RoundFaults {
  /** Contributor: share the update without clipping (an over-norm contributor). */
  skipClip?: boolean
  /** Member: add this field value to every coordinate of every partial sum it sends. */
  corruptPartials?: number
  /** Member (dealer): at retry `retry`, deal norm masks whose constant term is `delta`, not 0. */
  badZeroDeal?: { delta: number, retry: number }
}

/**
 * Who runs each retry, decided outside the machine (the node: the ledger's
 * `LedgerState.seed(r, k)` and `committee(r, k)`, so every entry the machine
 * produces is one the ledger accepts). With a schedule, the leader of retry k
 * cuts the plan's groups as `assignGroups(seed(k), planned contributors, g)`
 * (re-cut after any drop, so the groups are exactly that partition of the
 * contributors that remain) and members refuse a plan that is not.
 */
export interface RoundSchedule {
  /** seed of retry k (seed(0) should equal `RoundConfig.seed`) */
  seed: (k: number) => Uint8Array
  /** committee of retry k, leader first */
  committee: (k: number) => readonly string[]
}

export interface RoundConfig {
  params: RoundParams
  /** Round number r (this machine produces checkpoint r). */
  round: number
  /**
   * s = the round seed, seed(r, 0): the hash of checkpoint r-1 without its
   * co-signatures (src/ledger `checkpointSeed`; `genesisSeed` for round 1). It is
   * also the checkpoint body's `prev`, naming checkpoint r-1 by content.
   */
  seed: Uint8Array
  /**
   * Retries' seeds and committees. Default: seed(k) = retrySeed(s, k), committee =
   * selectCommittee(seed(k), candidates, m), plan groups cut with s in every retry
   * (the in-memory simulator and the harness use the default).
   */
  schedule?: RoundSchedule
  prevModel: Float32Array
  ruleState?: RuleState
  /** Committee candidates with their reputation weights (F's selectCommittee). */
  candidates: ReadonlyArray<{ peer: string, weight: number }>
  /** Eligible contributors this round. */
  contributors: readonly string[]
  /** Start of the first retry this machine runs (ms, the host's clock). */
  startTime: number
  /**
   * Index of the first retry this machine runs (default 0); it runs firstRetry .. firstRetry +
   * maxRetries. A host that runs round r again after a machine gave up continues the numbering,
   * so the re-run draws new committees (seed(r, k) for new k) instead of the same maxRetries + 1:
   * with the same ones, a round whose every committee could not finish (e.g. a dead member as the
   * leader of each) never finished, however often it was re-run.
   */
  firstRetry?: number
  signer: RoundSigner
  verify: RoundVerify
  rng: Rng
  /** Whether this peer contributes (default: it is an eligible contributor). */
  contribute?: boolean
  faults?: RoundFaults
  /**
   * A member whose zero masks are incomplete at the share deadline waits up to this long (ms,
   * capped at half the receipt phase) for the missing ones before publishing its receipt, and
   * publishes as soon as they are all in. Default 0: the receipt goes at the share deadline
   * (the simulator and the harness). A member publishes norm points only over the dealer blocks
   * whose masks it holds completely (plan.ts dealerBlocks), so one late mask (a dealer whose
   * process was busy) costs it its points over that block; the node sets it.
   */
  maskWaitMs?: number
  /**
   * Publish the receipt as soon as every eligible contributor's share and
   * contribution and every member's zero masks are in, instead of at the share
   * deadline (default false: unchanged). The later phases already end early once
   * their messages are in, so with this a round in which everyone delivered lasts
   * its slowest trainer plus the protocol, not the share deadline (bench/round.ts).
   */
  earlyReceipt?: boolean
  /**
   * SHA-256 for the model-sized hashes of the round (share commitments, group sums hash,
   * model hash, rule state hash) and the checkpoint body hash. Default: @noble/hashes' pure-JS
   * SHA-256, so the machine runs in any JS engine; the Node peer passes node:crypto's native one
   * (same digests; the pure-JS hash of 400 KB vectors was ~8% of an MLP round's CPU).
   */
  sha256?: Hash
  /**
   * Persistent-outlier exclusion, when the network's charter enables it (issue #5; the node
   * passes its ledger's `LedgerState.outlierExclusion(r)`, the simulator the same rule over
   * its checkpoints). With it: the leader refuses `excluded` contributors in its plan (reason
   * 'excluded'), members refuse a plan that groups one ('bad-plan:groups-excluded'), and the
   * checkpoint body carries `projections`, the evidence of later rounds' exclusions. Without
   * it (default), bodies and plans are exactly as before.
   */
  outliers?: { excluded: readonly string[] }
  /**
   * Contributions come from the host's ledger (`step({kind: 'contribution'})`), not from gossip:
   * the machine does not publish its own contribution on `round/contribution/1` (its `append`
   * output still carries the same commitments, which the host's ledger announces). Default false:
   * published as before (the simulator, the harness). Why (issue #4): every contribution crossed
   * the network twice, as a round message and as its ledger entry, each reaching every peer ~D
   * times with a gossipsub signature check, our own signature check, decode and forwarding; at 40
   * peers gossipsub was 38% of the CPU profile and these contributions about half of its messages.
   * Gossiped contributions (an older peer) are still accepted.
   */
  contributionsFromLedger?: boolean
}

const MAX_BUFFERED = 4096

interface RetryState {
  k: number
  seed: Uint8Array
  committee: string[]
  myIndex: number
  deadlines: ReturnType<typeof phaseDeadlines>
  contributions: Map<string, ContributionMsg>
  shares: Map<string, Uint32Array>
  zeros: Map<string, Uint32Array>
  receipts: Map<string, ReceiptMsg>
  receiptSent: boolean
  plan?: PlanMsg
  planSent: boolean
  partialsSent: boolean
  partials: Map<number, Map<string, Uint32Array>>
  earlyPartials: PartialMsg[]
  earlyChecks: ZeroCheckMsg[]
  zchecks: Map<string, ZeroCheckMsg>
  /** undefined: not decided; true: every dealer's masks verified as shares of zero; false: aborted */
  zeroOk?: boolean
  zeroBlame: Map<string, string>
  rho?: Uint32Array
  finalized: boolean
  body?: CheckpointBody
  bodyHash?: string
  result?: { model: Float32Array, ruleState: RuleState, groupSums: Uint8Array }
  sigs: Map<string, Map<string, Uint8Array>>
  bodies: Map<string, CheckpointBody>
  shared: boolean
  /** non-members: members whose zero check this peer saw on gossip (not verified: only for `stall`) */
  zchecksSeen: Set<string>
  /**
   * Leader: receipts + contributions held at its last attempt that gave no group (-1: none yet). It
   * tries again as more arrive, up to the plan deadline (sendPlan).
   */
  planTried: number
  /** why this peer refused the leader's plan, if it did (only for `stall`) */
  planRefused?: string
}

/** Thrown internally for one bad input; turned into a misbehaviour output. */
class Drop extends TesseraError {
  constructor(readonly peer: string, readonly reason: string, readonly severity: MisbehaviourSeverity, readonly error: TesseraError) {
    super(error.message)
    this.name = 'Drop'
  }
}

function reject(peer: string, reason: string, err: TesseraError): never { throw new Drop(peer, reason, 'reject', err) }
function ignore(peer: string, reason: string, err: TesseraError): never { throw new Drop(peer, reason, 'ignore', err) }

export class RoundMachine {
  readonly self: string
  readonly dim: number
  readonly fixed: FixedPointPlan
  private readonly cfg: RoundConfig
  /** the injected SHA-256 (RoundConfig.sha256) */
  private readonly hash: Hash
  private readonly eligible: Set<string>
  private readonly eligibleList: string[]
  /** RoundConfig.outliers.excluded (empty without exclusion) */
  private readonly excluded: ReadonlySet<string>
  private now: number
  private retry!: RetryState
  private encoded?: Uint32Array
  private trainRequested = false
  private started = false
  private finished = false
  /** cfg.firstRetry (0 by default): retries first .. first + maxRetries */
  private first = 0
  private buffered: Array<{ from: string, msg: RoundMessage }> = []
  private out: RoundOutput[] = []
  /** Messages to myself (shares, masks, partial sums, my own gossip): handled locally, never sent. */
  private local: RoundMessage[] = []
  /** contributions the host delivered from its ledger (already verified there): no signature check */
  private readonly vouched = new WeakSet<RoundMessage>()

  constructor(cfg: RoundConfig) {
    this.cfg = cfg
    this.hash = cfg.sha256 ?? sha256
    this.self = cfg.signer.peer
    this.dim = cfg.prevModel.length
    this.fixed = fixedPointPlan(cfg.params, this.dim)
    this.eligibleList = [...new Set(cfg.contributors)].sort(comparePeerIds)
    this.eligible = new Set(this.eligibleList)
    this.excluded = new Set(cfg.outliers?.excluded ?? [])
    this.now = cfg.startTime
    this.first = cfg.firstRetry ?? 0
    if (!Number.isSafeInteger(this.first) || this.first < 0 || this.first + cfg.params.maxRetries > LIMITS.maxRetry) throw new RoundStateError(`firstRetry must be an integer in [0, ${LIMITS.maxRetry} - maxRetries], got ${String(cfg.firstRetry)}`)
    this.retry = this.newRetry(this.first)
  }

  /** The committee of the current retry, leader first. */
  get committee(): readonly string[] { return this.retry.committee }
  get currentRetry(): number { return this.retry.k }
  get isDone(): boolean { return this.finished }

  /**
   * The checkpoint this member computed and signed in the current retry (with the model, rule
   * state and group sums, and the signatures it holds on that body), or undefined before
   * `finalize`. A host that learns from elsewhere (its ledger) that a quorum co-signed this very
   * body adopts the model from here without waiting for the quorum's gossip.
   */
  ownCheckpoint(): CompletedCheckpoint | undefined {
    const R = this.retry
    if (R.body === undefined || R.result === undefined || R.bodyHash === undefined) return undefined
    const sigs = R.sigs.get(R.bodyHash) ?? new Map<string, Uint8Array>()
    return {
      body: R.body, bodyHash: checkpointBodyHash(R.body, this.hash),
      signatures: [...sigs].map(([peer, sig]) => ({ peer, sig })).sort((a, b) => comparePeerIds(a.peer, b.peer)),
      model: R.result.model, ruleState: R.result.ruleState, groupSums: R.result.groupSums
    }
  }

  /** Initial outputs: the training request (contributors) and zero-mask deals (members). */
  start(): RoundOutput[] {
    if (this.started) throw new RoundStateError('start() called twice')
    this.started = true
    if (this.cfg.contribute ?? this.eligible.has(this.self)) {
      this.trainRequested = true
      this.out.push({ kind: 'train', model: this.cfg.prevModel, round: this.cfg.round })
    }
    this.enterRetry()
    return this.flush()
  }

  /** Feed one input; returns the outputs it causes. Never throws on hostile messages. */
  step(input: RoundInput): RoundOutput[] {
    if (!this.started) throw new RoundStateError('step() before start()')
    if (this.finished) return []
    switch (input.kind) {
      case 'message': this.onBytes(input.from, input.payload, input.decoded); break
      case 'tick': this.onTick(input.now); break
      case 'trained': this.onTrained(input.update); break
      case 'contribution': this.onLedgerContribution(input); break
      default: throw new RoundStateError(`unknown input kind '${String((input as { kind?: unknown }).kind)}'`)
    }
    return this.flush()
  }

  private flush(): RoundOutput[] {
    // Deliver messages addressed to myself; each delivery may queue more (bounded by the protocol's phases).
    for (let guard = 0; this.local.length > 0 && guard < 100_000; guard++) {
      const msg = this.local.shift()!
      if (this.finished) break
      if (msg.k !== this.retry.k) continue
      this.handle(this.self, msg)
    }
    const o = this.out
    this.out = []
    return o
  }

  // ------------------------------------------------------------ retries

  private newRetry(k: number): RetryState {
    const sch = this.cfg.schedule
    const seed = sch === undefined ? retrySeed(this.cfg.seed, k) : sch.seed(k)
    const committee = sch === undefined ? selectCommittee(seed, this.cfg.candidates, this.cfg.params.committeeSize) : [...sch.committee(k)]
    if (committee.length !== this.cfg.params.committeeSize || new Set(committee).size !== committee.length) {
      throw new RoundStateError(`retry ${k}: committee of ${committee.length} distinct members, params.committeeSize = ${this.cfg.params.committeeSize}`)
    }
    return {
      k, seed, committee, myIndex: committee.indexOf(this.self), deadlines: phaseDeadlines(this.cfg.params, this.cfg.startTime, k - this.first),
      contributions: new Map(), shares: new Map(), zeros: new Map(), receipts: new Map(), receiptSent: false, planSent: false,
      partialsSent: false, partials: new Map(), earlyPartials: [], earlyChecks: [], zchecks: new Map(), zeroBlame: new Map(), finalized: false, sigs: new Map(), bodies: new Map(), shared: false, zchecksSeen: new Set(), planTried: -1
    }
  }

  private get isMember(): boolean { return this.retry.myIndex >= 0 }
  private get maskWait(): number { return Math.max(0, Math.min(this.cfg.maskWaitMs ?? 0, this.cfg.params.deadlines.receiptMs / 2)) }
  private get isLeader(): boolean { return this.retry.myIndex === 0 }

  private enterRetry(): void {
    const R = this.retry
    const { committeeSize: m, threshold: t } = this.cfg.params
    if (this.isMember) {
      // Zero masks for the norm check: one degree-2(t-1) polynomial per eligible contributor.
      // One extra polynomial last: the check polynomial K of the dealer-integrity check.
      const masks = dealZeroMasks(this.eligibleList.length + 1, m, t, this.cfg.rng)
      const bad = this.cfg.faults?.badZeroDeal
      if (bad !== undefined && bad.retry === R.k) {
        const delta = ((bad.delta % P) + P) % P
        for (const mj of masks) for (let c = 0; c < this.eligibleList.length; c++) mj[c] = (mj[c]! + delta) % P
      }
      for (let j = 0; j < m; j++) {
        const msg: ZeroMsg = { type: 'zero', r: this.cfg.round, k: R.k, from: this.self, masks: masks[j]! }
        this.send(R.committee[j]!, FAMILY_ZERO, msg)
      }
    }
    if (this.encoded !== undefined) this.shareUpdate()
    // Replay messages that arrived early for this retry.
    const pending = this.buffered.filter(b => b.msg.k === R.k)
    this.buffered = this.buffered.filter(b => b.msg.k > R.k)
    for (const b of pending) this.handle(b.from, b.msg)
  }

  private nextRetry(reason: string): void {
    if (this.retry.k - this.first >= this.cfg.params.maxRetries) {
      this.finished = true
      this.out.push({ kind: 'failed', reason: `no checkpoint after ${this.retry.k - this.first + 1} attempts (${reason})` })
      return
    }
    try {
      this.retry = this.newRetry(this.retry.k + 1)
    } catch (err) {
      // A schedule that cannot name retry k + 1's committee (e.g. the ledger's 'committee' rule).
      this.finished = true
      this.out.push({ kind: 'failed', reason: `retry ${this.retry.k + 1}: ${(err as Error).message}` })
      return
    }
    this.out.push({ kind: 'retry', retry: this.retry.k, committee: [...this.retry.committee], reason })
    this.enterRetry()
  }

  /** Where the current retry stands, as this peer sees it (the reason of a retry: logs, events). */
  private stall(): string {
    const R = this.retry
    const parts = [`receipts ${R.receipts.size}/${R.committee.length}`, `contributions ${R.contributions.size}`]
    if (this.isMember) parts.push(`shares ${R.shares.size}`, `masks ${R.zeros.size}`)
    if (R.plan === undefined) {
      let why = ''
      let blocks = '-'
      try {
        const v = this.verdicts()
        const refused = new Map<string, number>()
        for (const x of v.refused) refused.set(x.reason, (refused.get(x.reason) ?? 0) + 1)
        why = `, admitted ${v.admitted.length}${[...refused].map(([k, n]) => `, ${k} ${n}`).join('')}`
        blocks = (v.blockHolders ?? []).join('/') || '-'
      } catch { /* diagnostics only */ }
      // Whose view: the leader's verdicts decide the plan; any other peer only saw no (valid) plan arrive.
      const whose = this.isLeader ? 'no plan: leader' : R.planRefused !== undefined ? `plan refused (${R.planRefused}); my view` : 'no plan received from the leader; my view'
      parts.push(`${whose} (receipts holding each dealer block: ${blocks}${why})`)
    } else {
      const groups = R.plan.groups.length
      const complete = R.plan.groups.filter((grp, g) => grp.holders.every(h => R.partials.get(g)?.has(h) === true)).length
      const best = Math.max(0, ...[...R.sigs.values()].map(m => m.size))
      const sigs = `signatures ${best}/${checkpointQuorum(R.committee.length)}`
      // A non-member neither verifies the zero check nor receives partial sums: say what it saw.
      if (!this.isMember) parts.push(`plan ${groups} groups`, `not a member: zero checks seen ${R.zchecksSeen.size}/${R.committee.length} (unverified), partial sums not visible`, sigs)
      else parts.push(`plan ${groups} groups`, `zero check ${R.zeroOk === undefined ? 'pending' : R.zeroOk ? 'ok' : 'failed'}`, `partials complete ${complete}/${groups}`, sigs)
    }
    return parts.join(', ')
  }

  // ------------------------------------------------------------ clock

  private onTick(now: number): void {
    if (!Number.isFinite(now)) throw new RoundStateError('tick time must be finite')
    if (now > this.now) this.now = now
    // Bounded: each pass either advances a phase or a retry (at most maxRetries + 1 of them).
    for (let guard = 0; guard < 8 * (this.cfg.params.maxRetries + 2) && !this.finished; guard++) {
      const R = this.retry
      const d = R.deadlines
      if (this.now >= d.checkpoint) { this.nextRetry(`checkpoint deadline passed without quorum (${this.stall()})`); continue }
      if (this.isMember && !R.receiptSent && this.now >= d.share && (this.now >= d.share + this.maskWait || R.zeros.size >= R.committee.length)) { this.sendReceipt(); continue }
      if (this.isLeader && !R.planSent && this.now >= d.receipt && (R.planTried < 0 || (this.now < d.plan && R.receipts.size + R.contributions.size !== R.planTried))) { this.sendPlan(); continue }
      // The zero check is decided at the plan deadline if every dealer has 2t - 1 points; with fewer it
      // waits for late ones up to the partial deadline (no partial sum is sent before it passes, so
      // waiting costs no secrecy; deciding on too few points fails the retry for certain).
      if (this.isMember && R.plan !== undefined && R.zeroOk === undefined && this.now >= d.plan && (this.now >= d.partial || this.zeroCheckQuorum())) { this.verifyZeroDeals(); continue }
      if (this.isMember && R.plan !== undefined && R.zeroOk === true && !R.finalized && this.now >= d.partial) { this.finalize(); continue }
      break
    }
  }

  // ------------------------------------------------------------ contributor

  private onTrained(update: Float32Array): void {
    if (!(update instanceof Float32Array) || update.length !== this.dim) throw new RoundStateError(`trained update must be a Float32Array of length ${this.dim}`)
    if (!this.trainRequested) throw new RoundStateError('trained update without a train request')
    if (this.encoded !== undefined) throw new RoundStateError('trained update given twice')
    for (let i = 0; i < update.length; i++) if (!Number.isFinite(update[i]!)) throw new RoundStateError(`trained update[${i}] is not finite`)
    const p = this.cfg.params
    const clipped = this.cfg.faults?.skipClip === true ? Float32Array.from(update) : clipL2(update, p.clipNorm).vector
    const std = perContributorNoiseStd(p)
    if (std > 0) {
      const noise = gaussianFill(new Float32Array(this.dim), std, this.cfg.rng)
      for (let i = 0; i < this.dim; i++) clipped[i] = clipped[i]! + noise[i]!
    }
    this.encoded = encodeFixed(clipped, this.fixed.scale)
    this.shareUpdate()
  }

  private shareUpdate(): void {
    const R = this.retry
    if (R.shared || this.encoded === undefined || this.now >= R.deadlines.share) return
    R.shared = true
    const { committeeSize: m, threshold: t } = this.cfg.params
    const shares = shareVector(this.encoded, m, t, this.cfg.rng)
    const commitments = shares.map(sh => shareCommitment(sh, this.hash))
    // One direct send per member: no share ever travels where another peer can read it.
    for (let j = 0; j < m; j++) {
      const msg: ShareMsg = { type: 'share', r: this.cfg.round, k: R.k, from: this.self, x: holderX(j), data: shares[j]! }
      this.send(R.committee[j]!, FAMILY_SHARE, msg)
    }
    if (this.cfg.contributionsFromLedger === true) {
      // The ledger entry (the append below) is the only copy the other peers get.
      const own: ContributionMsg = { type: 'contribution', r: this.cfg.round, k: R.k, from: this.self, dim: this.dim, commitments, sig: new Uint8Array(0) }
      this.vouched.add(own)
      this.local.push(own)
    } else {
      const c = this.signed<ContributionMsg>({ type: 'contribution', r: this.cfg.round, k: R.k, from: this.self, dim: this.dim, commitments })
      this.publish(TOPIC_CONTRIBUTION, c)
    }
    this.out.push({ kind: 'append', entry: { type: 'contribution', round: this.cfg.round, retry: R.k, dim: this.dim, commitments } })
  }

  // ------------------------------------------------------------ member phases

  /** earlyReceipt: everything this member can ever hold for the retry is in. */
  private maybeEarlyReceipt(): void {
    const R = this.retry
    if (this.cfg.earlyReceipt !== true || !this.isMember || R.receiptSent || this.now >= R.deadlines.share) return
    if (R.zeros.size < R.committee.length || R.shares.size < this.eligibleList.length) return
    for (const c of this.eligibleList) if (!R.shares.has(c) || !R.contributions.has(c)) return
    this.sendReceipt()
  }

  private sendReceipt(): void {
    const R = this.retry
    R.receiptSent = true
    const idx = new Map(this.eligibleList.map((c, i) => [c, i]))
    const dealers = [...R.zeros.keys()].sort(comparePeerIds)
    // One masked point per dealer block I hold completely (plan.ts dealerBlocks: disjoint blocks of >= t
    // dealers, so a member holding a superset of a block answers for it and the points never combine
    // into an unmasked one).
    const blocks = dealerBlocks(R.committee, this.cfg.params.threshold)
    const mine = blocksHeld(blocks, dealers).map(b => blocks[b]!)
    const held: ReceiptMsg['held'] = []
    for (const c of [...R.shares.keys()].sort(comparePeerIds)) {
      const share = R.shares.get(c)!
      const h = shareCommitment(share, this.hash)
      const contribution = R.contributions.get(c)
      if (contribution !== undefined && !bytesEqual(contribution.commitments[R.myIndex]!, h)) {
        this.misbehave(c, 'commitment-mismatch', 'reject', new ProtocolViolationError(`share from ${c} does not match its commitment`))
        continue
      }
      // y[q] = sum of squares of the share + the zero masks of block q's dealers at my x.
      const sq = sumOfSquares(share)
      const ci = idx.get(c)!
      const y = mine.map(bl => {
        let v = sq
        for (const d of bl) v = (v + R.zeros.get(d)![ci]!) % P
        return v
      })
      held.push({ c, h, y })
    }
    const msg = this.signed<ReceiptMsg>({ type: 'receipt', r: this.cfg.round, k: R.k, from: this.self, dealers, held })
    this.publish(TOPIC_RECEIPT, msg)
    this.out.push({ kind: 'append', entry: { type: 'receipt', round: this.cfg.round, retry: R.k, held: held.map(e => ({ c: e.c, h: e.h })) } })
  }

  /** The norm verdicts from the receipts I hold: the leader's choice of block, or over `block` (a plan's). */
  private verdicts(block?: number): NormVerdicts {
    const R = this.retry
    return normVerdicts({ committee: R.committee, t: this.cfg.params.threshold, receipts: R.receipts, contributions: R.contributions, normBoundField: this.fixed.normBoundField, block })
  }

  private sendPlan(): void {
    const R = this.retry
    const p = this.cfg.params
    const v = this.verdicts()
    // Default: groups from the ROUND seed (a retry with the same admitted set re-forms the same groups,
    // so no new sums are revealed). With a schedule: retry k's seed, as the ledger checks.
    const exclude = this.excluded
    const plan = this.cfg.schedule === undefined
      ? buildPlan(v, R.committee, this.cfg.seed, p.groupSize, p.threshold, { exclude })
      : buildPlan(v, R.committee, R.seed, p.groupSize, p.threshold, { recut: true, exclude })
    // Nothing to aggregate yet. Before (issue #4, the unexplained 40-peer "no plan" retries) the leader
    // gave up here for the whole attempt, though receipts that came a moment after its receipt deadline
    // would have admitted everyone (seen: "no plan: leader (receipts holding each dealer block: 5/5,
    // admitted 40)" at the checkpoint deadline). Now it tries again as receipts or contributions come,
    // until the plan deadline; the attempt still retries if none gives a group.
    if (plan.groups.length === 0) { R.planTried = R.receipts.size + R.contributions.size; return }
    R.planSent = true
    const msg = this.signed<PlanMsg>({ type: 'plan', r: this.cfg.round, k: R.k, from: this.self, dealers: v.dealers, groups: plan.groups, refused: plan.refused, blamed: plan.blamed })
    this.publish(TOPIC_PLAN, msg)
    this.out.push({ kind: 'append', entry: { type: 'plan', round: this.cfg.round, retry: R.k, groups: plan.groups, refused: plan.refused, blamed: plan.blamed } })
  }

  /**
   * My share of each group sum I hold, to every member: one signed message per member carrying
   * all my groups (split only at the vector cap), signed and encoded once for all members.
   */
  private sendPartials(): void {
    const R = this.retry
    const plan = R.plan!
    R.partialsSent = true
    const corrupt = this.cfg.faults?.corruptPartials ?? 0
    const mine: number[] = []
    plan.groups.forEach((grp, g) => { if (grp.holders.includes(this.self)) mine.push(g) })
    const per = Math.max(1, Math.floor(LIMITS.maxDim / this.dim))
    const d = this.dim
    for (let i = 0; i < mine.length; i += per) {
      const chunk = mine.slice(i, i + per)
      // Each group's share-sum is summed straight into its slice of the message (no per-group copy).
      const data = new Uint32Array(chunk.length * d)
      chunk.forEach((g, j) => {
        const sum = sumSharesInto(data.subarray(j * d, (j + 1) * d), plan.groups[g]!.members.map(c => R.shares.get(c)!))
        if (corrupt !== 0) for (let q = 0; q < sum.length; q++) sum[q] = (sum[q]! + corrupt) % P
      })
      const msg = this.signed<PartialMsg>({ type: 'partial', r: this.cfg.round, k: R.k, from: this.self, g: chunk, data })
      const bytes = encodeMessage(msg)
      for (const to of R.committee) {
        if (to === this.self) this.local.push(msg)
        else this.out.push({ kind: 'send', to, family: FAMILY_PARTIAL, bytes })
      }
    }
  }

  /** Reconstruct every planned group sum, aggregate, sign the checkpoint. */
  private finalize(): void {
    const R = this.retry
    const plan = R.plan!
    const p = this.cfg.params
    R.finalized = true
    const blamed = new Map<string, string>(plan.blamed.map(b => [b.peer, b.reason]))
    for (const [peer, reason] of R.zeroBlame) blamed.set(peer, reason)
    const included: number[] = []
    const sums: Uint32Array[] = []
    const index = new Map(R.committee.map((m, i) => [m, i]))
    plan.groups.forEach((grp, g) => {
      const got = R.partials.get(g) ?? new Map<string, Uint32Array>()
      const from = grp.holders.filter(h => got.has(h))
      if (from.length < p.threshold) return
      try {
        const d = robustReconstructVector(from.map(h => holderX(index.get(h)!)), from.map(h => got.get(h)!), p.threshold, this.cfg.rng)
        for (const w of d.wrong) {
          blamed.set(from[w]!, 'wrong-partial-sum')
          this.misbehave(from[w]!, 'wrong-partial-sum', 'reject', new ProtocolViolationError(`partial sum for group ${g} is off the sharing polynomial`))
        }
        included.push(g)
        sums.push(d.secret)
      } catch {
        // Too many wrong partial sums to tell which: the group is left out.
      }
    })
    if (included.length === 0) return
    const sizes = included.map(g => plan.groups[g]!.members.length)
    const blob = encodeGroupSums({ round: this.cfg.round, retry: R.k, bits: this.fixed.bits, sizes, sums })
    let result
    try {
      result = recomputeModelFromField(this.cfg.prevModel, sums, this.fixed.scale, sizes,
        { name: p.rule, params: p.ruleParams }, this.cfg.ruleState, { serverLr: p.serverLr, meanNormBound: this.fixed.normBound })
    } catch (err) {
      this.misbehave(this.self, 'aggregation-failed', 'ignore', err instanceof TesseraError ? err : new RoundStateError(String(err)))
      return
    }
    const inc = new Set(included)
    const body: CheckpointBody = {
      round: this.cfg.round,
      retry: R.k,
      prev: this.cfg.seed,
      committee: [...R.committee],
      groups: plan.groups.map((g, j) => inc.has(j) ? g : { members: [], holders: [] }),
      farGroups: result.far.map(i => included[i]!),
      groupSumsHash: groupSumsHash(blob, this.hash),
      modelHash: modelHash(result.model, this.hash),
      ruleStateHash: ruleStateHash(result.ruleState, this.hash),
      blamed: [...blamed].map(([peer, reason]) => ({ peer, reason })).sort((a, b) => comparePeerIds(a.peer, b.peer)),
      refused: plan.refused
    }
    // The outlier evidence (src/reputation/outlier-evidence.ts): each reconstructed group mean's
    // projection on the aggregate, fixed point, at its plan position; every member gets the same bits.
    if (this.cfg.outliers !== undefined) body.projections = projectionsForCheckpoint(result, plan.groups.length, included)
    const bodyHash = checkpointBodyHash(body, this.hash)
    R.body = body
    R.bodyHash = toHex(bodyHash)
    R.result = { model: result.model, ruleState: result.ruleState, groupSums: blob }
    const msg = this.signed<CheckpointSigMsg>({ type: 'ckpt', r: this.cfg.round, k: R.k, from: this.self, body })
    this.out.push({ kind: 'append', entry: { type: 'checkpoint', body, bodyHash, sig: msg.sig, receipts: [...R.receipts.keys()].sort(comparePeerIds) } })
    this.publish(TOPIC_CHECKPOINT, msg)
  }

  private maybeFinalizeEarly(): void {
    const R = this.retry
    if (!this.isMember || R.plan === undefined || R.finalized || R.zeroOk !== true) return
    const complete = R.plan.groups.every((grp, g) => grp.holders.every(h => R.partials.get(g)?.has(h) === true))
    if (complete) this.finalize()
  }

  private maybeDone(hashHex: string): void {
    const R = this.retry
    const sigs = R.sigs.get(hashHex)
    if (sigs === undefined || sigs.size < checkpointQuorum(R.committee.length)) return
    // A quorum on another body than mine still ends the round: it is co-signed by >= 2m/3.
    const body = R.bodies.get(hashHex)!
    const signatures = [...sigs].map(([peer, sig]) => ({ peer, sig })).sort((a, b) => comparePeerIds(a.peer, b.peer))
    const checkpoint: CompletedCheckpoint = { body, bodyHash: checkpointBodyHash(body, this.hash), signatures }
    if (R.result !== undefined && R.bodyHash === hashHex) {
      checkpoint.model = R.result.model
      checkpoint.ruleState = R.result.ruleState
      checkpoint.groupSums = R.result.groupSums
    }
    this.finished = true
    this.out.push({ kind: 'done', checkpoint })
  }

  // ------------------------------------------------------------ messages in

  /** A contribution from the host's ledger: routed as a gossiped one, its signature already checked there. */
  private onLedgerContribution(input: { from: string, round: number, retry: number, commitments: Uint8Array[] }): void {
    if (typeof input.from !== 'string' || !Number.isSafeInteger(input.round) || !Number.isSafeInteger(input.retry) || input.retry < 0 || !Array.isArray(input.commitments) || !input.commitments.every(c => c instanceof Uint8Array)) {
      throw new RoundStateError('a ledger contribution needs from, integer round and retry, and commitments as bytes')
    }
    const msg: ContributionMsg = { type: 'contribution', r: input.round, k: input.retry, from: input.from, dim: this.dim, commitments: input.commitments, sig: new Uint8Array(0) }
    this.vouched.add(msg)
    try {
      this.route(input.from, msg)
    } catch (err) {
      if (err instanceof Drop) this.misbehave(err.peer, err.reason, err.severity, err.error)
      else throw err
    }
  }

  private onBytes(from: string, payload: Uint8Array, decoded?: RoundMessage): void {
    let msg: RoundMessage
    try {
      msg = decoded ?? decodeMessage(payload)
    } catch (err) {
      const e = err instanceof TesseraError ? err : new MessageDecodeError(String(err))
      this.misbehave(from, 'malformed', 'reject', e)
      return
    }
    try {
      this.route(from, msg)
    } catch (err) {
      if (err instanceof Drop) this.misbehave(err.peer, err.reason, err.severity, err.error)
      else throw err
    }
  }

  private route(from: string, msg: RoundMessage): void {
    if (msg.r !== this.cfg.round) ignore(from, 'wrong-round', new WrongRoundError(`message for round ${msg.r}, this is round ${this.cfg.round}`))
    // Direct messages come from their author; gossip may be relayed, but is signed.
    if ((msg.type === 'share' || msg.type === 'zero' || msg.type === 'partial') && msg.from !== from) {
      reject(from, 'spoofed-sender', new UnauthorizedSenderError(`direct message claims sender ${msg.from}`))
    }
    if (msg.k < this.retry.k) ignore(from, 'stale-retry', new WrongRoundError(`message for retry ${msg.k}, now at ${this.retry.k}`))
    if (msg.k > this.retry.k) {
      if (msg.k > this.first + this.cfg.params.maxRetries || this.buffered.length >= MAX_BUFFERED) ignore(from, 'future-retry', new WrongRoundError(`message for retry ${msg.k}`))
      this.buffered.push({ from, msg })
      return
    }
    this.handle(from, msg)
  }

  private handle(from: string, msg: RoundMessage): void {
    try {
      switch (msg.type) {
        case 'share': return this.onShare(msg)
        case 'contribution': return this.onContribution(msg)
        case 'zero': return this.onZero(msg)
        case 'receipt': return this.onReceipt(msg)
        case 'plan': return this.onPlan(msg)
        case 'zcheck': return this.onZeroCheck(msg)
        case 'partial': return this.onPartial(msg)
        case 'ckpt': return this.onCheckpointSig(msg)
      }
    } catch (err) {
      if (err instanceof Drop) this.misbehave(err.peer, err.reason, err.severity, err.error)
      else throw err
    }
    void from
  }

  private requireMember(peer: string, what: string): number {
    const j = this.retry.committee.indexOf(peer)
    if (j < 0) reject(peer, 'not-member', new UnauthorizedSenderError(`${what} from ${peer}, who is not on retry ${this.retry.k}'s committee`))
    return j
  }

  private requireSig(msg: SignedMessage): void {
    if (!this.cfg.verify(msg.from, signingBytes(msg, this.hash), msg.sig)) reject(msg.from, 'bad-signature', new BadSignatureError(`${msg.type} from ${msg.from} has a bad signature`))
  }

  private onShare(msg: ShareMsg): void {
    const R = this.retry
    if (!this.isMember) reject(msg.from, 'share-to-non-member', new UnauthorizedSenderError('share sent to a peer that is not on the committee'))
    if (!this.eligible.has(msg.from)) reject(msg.from, 'not-contributor', new UnauthorizedSenderError(`share from ${msg.from}, not an eligible contributor`))
    if (msg.x !== holderX(R.myIndex)) reject(msg.from, 'wrong-share-index', new ProtocolViolationError(`share for x = ${msg.x}, mine is ${holderX(R.myIndex)}`))
    if (msg.data.length !== this.dim) reject(msg.from, 'wrong-length', new ProtocolViolationError(`share of length ${msg.data.length}, model has ${this.dim}`))
    if (R.shares.has(msg.from)) ignore(msg.from, 'duplicate', new DuplicateMessageError(`second share from ${msg.from}`))
    if (R.receiptSent) ignore(msg.from, 'late', new WrongRoundError('share after the receipt was published'))
    R.shares.set(msg.from, msg.data)
    this.maybeEarlyReceipt()
  }

  private onContribution(msg: ContributionMsg): void {
    const R = this.retry
    if (!this.eligible.has(msg.from)) reject(msg.from, 'not-contributor', new UnauthorizedSenderError(`contribution from ${msg.from}, not an eligible contributor`))
    if (!this.vouched.has(msg)) this.requireSig(msg)
    if (R.contributions.has(msg.from)) ignore(msg.from, 'duplicate', new DuplicateMessageError(`second contribution from ${msg.from}`))
    if (msg.commitments.length !== R.committee.length || msg.dim !== this.dim) reject(msg.from, 'wrong-length', new ProtocolViolationError('contribution with a wrong number of commitments or dimension'))
    R.contributions.set(msg.from, msg)
    this.maybeEarlyReceipt()
    if (this.isLeader && !R.planSent && R.receipts.size === R.committee.length && this.now < R.deadlines.receipt && this.holdsReceiptedContributions()) this.sendPlan()
  }

  /**
   * Leader: every contributor some receipt acknowledges has its contribution here. The early plan (all m
   * receipts in) waits for it: a contribution still on its way (they come from the ledger on the node)
   * would leave that contributor out of the plan, as unverifiable; the receipt deadline plans anyway.
   */
  private holdsReceiptedContributions(): boolean {
    const R = this.retry
    for (const r of R.receipts.values()) for (const h of r.held) if (!R.contributions.has(h.c)) return false
    return true
  }

  private onZero(msg: ZeroMsg): void {
    const R = this.retry
    if (!this.isMember) reject(msg.from, 'zero-to-non-member', new UnauthorizedSenderError('zero masks sent to a non-member'))
    this.requireMember(msg.from, 'zero masks')
    if (msg.masks.length !== this.eligibleList.length + 1) reject(msg.from, 'wrong-length', new ProtocolViolationError(`zero masks of length ${msg.masks.length}, expected ${this.eligibleList.length + 1}`))
    if (R.zeros.has(msg.from)) ignore(msg.from, 'duplicate', new DuplicateMessageError(`second zero deal from ${msg.from}`))
    if (R.receiptSent) ignore(msg.from, 'late', new WrongRoundError('zero masks after the receipt was published'))
    R.zeros.set(msg.from, msg.masks)
    // Waiting past the share deadline for the last masks (maskWaitMs): they are in.
    if (this.now >= R.deadlines.share && R.zeros.size >= R.committee.length) this.sendReceipt()
    else this.maybeEarlyReceipt()
  }

  private onReceipt(msg: ReceiptMsg): void {
    const R = this.retry
    this.requireMember(msg.from, 'receipt')
    this.requireSig(msg)
    if (R.receipts.has(msg.from)) ignore(msg.from, 'duplicate', new DuplicateMessageError(`second receipt from ${msg.from}`))
    for (const it of msg.held) if (!this.eligible.has(it.c)) reject(msg.from, 'bad-receipt', new ProtocolViolationError(`receipt lists ${it.c}, not a contributor`))
    const shape = receiptShapeError(msg, R.committee, this.cfg.params.threshold)
    if (shape !== null) reject(msg.from, 'bad-receipt', new ProtocolViolationError(`receipt: ${shape}`))
    R.receipts.set(msg.from, msg)
    if (this.isLeader && !R.planSent && R.receipts.size === R.committee.length && this.holdsReceiptedContributions()) this.sendPlan()
  }

  private onPlan(msg: PlanMsg): void {
    const R = this.retry
    if (msg.from !== R.committee[0]) reject(msg.from, 'not-leader', new UnauthorizedSenderError(`plan from ${msg.from}, the leader is ${R.committee[0]}`))
    this.requireSig(msg)
    if (R.plan !== undefined) ignore(msg.from, 'duplicate', new DuplicateMessageError('second plan'))
    const p = this.cfg.params
    // My verdicts over the plan's block (an unknown block: checkPlan refuses the plan).
    const mineV = this.verdicts(Math.max(0, planBlock(msg.dealers, R.committee, p.threshold)))
    const complete = R.receipts.size === R.committee.length
    const why = checkPlan(msg, R.committee, this.eligible, p.groupSize, p.threshold, mineV, this.cfg.schedule === undefined ? undefined : R.seed, this.excluded, complete)
    if (why !== null) R.planRefused = why
    if (why !== null) reject(msg.from, `bad-plan:${why}`, new ProtocolViolationError(`plan refused: ${why}`))
    if (this.isMember) {
      for (const grp of msg.groups) {
        if (grp.holders.includes(this.self) && !grp.members.every(c => R.shares.has(c))) {
          R.planRefused = 'holder-lacks-share'
          reject(msg.from, 'bad-plan:holder-lacks-share', new ProtocolViolationError('plan names me holder of a share I do not hold'))
        }
      }
    }
    R.plan = msg
    if (!this.isMember) return
    // Dealer-integrity check before any partial sum is revealed (round.md "Norm check").
    R.rho = zeroCheckChallenge(this.hash(signingBytes(msg, this.hash)), this.eligibleList.length)
    // Every member holding all of the plan's dealers answers (its own dealer set may be larger: the
    // check points are per dealer). One lacking a dealer of the block sends nothing and is not blamed.
    if (msg.dealers.every(d => R.zeros.has(d))) {
      const points = msg.dealers.map(d => ({ d, w: zeroCheckPoint(R.zeros.get(d)!, R.rho!) }))
      this.publish(TOPIC_ZCHECK, this.signed<ZeroCheckMsg>({ type: 'zcheck', r: this.cfg.round, k: R.k, from: this.self, points }))
    }
    const early = R.earlyChecks
    R.earlyChecks = []
    for (const e of early) {
      try { this.onZeroCheck(e) } catch (err) {
        if (err instanceof Drop) this.misbehave(err.peer, err.reason, err.severity, err.error)
        else throw err
      }
    }
  }

  private onZeroCheck(msg: ZeroCheckMsg): void {
    const R = this.retry
    this.requireMember(msg.from, 'zero check')
    if (!this.isMember) { if (R.plan !== undefined) R.zchecksSeen.add(msg.from); return } // only members act on it (non-members skip the signature check too)
    this.requireSig(msg)
    if (R.plan === undefined) {
      if (R.earlyChecks.length >= R.committee.length) ignore(msg.from, 'too-early', new WrongRoundError('zero check before any plan'))
      R.earlyChecks.push(msg)
      return
    }
    if (R.zchecks.has(msg.from)) ignore(msg.from, 'duplicate', new DuplicateMessageError('second zero check'))
    if (R.zeroOk !== undefined) ignore(msg.from, 'late', new WrongRoundError('zero check after the decision'))
    const want = R.plan.dealers
    if (msg.points.length !== want.length || msg.points.some((p, i) => p.d !== want[i])) reject(msg.from, 'bad-zero-check', new ProtocolViolationError('zero check points do not follow the plan\'s dealer list'))
    // Its signed receipt says it lacks a dealer of the block: it cannot know that dealer's masks.
    const receipt = R.receipts.get(msg.from)
    if (receipt !== undefined && !want.every(d => receipt.dealers.includes(d))) reject(msg.from, 'bad-zero-check', new ProtocolViolationError('zero check points for a dealer its receipt does not hold'))
    R.zchecks.set(msg.from, msg)
    // Early decision once every member whose receipt shows all of the plan's dealers has answered, and
    // they are at least 2t - 1 (deciding on fewer fails the check: the deadline waits for the rest).
    const expected = [...R.receipts.values()].filter(r => want.every(d => r.dealers.includes(d))).map(r => r.from)
    if (this.zeroCheckQuorum() && (this.now >= R.deadlines.plan || expected.every(m => R.zchecks.has(m)))) this.verifyZeroDeals()
  }

  /** Every dealer of the plan's block has >= 2t - 1 check points (each zcheck carries one per dealer). */
  private zeroCheckQuorum(): boolean {
    return this.retry.zchecks.size >= 2 * this.cfg.params.threshold - 1
  }

  /**
   * Each dealer's check points must lie on a degree-2(t-1) polynomial with zero
   * constant term. Wrong points are corrected and their members blamed; a non-zero
   * constant confirmed with redundancy blames the dealer. Any failure aborts this
   * retry before a partial sum is revealed (the norm verdicts could be wrong).
   */
  private verifyZeroDeals(): void {
    const R = this.retry
    const plan = R.plan!
    const t = this.cfg.params.threshold
    const index = new Map(R.committee.map((m, i) => [m, i]))
    let ok = true
    plan.dealers.forEach((d, di) => {
      const pts = [...R.zchecks.values()].map(z => ({ m: z.from, w: z.points[di]!.w })).sort((a, b) => index.get(a.m)! - index.get(b.m)!)
      if (pts.length < 2 * t - 1) { ok = false; return }
      try {
        const r = decodeNormSquared(pts.map(p => holderX(index.get(p.m)!)), pts.map(p => p.w), t)
        for (const w of r.wrong) {
          R.zeroBlame.set(pts[w]!.m, 'wrong-zero-check')
          this.misbehave(pts[w]!.m, 'wrong-zero-check', 'reject', new ProtocolViolationError('zero check point off the dealer\'s polynomial'))
        }
        if (r.value !== 0) {
          ok = false
          if (pts.length - r.wrong.length > 2 * t - 1) {
            R.zeroBlame.set(d, 'bad-zero-deal')
            this.misbehave(d, 'bad-zero-deal', 'reject', new ProtocolViolationError('norm masks dealt with a non-zero constant term'))
          }
        }
      } catch {
        ok = false
      }
    })
    R.zeroOk = ok
    if (!ok) return // no partial sums this retry: the checkpoint deadline starts the next one
    this.sendPartials()
    const early = R.earlyPartials
    R.earlyPartials = []
    for (const e of early) {
      try { this.onPartial(e) } catch (err) {
        if (err instanceof Drop) this.misbehave(err.peer, err.reason, err.severity, err.error)
        else throw err
      }
    }
    this.maybeFinalizeEarly()
  }

  private onPartial(msg: PartialMsg): void {
    const R = this.retry
    if (!this.isMember) reject(msg.from, 'partial-to-non-member', new UnauthorizedSenderError('partial sum sent to a non-member'))
    this.requireMember(msg.from, 'partial sum')
    if (msg.data.length !== msg.g.length * this.dim) reject(msg.from, 'wrong-length', new ProtocolViolationError(`partial sums of ${msg.data.length} elements for ${msg.g.length} groups, model has ${this.dim}`))
    // My own message (delivered locally, never over the network) needs no signature check.
    if (msg.from !== this.self) this.requireSig(msg)
    if (R.plan === undefined || R.zeroOk !== true) {
      // Bounded per sender (an honest holder sends one message per member, more only past the vector
      // cap): a member cannot make me buffer without limit before the plan.
      if (R.earlyPartials.filter(e => e.from === msg.from).length >= 8) ignore(msg.from, 'too-early', new WrongRoundError('partial sum before any plan'))
      R.earlyPartials.push(msg)
      return
    }
    // Check every group before taking any: a message is taken whole or not at all.
    for (const g of msg.g) {
      const grp = R.plan.groups[g]
      if (grp === undefined) reject(msg.from, 'unknown-group', new ProtocolViolationError(`partial sum for group ${g}, plan has ${R.plan.groups.length}`))
      if (!grp.holders.includes(msg.from)) reject(msg.from, 'not-holder', new UnauthorizedSenderError(`partial sum from ${msg.from}, not a holder of group ${g}`))
      if (R.partials.get(g)?.has(msg.from) === true) ignore(msg.from, 'duplicate', new DuplicateMessageError(`second partial sum for group ${g}`))
    }
    if (R.finalized) ignore(msg.from, 'late', new WrongRoundError('partial sum after reconstruction'))
    msg.g.forEach((g, j) => {
      const got = R.partials.get(g) ?? new Map<string, Uint32Array>()
      got.set(msg.from, msg.data.subarray(j * this.dim, (j + 1) * this.dim))
      R.partials.set(g, got)
    })
    this.maybeFinalizeEarly()
  }

  private onCheckpointSig(msg: CheckpointSigMsg): void {
    const R = this.retry
    this.requireMember(msg.from, 'checkpoint signature')
    this.requireSig(msg)
    if (msg.body.round !== this.cfg.round || msg.body.retry !== R.k || !bytesEqual(msg.body.prev, this.cfg.seed)) {
      reject(msg.from, 'bad-checkpoint', new ProtocolViolationError('checkpoint body for another round, retry or predecessor'))
    }
    const h = toHex(checkpointBodyHash(msg.body, this.hash))
    const sigs = R.sigs.get(h) ?? new Map<string, Uint8Array>()
    for (const [other, m] of R.sigs) if (other !== h && m.has(msg.from)) reject(msg.from, 'equivocation', new ProtocolViolationError('signed two different checkpoint bodies'))
    if (sigs.has(msg.from)) ignore(msg.from, 'duplicate', new DuplicateMessageError('second checkpoint signature'))
    sigs.set(msg.from, msg.sig)
    R.sigs.set(h, sigs)
    if (!R.bodies.has(h)) R.bodies.set(h, msg.body)
    this.maybeDone(h)
  }

  // ------------------------------------------------------------ outputs

  private signed<M extends SignedMessage>(m: Omit<M, 'sig'>): M {
    const sig = this.cfg.signer.sign(signingBytes(m as unknown as SignedMessage, this.hash))
    return { ...m, sig } as unknown as M
  }

  private send(to: string, family: Family, msg: RoundMessage): void {
    if (to === this.self) this.local.push(msg)
    else this.out.push({ kind: 'send', to, family, bytes: encodeMessage(msg) })
  }

  /** Gossip does not echo a peer's own messages, so the machine also takes them locally. */
  private publish(topic: Topic, msg: RoundMessage): void {
    this.out.push({ kind: 'publish', topic, bytes: encodeMessage(msg) })
    this.local.push(msg)
  }

  private misbehave(peer: string, reason: string, severity: MisbehaviourSeverity, err: TesseraError): void {
    this.out.push({ kind: 'misbehaviour', peer, reason, severity, error: err.name })
  }
}
