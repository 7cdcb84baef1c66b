/**
 * The Peer (DESIGN.md "src/node: the Peer that joins the state machine to the
 * network"): one long-lived service per data directory.
 *
 * Start: identity key from the data dir (identity.ts); the ledger (E's level
 * store in `<dir>/ledger`, every entry re-verified on open), seeded with the
 * genesis envelope if the store is empty; the model store (`<dir>/models`);
 * libp2p (TCP, Noise, Yamux, gossipsub) scoped to the network id derived from
 * the genesis CID; ledger sync and model fetch (helper I); the round router,
 * the checkpoint co-signing and the status protocols. A peer that is not yet a
 * member of an open network appends a join entry.
 *
 * Each round r (the loop in `run`):
 *   1. r = last checkpointed round + 1; seed = CID of checkpoint r-1; candidates
 *      and their weights from the reputation of the ledger's evidence (the same
 *      function E's LedgerState uses); contributors = members as of r-1;
 *   2. model r-1 (and the aggregation rule's state) from memory, the model
 *      store, or fetched by hash from other peers;
 *   3. a RoundMachine for r, started at a time every peer derives from the
 *      ledger (`ts` of checkpoint r-1 plus a delay; `startAt` for round 1), fed
 *      by the router and a clock tick; training on the local data partition
 *      when the machine asks (optionally replaced by a Byzantine update from
 *      B's attack library: research and demos only);
 *   4. the machine's ledger bodies become signed entries (ledger-writer.ts);
 *   5. at `done`: the new model (members compute it; other peers recompute it
 *      from the published group sums fetched by hash and check it against the
 *      co-signed model hash) is stored and served; members co-sign the ledger
 *      checkpoint (checkpoint-cosign.ts); everyone waits for that checkpoint to
 *      reach its ledger before round r + 1.
 * Retries with fresh committees happen inside the machine (no quorum by a
 * deadline); a machine that gives up is replaced by a new one for the same
 * round unless the ledger moves on.
 */
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'

import { Ledger, makeGenesis, toHex, type Charter, type SignedEntry } from '../../ledger/index.ts'
import { nodeSigner, nodeVerifier } from '../../ledger/signature-node.ts'
import { computeReputation, committeeCandidates } from '../../reputation/index.ts'
import { RoundMachine, type RoundOutput, type CompletedCheckpoint, type RoundFaults } from '../../gossip-fl/round/machine.ts'
import type { CheckpointBody } from '../../gossip-fl/round/messages.ts'
import { roundSignerFrom, roundVerifyFrom } from '../../gossip-fl/round/signer.ts'
import { modelHash, ruleStateHash, groupSumsHash } from '../../gossip-fl/round/aggregate.ts'
import { checkpointQuorum, fixedPointPlan, type RoundParams } from '../../gossip-fl/round/params.ts'
import type { RuleState } from '../../gossip-fl/round/rules.ts'
import { getAttack } from '../../gossip-fl/attacks/registry.ts'
import { seededRng, cryptoRng } from '../../util/rng.ts'
import { initialWeights, type ModelSpec } from '../../model/spec.ts'
import type { Dataset } from '../../model/dataset.ts'
import { loadOrCreateIdentity, type PeerIdentity } from '../identity.ts'
import { Libp2pTransport } from '../libp2p-transport.ts'
import { networkIdFromGenesis, networkProtocols, scopeTopic } from '../protocol-ids.ts'
import { createLedgerSync, type LedgerSync } from '../sync/ledger-sync.ts'
import { ModelStore } from '../sync/model-store.ts'
import { createModelFetch, type ModelFetch } from '../sync/model-fetch.ts'
import { TypedEmitter } from '../sync/events.ts'
import type { Transport } from '../transport.ts'
import { RoundRouter, type InboundObservation } from './round-router.ts'
import { LedgerWriter } from './ledger-writer.ts'
import { CheckpointCosign, DEFERRED } from './checkpoint-cosign.ts'
import { CheckpointMismatchError, verifyFromSums } from './checkpoint-verify.ts'
import { StatusService, type PeerStatus, type RoundInfo } from './status-service.ts'
import { charterModelSpec, charterRoundParams } from './charter-params.ts'
import { encodeRuleState, decodeRuleState, NO_RULE_STATE_HASH } from './rule-state.ts'
import { NoGenesisError, PeerNotRunningError, PeerProtocolError } from './errors.ts'
import { TOPIC_ZCHECK, LIMITS } from '../../gossip-fl/round/messages.ts'
import { LocalReputation, type LocalReputationParams } from '../../reputation/local.ts'

export const GENESIS_FILE = 'genesis.cbor'

/** Local training: the update (trained - model) for round `round`. */
export type Trainer = (model: Float32Array, round: number, spec: ModelSpec) => Promise<Float32Array>
export type Evaluator = (model: Float32Array, spec: ModelSpec) => Promise<number>

/** What the Peer uses that a caller may provide (tests, research); everything else it builds itself. */
export interface PeerComponents {
  /** local training on this peer's data (default: none; then the peer does not contribute) */
  trainer?: Trainer
  /** test accuracy of a model, reported per round (default: none) */
  evaluator?: Evaluator
}

export interface PeerOptions {
  dataDir: string
  /** genesis envelope (bytes) or a file holding it; default `<dataDir>/genesis.cbor` when the ledger is empty */
  genesis?: Uint8Array | string
  listenTcp: string[]
  listenWs: string[]
  bootstrap: string[]
  /** stop after the checkpoint of this round (default: run until stopped) */
  maxRounds?: number
  /** start of round 1 (ms since the epoch), or a function that resolves to it; default: when the peer is ready */
  startAt?: number | (() => Promise<number>)
  /**
   * round r + 1 starts this long after the `ts` of checkpoint r (ms). Peers whose ledger gets
   * checkpoint r later start when it arrives (messages sent to them before are held by the router),
   * so this only needs to cover the appender's own adoption, not the ledger's propagation.
   */
  startDelayMs: number
  /** added to `startDelayMs` per contributor beyond 20 (`startDelayFor`; 0 = none); with `earlyStart`, to the share phase instead */
  startMsPerPeer: number
  /**
   * The per-contributor start slack (`startMsPerPeer` x max(0, N - 20)) lengthens the share phase
   * instead of delaying the machine's start (default true; false = the start delay of before). The
   * share deadline is the same instant either way (`roundTiming`), so a peer that starts late
   * still has the same time to deal its masks, but the others start, share and deal at once, and
   * a round in which everything arrived ends early (early receipts) instead of idling first.
   */
  earlyStart: boolean
  /** machine retries with a new committee before it gives up */
  maxRetries: number
  /** clock tick of the machine (ms) */
  tickMs: number
  /** per-request deadline of round sends (ms) */
  sendTimeoutMs: number
  /** stagger between successive proposers of a ledger checkpoint (ms) */
  proposeStaggerMs: number
  /** how long to wait for checkpoint r to reach the ledger after the round (ms) */
  ledgerWaitMs: number
  /**
   * The share phase lasts at least 1.5 s + this x N (N contributors; twice this in round 1, whose
   * connections are all cold; 0 = the charter's deadline only): `shareFloorMs`. Every peer derives
   * N from the same ledger, so all use one deadline.
   */
  shareMsPerPeer: number
  /** Byzantine contributor (research and demos only): B's attack name, e.g. 'sign-flip' */
  attack?: string
  /** fault injection for tests (never set in production) */
  faults?: RoundFaults
  /** sees every inbound round message (tests) */
  observe?: (o: InboundObservation) => void
  /** pubsub peer discovery (default true) */
  pubsubDiscovery: boolean
  /** libp2p gossipsub heartbeat (ms) */
  heartbeatIntervalMs: number
  /** local edge reputation (defaults: src/reputation/local.ts) */
  localReputation?: Partial<LocalReputationParams>
  /**
   * Also publish contributions on the round's gossip topic, and take other peers' from there (the
   * protocol before issue #4's scale work; A/B and mixed networks). Default false: the round machine
   * takes contributions from the ledger entries this peer appends (`contributionsFromLedger`), so
   * each contribution crosses the network once instead of twice.
   */
  contributionGossip: boolean
}

/**
 * Lower bound of the share deadline for N contributors (ms): 1.5 s + perPeerMs x N, or 0 when
 * perPeerMs is 0. Why: the share phase of a round whose committee is new is dominated by
 * connection set-up at the members, ~N handshakes of 26-42 ms of CPU each (bench/round-dial.ts:
 * median dial 2.2 s at 20 nodes, 3.9 s at 40, on 2 cores); a share that misses the deadline costs
 * a whole retry with a new committee and new cold connections (30 peers: no round with 3 s, 4 of 4
 * with 10 s). With early receipts a longer deadline costs nothing when every share is in. At
 * 75 ms: 10 peers 2.25 s (under the benchmark's 3 s, unchanged), 40 peers 4.5 s, 100 peers 9 s;
 * round 1 (150 ms, all cold): 40 peers 7.5 s, 100 peers 16.5 s. Round 1's ~N x m handshakes
 * cost ~N x 175 ms of CPU in all (35 ms at both ends), ~N x 90 ms on two idle cores.
 */
export function shareFloorMs (contributors: number, perPeerMs: number): number {
  if (!(perPeerMs > 0) || !(contributors > 0)) return 0
  return Math.round(1500 + perPeerMs * contributors)
}

/**
 * Round r + 1 starts `startDelayMs` + perPeerMs x max(0, N - 20) after the `ts` of checkpoint r (N
 * contributors of r + 1; every peer derives it from the same ledger). Why: the share deadline runs
 * from that start, and a peer starts only once checkpoint r reached its ledger and it adopted model r
 * (ledger propagation alone took 1.2-3.5 s at 40 peers on the benchmark machine). While the ledger
 * co-signing took seconds (issue #4: 1.5-9 s at 40 peers) it hid this; once it took ~0.3 s, members
 * dealt their zero masks late and every 40-peer round retried with receipts split by dealer set (3 of
 * 3 runs); with a 2.5 s delay none did (period 12.4-13.7 s against 17.2-20.4 s before the co-signing
 * changes). Up to 20 peers (the 10-peer overhead benchmark) the delay stays `startDelayMs`.
 */
export function startDelayFor (contributors: number, startDelayMs: number, perPeerMs: number): number {
  const extra = Number.isFinite(contributors) && Number.isFinite(perPeerMs) && perPeerMs > 0 ? perPeerMs * Math.max(0, contributors - 20) : 0
  return Math.round(Math.max(0, startDelayMs) + extra)
}

/**
 * When round r + 1 starts after the `ts` of checkpoint r, and how long its share phase lasts (ms),
 * for N contributors: every peer derives both from the ledger (N) and its options, so all agree.
 * share = max(charter share deadline, shareFloorMs(N)) + slack, start = startDelayMs (+ slack without
 * earlyStart), slack = startMsPerPeer x max(0, N - 20). The share deadline (start + share) is the
 * same instant with and without earlyStart; round 1 (the launcher's barrier) has no slack.
 */
export function roundTiming (contributors: number, charterShareMs: number, o: Pick<PeerOptions, 'startDelayMs' | 'startMsPerPeer' | 'shareMsPerPeer' | 'earlyStart'>, firstRound: boolean): { startDelayMs: number, shareMs: number } {
  const floor = shareFloorMs(contributors, firstRound ? 2 * o.shareMsPerPeer : o.shareMsPerPeer)
  const base = Math.max(charterShareMs, floor)
  if (firstRound) return { startDelayMs: 0, shareMs: base }
  const slack = startDelayFor(contributors, 0, o.startMsPerPeer)
  return o.earlyStart ? { startDelayMs: startDelayFor(contributors, o.startDelayMs, 0), shareMs: base + slack } : { startDelayMs: startDelayFor(contributors, o.startDelayMs, o.startMsPerPeer), shareMs: base }
}

/** How long a machine still running may take to finish after the ledger got its round's checkpoint (ms). */
const LEDGER_FIRST_GRACE_MS = 3000

/** Committee warm-up (Peer.warmCommittee): dials in flight per peer, and the spread of their start. */
const WARM_CONCURRENCY = 2
const WARM_JITTER_PER_PEER_MS = 20
const WARM_MAX_JITTER_MS = 2000

export const PEER_DEFAULTS: Readonly<Omit<PeerOptions, 'dataDir'>> = Object.freeze({
  listenTcp: ['/ip4/127.0.0.1/tcp/0'],
  listenWs: [],
  bootstrap: [],
  startDelayMs: 150,
  startMsPerPeer: 100,
  maxRetries: 3,
  tickMs: 50,
  sendTimeoutMs: 20_000,
  proposeStaggerMs: 1500,
  ledgerWaitMs: 60_000,
  pubsubDiscovery: true,
  heartbeatIntervalMs: 200,
  shareMsPerPeer: 75,
  contributionGossip: false,
  earlyStart: true
})

export interface RoundEvent extends RoundInfo {
  /** this peer was on the committee that finished the round */
  member: boolean
  contributed: boolean
  /** bytes this peer wrote for the round (requests + publications) */
  bytesSent: number
  /** wall time from the round's start to its ledger checkpoint (ms) */
  ms: number
  /** provable misbehaviour this peer's machine saw during the round */
  misbehaviour: Array<{ peer: string, reason: string }>
  /** the model equals a recomputation from the published group sums (members and verifiers) */
  verified: boolean
  /**
   * this peer recomputed the checkpoint's co-signed outlier projections from the published group
   * sums and they matched (a non-member in a network with exclusion on; members built them)
   */
  projectionsChecked: boolean
  ledgerCid: string
}

export interface PeerEvents {
  'started': { peer: string, addresses: string[], netId: string }
  'round': RoundEvent
  'retry': { round: number, retry: number, committee: string[], reason: string }
  'misbehaviour': { peer: string, reason: string, source: 'round' | 'transport' | 'sync' }
  /** local reputation crossed its threshold: connections to `peer` closed and refused until `untilMs` */
  'banned': { peer: string, untilMs: number, score: number }
  'warning': { round: number, message: string }
  'finished': { lastRound: number }
}

interface Current { round: number, model: Float32Array, ruleState: RuleState | undefined }

/** A contribution entry of the ledger, as the round machine takes it. */
interface LedgerContribution { from: string, round: number, retry: number, commitments: Uint8Array[] }

/** node:crypto's native SHA-256 for the round's model-sized hashes (RoundConfig.sha256). */
export const nativeSha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest())

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

export class Peer extends TypedEmitter<PeerEvents> {
  readonly options: PeerOptions
  private readonly components: PeerComponents
  identity!: PeerIdentity
  ledger!: Ledger
  transport!: Libp2pTransport
  sync!: LedgerSync
  models!: ModelStore
  fetcher!: ModelFetch
  router!: RoundRouter
  writer!: LedgerWriter
  cosign!: CheckpointCosign
  statusService!: StatusService
  charter!: Charter
  netId!: string
  spec!: ModelSpec
  private running = false
  private loop: Promise<void> | undefined
  private current: Current | undefined
  private readonly rounds = new Map<number, RoundInfo>()
  /** rounds this peer has already run a machine for (a new run is a re-run) */
  private readonly ranBefore = new Set<number>()
  private readonly penalties = new Map<string, number>()
  /** decaying edge penalties with a ban (src/reputation/local.ts) */
  readonly localReputation: LocalReputation
  private lastInfo: RoundInfo | undefined
  private stopController = new AbortController()
  private tickTimer: ReturnType<typeof setInterval> | undefined
  /** rounds whose retry-0 committee this peer has started connecting to (warmCommittee) */
  private readonly warmed = new Set<number>()
  /**
   * Rounds whose co-signed checkpoint this peer refused (its model or projections are not what the
   * published group sums give: checkpoint-verify.ts), with the refused model hash. The peer builds
   * nothing on such a checkpoint: it keeps serving, and reports, but runs no later round.
   */
  private readonly refused = new Map<number, { modelHash: string, reason: string }>()
  /** the round machines' signer and verifier (one per peer: the verifier caches public KeyObjects) */
  private roundSigner!: ReturnType<typeof roundSignerFrom>
  private roundVerify!: ReturnType<typeof roundVerifyFrom>
  /** contributions of rounds not yet checkpointed, as they reached this ledger (the machine's input) */
  private readonly ledgerContributions = new Map<number, LedgerContribution[]>()
  /** the running machine's feed of ledger contributions (runRound) */
  private feedContribution: ((c: LedgerContribution) => void) | undefined

  constructor (options: Partial<PeerOptions> & Pick<PeerOptions, 'dataDir'>, components: PeerComponents = {}) {
    super()
    this.options = { ...PEER_DEFAULTS, ...options }
    this.components = components
    this.localReputation = new LocalReputation(this.options.localReputation)
  }

  get self (): string { return this.identity.name }
  get isRunning (): boolean { return this.running }
  get lastRound (): number { return this.ledger.state.lastRound }
  /** the model of the last round this peer finished, with its round */
  get model (): { round: number, model: Float32Array } | undefined { return this.current === undefined ? undefined : { round: this.current.round, model: this.current.model } }
  addresses (): string[] { return this.transport.addresses() }

  /** Open everything and start the round loop. */
  async start (): Promise<void> {
    if (this.running) return
    const o = this.options
    this.identity = await loadOrCreateIdentity(o.dataDir)
    const signer = nodeSigner(this.identity.seed)
    this.roundSigner = roundSignerFrom(signer)
    // One verifier (and KeyObject cache) for the round and the ledger, on the main thread: an
    // Ed25519 check costs ~50 us, while on libuv's 4-thread pool it queued behind every LevelDB
    // read and synced batch write (~14 ms each on the benchmark's disk) of every peer in the
    // process, and the gossip validator that verifies a ledger announcement forwards it only after.
    const verifier = nodeVerifier({ threadPool: false })
    this.roundVerify = roundVerifyFrom(verifier)
    this.ledger = await Ledger.open({ location: join(o.dataDir, 'ledger'), verifier })
    this.ledger.onVerified((entries) => { this.onLedgerEntries(entries) })
    if (this.ledger.state.genesisCid === null) {
      const g = await this.readGenesis()
      await this.ledger.append(g)
    }
    this.charter = this.ledger.state.charter!
    this.spec = charterModelSpec(this.charter)
    const genesisCid = this.ledger.state.genesisCid!
    this.netId = networkIdFromGenesis(genesisCid.bytes)
    const net = networkProtocols(this.netId)
    this.models = await ModelStore.open({ location: join(o.dataDir, 'models') })
    this.transport = await Libp2pTransport.create({
      privateKey: this.identity.privateKey,
      netId: this.netId,
      listenTcp: o.listenTcp,
      listenWs: o.listenWs,
      bootstrap: o.bootstrap,
      pubsubDiscovery: o.pubsubDiscovery,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      // The round's dealer-integrity topic is not in G's table of topics: allow it too.
      allowedTopics: [...net.allTopics, scopeTopic(this.netId, TOPIC_ZCHECK)]
    })
    await this.transport.start()
    this.transport.onMisbehaviour((peer, m) => { this.penalise(peer, `${m.kind}:${m.where}`, 'transport') })
    const transport: Transport = this.transport
    this.sync = createLedgerSync({ transport, ledger: this.ledger, signer, onMisbehaviour: (peer, m) => { this.penalise(peer, m.kind, 'sync') } }, {
      netId: this.netId, genesisCid: genesisCid.toString(), announce: 'own', announcePollMs: 25, catchUpIntervalMs: 5000, requestTimeoutMs: 10_000
    })
    this.fetcher = createModelFetch({ transport, store: this.models, onMisbehaviour: (peer, m) => { this.penalise(peer, m.kind, 'sync') } }, { netId: this.netId, requestTimeoutMs: 10_000 })
    this.router = new RoundRouter({ transport }, { netId: this.netId, verify: this.roundVerify, sendTimeoutMs: o.sendTimeoutMs, observe: o.observe, onMalformed: (peer, reason) => { this.penalise(peer, reason, 'round') } })
    // appended: own entries leave at once (not at the sync's next scan); onEntry: the writer's and the
    // co-signer's bounded waits wake on the entry they wait for (issue #4).
    this.writer = new LedgerWriter({
      // A missing contribution: fetch its author's chain only (a receipt names others' contributions: a full pull).
      ledger: this.ledger, signer, pullFrom: async (p) => await this.sync.pullFrom(p), pullChain: async (p) => await this.sync.pullChain(p, p),
      appended: (e) => { this.sync.announceEntry(e) },
      onEntry: (l) => this.sync.on('entry', () => { l() })
    }, { referenceWaitMs: 3000 })
    this.cosign = new CheckpointCosign({ transport, ledger: this.ledger, signer, writer: this.writer, pullFrom: async (p) => await this.sync.pullFrom(p) }, { netId: this.netId, requestTimeoutMs: 12_000, waitOwnMs: 5000, releaseMs: 20_000 })
    this.statusService = new StatusService({ transport, status: () => this.status(), roundInfo: (r) => this.rounds.get(r) }, this.netId)
    // Checkpoint r fixes round r + 1's committee (its seed is the checkpoint's co-signed core):
    // connect to those members as soon as the checkpoint is here, not when the round starts.
    this.sync.on('entry', (e) => {
      if (e.type !== 'checkpoint') return
      try { this.warmCommittee(this.ledger.state.lastRound + 1) } catch { /* best effort: the round's own sends dial anyway */ }
    })
    await this.sync.start()
    await this.fetcher.start()
    await this.router.start()
    await this.cosign.start()
    await this.statusService.start()
    this.running = true
    this.stopController = new AbortController()
    this.emit('started', { peer: this.self, addresses: this.addresses(), netId: this.netId })
    this.loop = this.run().catch((err: unknown) => {
      if (this.running) this.emit('warning', { round: this.lastRound + 1, message: `round loop stopped: ${(err as Error).name}: ${(err as Error).message}` })
    })
  }

  /** Stop the loop and release every socket, timer and store. */
  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.stopController.abort()
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer)
    await this.loop?.catch(() => undefined)
    await this.statusService.stop()
    await this.cosign.stop()
    await this.router.stop()
    await this.fetcher.stop().catch(() => undefined)
    await this.sync.stop().catch(() => undefined)
    await this.transport.stop().catch(() => undefined)
    await this.ledger.close().catch(() => undefined)
    await this.models.close().catch(() => undefined)
  }

  /** Resolves when the loop ends (maxRounds reached, or stopped). */
  async finished (): Promise<void> { await this.loop }

  status (): PeerStatus {
    const st: PeerStatus = {
      peer: this.self,
      addresses: this.running ? this.addresses() : [],
      connected: this.running ? this.transport.peers() : [],
      lastRound: this.ledger.state.lastRound,
      ledgerEntries: this.ledger.size,
      members: this.ledger.state.memberInfo(this.ledger.state.lastRound).length,
      running: this.running,
      penalties: Object.fromEntries(this.penalties)
    }
    if (this.lastInfo !== undefined) st.last = this.lastInfo
    return st
  }

  private async readGenesis (): Promise<SignedEntry | Uint8Array> {
    const g = this.options.genesis ?? join(this.options.dataDir, GENESIS_FILE)
    if (g instanceof Uint8Array) return g
    try {
      return new Uint8Array(await readFile(g))
    } catch (err) {
      throw new NoGenesisError(`the ledger in ${this.options.dataDir} is empty and no genesis could be read from ${g}: ${(err as Error).message}`)
    }
  }

  /**
   * Contributions reach the round machine from the ledger (issue #4): every entry is verified there
   * (the contributor's Ed25519 key, the same that signs its round messages), so the machine takes its
   * commitments as they are. Kept per round until the ledger has moved past it (a machine started
   * late is given those that came before it).
   */
  private onLedgerEntries (entries: readonly SignedEntry[]): void {
    // Called before the batch is committed: a checkpoint in the same batch is not in `lastRound` yet.
    const last = this.ledger.state.lastRound
    for (const e of entries) {
      if (e.entry.type !== 'contribution') continue
      const b = (e as SignedEntry<'contribution'>).entry.body
      const from = toHex(e.entry.author)
      if (from === this.self || b.round < last) continue
      const c: LedgerContribution = { from, round: b.round, retry: b.retry, commitments: b.commitments }
      let list = this.ledgerContributions.get(b.round)
      if (list === undefined) { list = []; this.ledgerContributions.set(b.round, list) }
      if (list.length < 65_536) list.push(c)
      this.feedContribution?.(c)
    }
    for (const r of this.ledgerContributions.keys()) if (r < last) this.ledgerContributions.delete(r)
  }

  private penalise (peer: string, reason: string, source: 'round' | 'transport' | 'sync'): void {
    this.penalties.set(peer, (this.penalties.get(peer) ?? 0) + 1)
    this.emit('misbehaviour', { peer, reason, source })
    // The offence kind weighs the penalty ('malformed-frame:<protocol>' -> 'malformed-frame').
    const now = Date.now()
    if (peer === this.self || !this.localReputation.charge(peer, reason.split(':')[0]!, now)) return
    const untilMs = now + this.localReputation.params.banMs
    this.emit('banned', { peer, untilMs, score: this.localReputation.score(peer, now) })
    if (this.running) void this.transport.ban(peer, untilMs).catch(() => undefined)
  }

  // ------------------------------------------------------------------ the round loop

  private async run (): Promise<void> {
    const signal = this.stopController.signal
    await this.ensureMember()
    // Rounds already checkpointed when the loop starts are history; every later checkpoint is
    // reported by exactly one 'round' event, including those that reached the ledger by sync while
    // this peer was busy elsewhere (a slow or late peer can receive checkpoints r and r + 1 in one
    // catch-up: the loop then jumps from r to r + 2, and a listener waiting for r + 1 (the late-joiner
    // test, for the last round) waited forever).
    let reported = this.ledger.state.lastRound
    for (let guard = 0; guard < 1_000_000 && this.running; guard++) {
      const r = this.ledger.state.lastRound + 1
      reported = await this.reportSynced(reported, r - 1, signal)
      if (this.options.maxRounds !== undefined && r > this.options.maxRounds) break
      const refusedPrev = this.refused.get(r - 1)
      if (refusedPrev !== undefined && toHex(this.ledger.state.checkpoints[r - 1]?.body.modelHash ?? new Uint8Array(0)) === refusedPrev.modelHash) {
        // Checkpoint r-1 is one this peer refused (refuseCheckpoint, already logged): build nothing on it.
        for (let i = 0; i < 100 && this.running && !signal.aborted; i++) await sleep(50)
        continue
      }
      const prev = await this.previousModel(r)
      if (prev === undefined) {
        this.emit('warning', { round: r, message: `model ${r - 1} not available yet` })
        await this.sync.catchUp().catch(() => [])
        await sleep(1000)
        continue
      }
      try {
        if (await this.runRound(r, prev, signal)) reported = Math.max(reported, r)
      } catch (err) {
        // e.g. no committee can be drawn for r yet: say so and look again, rather than end the loop
        // silently (every peer of a network stops at once when they share the cause).
        this.emit('warning', { round: r, message: `round ${r}: ${(err as Error).name}: ${(err as Error).message}` })
        await sleep(1000)
      }
    }
    // The last round's checkpoint may exist only in this ledger (this peer appended it): a peer that
    // exits at once leaves the others without it (they then wait, re-run the round, or, once their
    // co-signing binding is released, append a second checkpoint: a fork seen in `npm start`).
    // Keep serving sync and co-signing a little longer.
    if (this.running && !signal.aborted) {
      const until = Date.now() + 5000
      while (this.running && !signal.aborted && Date.now() < until) await sleep(100)
    }
    this.emit('finished', { lastRound: this.ledger.state.lastRound })
  }

  /**
   * Connect to retry 0's committee of round r before its share phase: every share, zero mask and
   * partial sum goes to a member over a direct stream. In round 1 of `npm start` a peer was connected
   * to its bootstrap peer only, the first direct sends dialled under load, and members held 1-2 of 8
   * shares and 2 of 5 masks at their receipt (every receipt had its own dealer set: no plan, a retry).
   * Called when checkpoint r - 1 reaches the ledger (it fixes the committee), again when round r
   * starts, and at the start barrier of round 1 (a peer learns the members' addresses only then).
   *
   * A new committee each round means ~N cold connections to m members at once: a connection costs
   * 26-42 ms of CPU at both ends, and 40 peers dialling 5 members in the same millisecond made the
   * median dial 3.9 s (bench/round-dial.ts), past a 3 s share deadline. So the dials are spread:
   * each peer starts its dials at a random offset in [0, min(2 s, 20 ms x N)) and keeps at most
   * 2 in flight; a dial that fails is not repeated here (the round's own send dials again).
   */
  private warmCommittee (r: number, force = false): void {
    if (!this.running || (!force && this.warmed.has(r))) return
    let committee: readonly string[]
    try { committee = this.ledger.state.committee(r, 0) } catch { return }
    this.warmed.add(r)
    for (const k of this.warmed) if (k < r - 2) this.warmed.delete(k)
    const connected = new Set(this.transport.peers())
    const missing = committee.filter(p => p !== this.self && !connected.has(p))
    if (process.env.TESSERA_PEER_DEBUG !== undefined) console.error(`[${this.self.slice(0, 6)}] r${r} connecting to ${missing.length} of ${committee.length} members`)
    if (missing.length === 0) return
    // Fisher-Yates with Math.random: the order only spreads load, it decides nothing.
    for (let i = missing.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [missing[i], missing[j]] = [missing[j]!, missing[i]!] }
    const n = Math.max(1, this.ledger.state.memberInfo(Math.max(0, r - 1)).length)
    const jitterMs = Math.random() * Math.min(WARM_MAX_JITTER_MS, WARM_JITTER_PER_PEER_MS * n)
    const signal = this.stopController.signal
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < missing.length && !signal.aborted && this.running) await this.warmOne(missing[next++]!, signal)
    }
    void sleep(jitterMs).then(async () => { await Promise.allSettled(Array.from({ length: Math.min(WARM_CONCURRENCY, missing.length) }, worker)) })
  }

  private async warmOne (p: string, signal: AbortSignal): Promise<void> {
    if (this.transport.peers().includes(p)) return
    // A member whose address this peer does not know yet (it knows its bootstrap peers, and
    // discovery gossip comes every 10 s): ask up to 3 connected peers for it.
    if ((await this.transport.knownAddresses(p)).length === 0) {
      for (const n of this.transport.peers().slice(0, 3)) {
        try {
          const got = await this.statusService.ask<{ addresses?: unknown }>(n, { op: 'addresses', peer: p }, 5000)
          if (Array.isArray(got.addresses) && got.addresses.length > 0) { await this.transport.learnAddresses(p, got.addresses.filter((a): a is string => typeof a === 'string')); break }
        } catch { /* try the next neighbour */ }
      }
    }
    if (signal.aborted) return
    await this.transport.connect(p, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) }).catch(() => false)
  }

  /**
   * 'round' events for checkpoints in (from, to] this peer did not run to the end (they came by
   * sync). The last one's model is fetched (and checked against its hash) so `model` is current.
   * Returns the last round reported.
   */
  private async reportSynced (from: number, to: number, signal: AbortSignal): Promise<number> {
    const last = Math.min(to, this.options.maxRounds ?? to)
    for (let q = from + 1; q <= last && !signal.aborted; q++) {
      if (q === last) {
        for (let attempt = 0; attempt < 5 && !signal.aborted && this.current?.round !== q; attempt++) {
          if (await this.previousModel(q + 1) === undefined) await sleep(500)
        }
      }
      const rec = this.ledger.state.checkpoints[q]!
      const info = this.rounds.get(q) ?? this.infoFromLedger(q)
      const ev: RoundEvent = {
        ...info,
        member: false,
        contributed: rec.body.groups.some(g => g.some(p => toHex(p) === this.self)),
        bytesSent: 0,
        ms: 0,
        misbehaviour: [],
        verified: false,
        projectionsChecked: false,
        ledgerCid: rec.cid.toString(),
        retries: rec.retry
      }
      if (this.components.evaluator !== undefined && this.current?.round === q) {
        try { ev.accuracy = await this.components.evaluator(this.current.model, this.spec) } catch { /* reported as absent */ }
      }
      this.lastInfo = info
      this.emit('round', ev)
    }
    return Math.max(from, last)
  }

  /** In an open network, a peer that is not a member appends a join entry (admitted once a checkpoint covers it). */
  private async ensureMember (): Promise<void> {
    await this.sync.catchUp().catch(() => [])
    const st = this.ledger.state
    if (st.isAdmitted(this.self)) return
    if (this.charter.admission.mode === 'open') {
      await this.writer.write('join', {}).catch((err: unknown) => { this.emit('warning', { round: st.lastRound + 1, message: `join: ${(err as Error).message}` }) })
    } else {
      this.emit('warning', { round: st.lastRound + 1, message: 'consortium network: waiting for the founders to admit this peer' })
    }
  }

  /** Model r-1 and the rule state after round r-1. */
  private async previousModel (r: number): Promise<Current | undefined> {
    if (r === 1) {
      return { round: 0, model: initialWeights(this.spec, seededRng(`tessera/init/${this.ledger.state.genesisCid!.toString()}`)), ruleState: undefined }
    }
    if (this.current !== undefined && this.current.round === r - 1) return this.current
    const ck = this.ledger.state.checkpoints[r - 1]
    if (ck === undefined) return undefined
    const hash = ck.body.modelHash
    // Round info (rule state hash) from a peer that finished r-1.
    const peers = [...new Set([...ck.committee, ...this.transport.peers()])].filter(p => p !== this.self)
    let info = this.rounds.get(r - 1)
    for (const p of peers) {
      if (info !== undefined) break
      try {
        const i = await this.statusService.ask<RoundInfo>(p, { op: 'round', round: r - 1 })
        if (i.modelHash === toHex(hash)) info = i
      } catch { /* try the next peer */ }
    }
    if (info === undefined) return undefined
    try {
      let model = await this.models.getModel(hash)
      if (model === undefined) model = await this.fetcher.fetchModel(hash, { peers })
      let ruleState: RuleState | undefined
      const rsHash = hexBytes(info.ruleStateHash)
      if (toHex(rsHash) !== toHex(NO_RULE_STATE_HASH)) {
        const b = (await this.models.getBytes(rsHash)) ?? await this.fetcher.fetch(rsHash, { peers })
        ruleState = decodeRuleState(b)
        if (toHex(ruleStateHash(ruleState, nativeSha256)) !== info.ruleStateHash) throw new PeerProtocolError('fetched rule state does not match its hash')
        await this.models.putVerified(b, rsHash).catch(() => undefined)
      }
      await this.models.putModel(model)
      this.rounds.set(r - 1, info)
      this.current = { round: r - 1, model, ruleState }
      return this.current
    } catch (err) {
      this.emit('warning', { round: r, message: `cannot fetch model ${r - 1}: ${(err as Error).message}` })
      return undefined
    }
  }

  private roundSetup (r: number): { params: RoundParams, startDelayMs: number, seed: Uint8Array, candidates: Array<{ peer: string, weight: number }>, contributors: string[], outliers?: { excluded: string[] } } {
    const st = this.ledger.state
    const charter = this.charter
    let candidates: Array<{ peer: string, weight: number }>
    if (r === 1) {
      candidates = st.founders().filter(p => !st.isExcluded(p)).map(peer => ({ peer, weight: 1 }))
    } else {
      // The same function as E's LedgerState.committee: reputation of the evidence of rounds < r.
      candidates = committeeCandidates(computeReputation(st.evidence.slice(0, r - 1), st.memberInfo(r - 1), { ...charter.reputation, round: r }))
    }
    const contributors = st.memberInfo(r - 1).filter(m => m.excludedAtRound === undefined).map(m => m.peer)
    let params = charterRoundParams(charter, candidates.length, this.options.maxRetries)
    // Round 1: every connection to the committee is new (no earlier checkpoint to warm them from).
    const timing = roundTiming(contributors.length, params.deadlines.shareMs, this.options, r === 1)
    if (params.deadlines.shareMs !== timing.shareMs) params = { ...params, deadlines: { ...params.deadlines, shareMs: timing.shareMs } }
    // Persistent-outlier exclusion (charter v3): the same set as E's LedgerState checks plans and
    // checkpoints against, from the checkpoints of rounds < r; the machine records the evidence.
    const outliers = st.exclusionEnabled ? { excluded: st.outlierExclusion(r) } : undefined
    return { params, startDelayMs: timing.startDelayMs, seed: st.seed(r, 0), candidates, contributors, ...(outliers === undefined ? {} : { outliers }) }
  }

  /** Run round r; true when it emitted the round's 'round' event (checkpoint r is in the ledger). */
  private async runRound (r: number, prev: Current, signal: AbortSignal): Promise<boolean> {
    const o = this.options
    const st = this.ledger.state
    const setup = this.roundSetup(r)
    // A peer the ledger excludes as a persistent outlier would be refused by every plan: it does not train.
    const contribute = this.components.trainer !== undefined && setup.contributors.includes(this.self) && setup.outliers?.excluded.includes(this.self) !== true
    this.warmCommittee(r)
    // Train as soon as model r-1 is known, before waiting for the round's start (round 1: the launcher's
    // barrier): local training only needs that model, must be done by the share deadline, and blocks this
    // process's event loop while it runs (trainLocal is synchronous), so it had better not overlap the
    // share phase. `npm start`'s round 1 always needed a retry: training began at the barrier and took
    // 8.3-9 s in 8 processes on 2 cores, past the 8 s share deadline, and meanwhile no share or mask moved.
    const pretrained = contribute
      ? sleep(0).then(async () => await this.train(prev.model, r)).then(update => ({ update }), (err: unknown) => ({ err: err as Error }))
      : undefined
    const prevTs = r === 1 ? undefined : (await this.ledger.getByCid(st.checkpointCid(r - 1)!.toString()))?.entry.ts
    const base = r === 1 ? (typeof o.startAt === 'function' ? await o.startAt() : (o.startAt ?? Date.now())) : (prevTs ?? Date.now()) + setup.startDelayMs
    // A round run again (no ledger checkpoint after the last run) cannot start at `base`: every
    // deadline of every retry would be long past and the machine would fail at once, forever (this
    // stalled the 5-peer test for minutes). Start at the next point of a grid every peer derives from
    // the ledger alone (base + j * the machine's whole span), so the peers that gave up meet again.
    let start = base
    let firstRetry = 0
    if (this.ranBefore.has(r)) {
      const d = setup.params.deadlines
      const span = (setup.params.maxRetries + 1) * (d.shareMs + d.receiptMs + d.planMs + d.partialMs + d.checkpointMs)
      const j = Math.max(1, Math.ceil((Date.now() + 1000 - base) / span))
      start = base + j * span
      // ...and with the retries that follow the previous grid point's, not retry 0 again: the same
      // seeds gave the same maxRetries + 1 committees at every re-run, so a round none of them could
      // finish (a dead member leading each, an unreachable quorum) was never finished. Every peer that
      // re-runs at grid point j uses the same numbers, hence the same new committees (ledger seeds).
      // Retry indices are capped (round messages: LIMITS.maxRetry): past the last range, start again.
      const ranges = Math.floor((LIMITS.maxRetry + 1) / (setup.params.maxRetries + 1))
      firstRetry = (j % ranges) * (setup.params.maxRetries + 1)
    }
    this.ranBefore.add(r)
    for (const k of this.ranBefore) if (k < r) this.ranBefore.delete(k)
    // Seeds and committees of every retry are the ledger's (so every entry the machine writes is one the
    // ledger accepts); setup.candidates gives the same committee for retry 0 (the same function).
    let machine: RoundMachine
    try {
      machine = new RoundMachine({
      params: setup.params, round: r, seed: setup.seed, prevModel: prev.model, ruleState: prev.ruleState,
      candidates: setup.candidates, contributors: setup.contributors, startTime: start, firstRetry,
      ...(setup.outliers === undefined ? {} : { outliers: setup.outliers }),
      schedule: { seed: (k) => st.seed(r, k), committee: (k) => st.committee(r, k) },
      // The router's verify answers from its gossip validator's verdict (one Ed25519 check per
      // gossip message instead of two) and checks anything else with the same verifier.
      signer: this.roundSigner, verify: this.router.verify,
      rng: cryptoRng(), contribute, faults: o.faults,
      // A member waits (at most half the receipt phase) for zero masks still in flight: receipts with
      // different dealer sets give no norm check at all (npm start's split receipts, peer.md).
      maskWaitMs: setup.params.deadlines.receiptMs / 2,
      // Receipt as soon as every share, contribution and mask is in (the later phases end early already).
      earlyReceipt: true,
      sha256: nativeSha256,
      contributionsFromLedger: !o.contributionGossip
      })
    } catch (err) {
      this.emit('warning', { round: r, message: `cannot start round ${r}: ${(err as Error).message}` })
      for (let i = 0; i < 20 && !signal.aborted; i++) await sleep(50)
      return false
    }
    this.router.bytesSent = 0
    const misbehaviour: Array<{ peer: string, reason: string }> = []
    let retries = 0
    let resolveEnd!: (v: { ck?: CompletedCheckpoint, failed?: string }) => void
    const ended = new Promise<{ ck?: CompletedCheckpoint, failed?: string }>(resolve => { resolveEnd = resolve })
    const appends: Array<Promise<unknown>> = []
    let doneHash: string | undefined
    const emit = (outs: RoundOutput[]): void => {
      for (const out of outs) {
        if (process.env.TESSERA_PEER_DEBUG === '2') console.error(`[${this.self.slice(0, 6)}] ${Date.now() % 100000} r${r}k${machine.currentRetry} out ${out.kind} ${'topic' in out ? out.topic : ''}${'family' in out ? out.family + ' ' + out.to.slice(0, 6) : ''}`)
        switch (out.kind) {
          case 'send': this.router.send(out.to, out.family, out.bytes); break
          case 'publish': this.router.publish(out.topic, out.bytes); break
          case 'append':
            // My machine signed its checkpoint body: co-sign the ledger checkpoint from now on, and
            // propose it (the leader at once), in parallel with the machine's own signature gossip.
            if (out.entry.type === 'checkpoint') {
              const retry = out.entry.body.retry
              const mine = toHex(out.entry.bodyHash)
              // Stale: my machine went on to another retry, or ended with a quorum on another body.
              this.checkpointSigned(out.entry.body, out.entry.receipts, setup.params, () => machine.isDone ? (doneHash !== undefined && doneHash !== mine) : machine.currentRetry !== retry, signal)
            } else appends.push(this.writer.fromRound(out.entry))
            break
          case 'train':
            // The machine asks for an update of model r-1 (= prev.model): the one started above.
            void (pretrained ?? this.train(out.model, out.round).then(update => ({ update }), (err: unknown) => ({ err: err as Error }))).then(res => {
              if ('err' in res) { this.emit('warning', { round: r, message: `training failed: ${res.err.message}` }); return }
              if (res.update !== undefined && !machine.isDone) emit(machine.step({ kind: 'trained', update: res.update }))
            })
            break
          case 'misbehaviour':
            if (process.env.TESSERA_PEER_DEBUG === '1') console.error(`[${this.self.slice(0, 6)}] r${r}k${machine.currentRetry} ${out.severity} ${out.peer.slice(0, 6)} ${out.reason} ${out.error}`)
            if (out.severity === 'reject') { misbehaviour.push({ peer: out.peer, reason: out.reason }); this.penalise(out.peer, out.reason, 'round') }
            break
          case 'retry':
            if (process.env.TESSERA_PEER_DEBUG !== undefined) console.error(`[${this.self.slice(0, 6)}] r${r} retry ${out.retry}: ${out.reason}`)
            retries = out.retry
            this.emit('retry', { round: r, retry: out.retry, committee: out.committee, reason: out.reason })
            break
          case 'done':
            doneHash = toHex(out.checkpoint.bodyHash)
            // A member whose own body lost to the quorum's co-signs the quorum's (checkpoint-cosign.ts `finished`).
            if (out.checkpoint.model === undefined && out.checkpoint.body.committee.includes(this.self)) this.cosign.finished(out.checkpoint.body)
            resolveEnd({ ck: out.checkpoint })
            break
          case 'failed': resolveEnd({ failed: out.reason }); break
        }
      }
    }
    const active = { machine, round: r, emit }
    // Start at the agreed time (messages that arrive before are held by the router): a machine that
    // starts early would publish before the gossip mesh of a new network has formed.
    const early = start - Date.now()
    const offAbort: Array<() => void> = []
    const aborted = <T>(v: T): Promise<T> => new Promise<T>(resolve => {
      const f = (): void => { resolve(v) }
      signal.addEventListener('abort', f, { once: true })
      offAbort.push(() => { signal.removeEventListener('abort', f) })
    })
    if (early > 0) await Promise.race([sleep(early), aborted(undefined)])
    if (signal.aborted) { for (const off of offAbort) off(); return false }
    // Again at the start: a new network's peers meet their bootstrap peer while this one waits at the
    // barrier, so only now can the bootstrap peer tell it the addresses of the committee (round 1).
    if (early > 0 && r === 1) this.warmCommittee(r, true)
    emit(machine.start())
    this.router.attach(active)
    // Contributions from the ledger (those that came before the machine, then as they come).
    const feed = (c: LedgerContribution): void => { if (c.round === r && !machine.isDone) emit(machine.step({ kind: 'contribution', ...c })) }
    if (!o.contributionGossip) {
      this.feedContribution = feed
      for (const c of this.ledgerContributions.get(r) ?? []) feed(c)
    }
    // After the event loop was blocked (local training is synchronous), let the messages that arrived
    // meanwhile be read before a deadline fires: timers run before I/O in Node's loop, so the overdue tick
    // would publish a receipt without the shares and masks waiting in the sockets (receipts then split by
    // dealer set and the norm check fails). Hold the clock for a quarter of the lag, at most 2 s.
    let lastBeat = Date.now()
    let holdUntil = 0
    this.tickTimer = setInterval(() => {
      const now = Date.now()
      const lag = now - lastBeat - o.tickMs
      lastBeat = now
      if (lag > 1000) holdUntil = now + Math.min(2000, lag / 4)
      if (now < holdUntil) return
      emit(machine.step({ kind: 'tick', now }))
    }, o.tickMs)
    // The ledger may move past r without us (we were too slow, or restarted): stop waiting then.
    const ledgerMoved = (async (): Promise<{ ck?: CompletedCheckpoint, failed?: string }> => {
      while (!signal.aborted && this.ledger.state.lastRound < r && !machine.isDone) await this.writer.nextEntry(50)
      // A member whose ledger got the checkpoint (co-signed by a quorum, possibly itself) before its
      // machine saw the quorum's gossip: if the ledger's checkpoint is the body this member computed,
      // its model is that checkpoint's model.
      const own = machine.ownCheckpoint()
      const rec = this.ledger.state.checkpoints[r]
      if (!machine.isDone && own !== undefined && rec !== undefined && rec.retry === own.body.retry &&
        toHex(rec.body.modelHash) === toHex(own.body.modelHash) && toHex(rec.body.groupSumsHash) === toHex(own.body.groupSumsHash)) return { ck: own }
      // Anyone else whose machine is still running: the quorum's checkpoint signatures are on their
      // way by gossip (co-signing starts at each member's own signature, so the ledger can now be
      // first). Let the machine finish (`ended` wins the race): without it, a non-member would fetch
      // model r by hash from other peers (round info, model: round trips on round r + 1's critical
      // path, seen at 40 peers as late shares and zero masks in every next round) and would not
      // check the projections.
      const grace = Date.now() + LEDGER_FIRST_GRACE_MS
      while (!signal.aborted && !machine.isDone && this.ledger.state.lastRound === r && Date.now() < grace) await sleep(25)
      return {}
    })()
    const end = await Promise.race([ended, ledgerMoved, aborted<{ ck?: CompletedCheckpoint, failed?: string }>({ failed: 'stopped' })])
    for (const off of offAbort) off()
    clearInterval(this.tickTimer)
    this.tickTimer = undefined
    if (this.feedContribution === feed) this.feedContribution = undefined
    this.router.detach(r)
    if (signal.aborted) return false
    const bytesSent = this.router.bytesSent
    await Promise.allSettled(appends)

    let result: Current | undefined
    let verified = false
    let projectionsChecked = false
    const ck = end.ck
    if (ck !== undefined) {
      try {
        const got = await this.adoptCheckpoint(ck, prev, setup.params, machine.fixed.normBound)
        result = got.current
        verified = got.verified
        projectionsChecked = got.projectionsChecked
      } catch (err) {
        if (err instanceof CheckpointMismatchError) this.refuseCheckpoint(err, toHex(ck.body.modelHash))
        else this.emit('warning', { round: r, message: `cannot adopt checkpoint: ${(err as Error).message}` })
      }
    } else if (end.failed !== undefined) {
      this.emit('warning', { round: r, message: `round ${r}: ${end.failed}` })
    }
    // Wait for checkpoint r in the ledger (synced from whoever appended it).
    // A machine that failed every retry waits less: the ledger rarely gets a checkpoint then (a
    // later checkpoint still ends the re-run through `ledgerMoved`).
    const deadline = Date.now() + (end.failed !== undefined ? Math.min(o.ledgerWaitMs, 5000) : o.ledgerWaitMs)
    let lastPull = Date.now()
    while (!signal.aborted && this.ledger.state.lastRound < r && Date.now() < deadline) {
      await this.writer.nextEntry(50)
      if (Date.now() - lastPull > 3000) { lastPull = Date.now(); await this.sync.catchUp().catch(() => []) }
    }
    if (this.ledger.state.lastRound < r) {
      if (!signal.aborted) this.emit('warning', { round: r, message: 'no ledger checkpoint; running the round again' })
      return false
    }
    const rec = this.ledger.state.checkpoints[r]!
    if (this.refused.get(r)?.modelHash === toHex(rec.body.modelHash)) {
      // The ledger took the checkpoint this peer refused: nothing to adopt, no round to report.
      this.emit('warning', { round: r, message: `the ledger's checkpoint ${r} is the one this peer refused (${this.refused.get(r)!.reason}); it runs no later round` })
      return false
    }
    // The ledger may hold another retry's checkpoint than the one this peer adopted: compare once.
    const adopted = result !== undefined && toHex(modelHash(result.model, nativeSha256)) === toHex(rec.body.modelHash)
    if (adopted) {
      this.current = result
    } else {
      this.current = undefined // previousModel fetches the ledger's model
    }
    const info = this.rounds.get(r) ?? this.infoFromLedger(r)
    const ev: RoundEvent = {
      ...info,
      member: ck?.model !== undefined,
      contributed: contribute,
      bytesSent,
      ms: Date.now() - start,
      misbehaviour,
      verified,
      projectionsChecked: projectionsChecked && adopted,
      ledgerCid: rec.cid.toString(),
      retries: rec.retry
    }
    if (this.components.evaluator !== undefined && this.current !== undefined) {
      try { ev.accuracy = await this.components.evaluator(this.current.model, this.spec); info.accuracy = ev.accuracy } catch { /* reported as absent */ }
    }
    this.lastInfo = info
    void retries
    this.emit('round', ev)
    return true
  }

  private infoFromLedger (r: number): RoundInfo {
    const rec = this.ledger.state.checkpoints[r]!
    const b = rec.body
    return {
      round: r, modelHash: toHex(b.modelHash), ruleStateHash: '', groupSumsHash: toHex(b.groupSumsHash), committee: rec.committee,
      groups: b.groups.map(g => g.map(toHex)), refused: b.refused.map(p => ({ peer: toHex(p), reason: 'norm' })), blamed: b.blame.map(p => ({ peer: toHex(p), reason: '' })), retries: b.retry
    }
  }

  /**
   * The new model from a finished machine: members have it; other peers fetch
   * the published group sums by hash and recompute it (DESIGN.md "A round" 5:
   * any peer can re-run the aggregation and check the model hash). Stores the
   * model, the rule state and the group sums so this peer serves them.
   */
  private async adoptCheckpoint (ck: CompletedCheckpoint, prev: Current, params: RoundParams, normBound: number): Promise<{ current: Current, verified: boolean, projectionsChecked: boolean }> {
    const b = ck.body
    const rule = { name: params.rule, params: params.ruleParams }
    let blob = ck.groupSums
    for (let attempt = 0; blob === undefined && attempt < 5; attempt++) {
      // Members store the sums right after their own `done`: a non-member may ask a little early.
      try {
        blob = await this.fetcher.fetch(b.groupSumsHash, { peers: b.committee.filter(p => p !== this.self) })
      } catch (err) {
        if (attempt === 4) throw err
        await sleep(400)
        continue
      }
    }
    if (blob === undefined) throw new PeerProtocolError('group sums not available')
    if (toHex(groupSumsHash(blob, nativeSha256)) !== toHex(b.groupSumsHash)) throw new PeerProtocolError('fetched group sums do not match their hash')
    let model: Float32Array
    let ruleState: RuleState | undefined
    let verified: boolean
    let projectionsChecked = false
    if (ck.model !== undefined) {
      // A member's machine computed this model from exactly these group sums (recomputeModel over the
      // sums it reconstructed and encoded into the blob) and hashed both into the body it signed:
      // recomputeFromBlob would repeat the same computation on the same inputs. Its projections are
      // its own too (the body it signed).
      model = ck.model
      ruleState = ck.ruleState
      verified = true
    } else {
      // Everyone else recomputes the model and, with exclusion on, the co-signed projections (issue #5).
      const v = verifyFromSums({
        body: { round: b.round, groups: b.groups.map(g => g.members), modelHash: b.modelHash, ruleStateHash: b.ruleStateHash, ...(b.projections === undefined ? {} : { projections: b.projections }) },
        blob, prevModel: prev.model, ruleState: prev.ruleState, rule, opts: { serverLr: params.serverLr, meanNormBound: normBound },
        exclusion: this.ledger.state.exclusionEnabled, signers: ck.signatures.map(x => x.peer), hash: nativeSha256
      })
      model = v.model
      ruleState = v.ruleState
      verified = v.verified
      projectionsChecked = v.projectionsChecked
    }
    // verifyFromSums already compared the recomputed model's hash (CheckpointMismatchError); a member's own model is checked here.
    if (ck.model !== undefined && toHex(modelHash(model, nativeSha256)) !== toHex(b.modelHash)) throw new PeerProtocolError('recomputed model does not match the co-signed model hash')
    // The group sums first, under their checked hash: the other peers are fetching them now.
    await this.models.blobs.put(blob, b.groupSumsHash)
    await this.models.putModel(model)
    const rs = encodeRuleState(ruleState)
    if (rs.length > 0) await this.models.blobs.put(rs)
    this.rounds.set(b.round, {
      round: b.round, modelHash: toHex(b.modelHash), ruleStateHash: toHex(b.ruleStateHash), groupSumsHash: toHex(b.groupSumsHash),
      committee: [...b.committee], groups: b.groups.map(g => [...g.members]).filter(g => g.length > 0), refused: b.refused.map(x => ({ ...x })),
      blamed: b.blamed.map(x => ({ ...x })), retries: b.retry
    })
    for (const k of [...this.rounds.keys()]) if (k < b.round - 16) this.rounds.delete(k)
    return { current: { round: b.round, model, ruleState }, verified, projectionsChecked }
  }

  /**
   * Refuse a co-signed checkpoint whose model or projections the published group sums contradict:
   * each signer is charged (local reputation, as any provable misbehaviour: `misbehaviour` event,
   * penalties, a ban past the threshold), the refusal is logged as a warning, and the round is
   * marked so that this peer never builds on it.
   */
  private refuseCheckpoint (err: CheckpointMismatchError, modelHashHex: string): void {
    if (!this.refused.has(err.round)) this.refused.set(err.round, { modelHash: modelHashHex, reason: err.reason })
    for (const p of err.signers) if (p !== this.self) this.penalise(p, `bad-checkpoint:${err.reason}`, 'round')
    this.emit('warning', { round: err.round, message: `${err.name}: ${err.message}; signed by ${err.signers.map(p => p.slice(0, 12)).join(', ')}` })
  }

  /**
   * My machine finalized `body` (and signed it): from now on I co-sign the ledger checkpoint whose
   * core is this body (checkpoint-cosign.ts checks that), and I propose it. Before, both waited for
   * the machine's quorum ('done') and the model's adoption: 0.5-4.5 s per round in the benchmark;
   * co-signing the body I have already signed adds no trust (the ledger entry still needs a quorum
   * of members whose own bodies are this one). `stale()`: my machine moved to another retry.
   */
  private checkpointSigned (body: CheckpointBody, receipts: string[], params: RoundParams, stale: () => boolean, signal: AbortSignal): void {
    this.cosign.finished(body)
    void this.proposeLater(body, receipts, params, stale, signal)
  }

  /**
   * Members propose the ledger checkpoint in committee order, `proposeStaggerMs` apart (attempt a of
   * member i at (i + a m) staggers after its machine signed the body; the leader at once), until the
   * ledger has it. Concurrent proposals resolve towards the earliest member (checkpoint-cosign.ts),
   * and a failed one releases its signers.
   */
  private async proposeLater (b: CheckpointBody, receipts: string[], params: RoundParams, stale: () => boolean, signal: AbortSignal): Promise<void> {
    const idx = b.committee.indexOf(this.self)
    if (idx < 0) return
    const t0 = Date.now()
    const over = (): boolean => signal.aborted || this.ledger.state.lastRound >= b.round || stale()
    // Gap between the members that follow a failed proposal (checkpoint-cosign.ts `holdOff`).
    const gapMs = Math.max(100, Math.round(this.options.proposeStaggerMs / 3))
    let lastEnd = 0
    for (let attempt = 0; attempt < 8 && !over(); attempt++) {
      const slot = t0 + (idx + attempt * b.committee.length) * this.options.proposeStaggerMs
      // My slot, unless an earlier member's proposal is open (then its end) or failed since my last
      // attempt (then the members after it go in committee order, gapMs apart, without their slots).
      for (let i = 0; i < 100_000 && !over(); i++) {
        const hold = this.cosign.holdOff(b.round, b.committee, gapMs, lastEnd)
        if (Date.now() >= (hold === 0 ? slot : hold)) break
        await sleep(50)
      }
      if (over()) return
      try {
        const cid = await this.cosign.propose(b, b.committee, checkpointQuorum(b.committee.length), Date.now(), receipts).finally(() => { lastEnd = Date.now() })
        if (cid !== undefined) return
        if (this.ledger.state.lastRound < b.round && !stale() && this.cosign.lastRefusals[0] !== DEFERRED) this.emit('warning', { round: b.round, message: `checkpoint proposal without quorum: ${this.cosign.lastRefusals.join('; ').slice(0, 500)}` })
      } catch (err) {
        this.emit('warning', { round: b.round, message: `checkpoint proposal: ${(err as Error).message}` })
      }
    }
    void params
  }

  private async train (model: Float32Array, round: number): Promise<Float32Array | undefined> {
    const t = this.components.trainer
    if (t === undefined) return undefined
    const u = await t(model, round, this.spec)
    if (this.options.attack === undefined) return u
    // Byzantine contributor (research/demo flag): B's attack on its own update, spending the whole norm budget.
    const attack = getAttack(this.options.attack)
    const [bad] = attack.craft({ honest: [u], count: 1, own: [u] }, { normBound: this.charter.dp.clipNorm, useFullBudget: true }, seededRng(`attack/${this.self}/${round}`))
    return bad
  }
}

function hexBytes (h: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/.test(h)) throw new PeerProtocolError('not a hex string')
  const out = new Uint8Array(h.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16)
  return out
}

/** Factory (House style 2). */
export function createPeer (options: Partial<PeerOptions> & Pick<PeerOptions, 'dataDir'>, components: PeerComponents = {}): Peer {
  return new Peer(options, components)
}

/** Write a genesis entry for `charter`, signed by `identity` (the founder), and return its envelope. */
export async function writeGenesis (identity: PeerIdentity, charter: Charter, ts = Date.now()): Promise<Uint8Array> {
  const g = await makeGenesis(nodeSigner(identity.seed), charter, ts)
  return g.envelope
}



