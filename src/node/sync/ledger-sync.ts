/**
 * Ledger sync (DESIGN "The ledger", last bullet): new entries are announced on
 * the network's ledger topic; the `ledger-sync` request/response protocol
 * fetches missing entries by hash, by author chain, and the heads summary, so
 * a peer that joins late or restarts catches up from any honest peer. Built on
 * the transport-agnostic Transport (src/node/transport.ts): it runs unchanged
 * over the in-memory network and over libp2p. See docs/architecture/sync.md.
 *
 * Nothing is stored unverified: every received entry goes through the Ledger
 * (ingest.ts). A peer that serves an invalid entry, answers with a malformed
 * response, or announces garbage is reported (the `misbehaviour` event and
 * the optional `onMisbehaviour` component hook, for reputation).
 */
import type { CID } from 'multiformats/cid'
import { InvalidParametersError } from '../../util/errors.ts'
import {
  decodeEnvelope, verifySignatures, toHex, bytesEqual,
  type Ledger, type LedgerVerificationError, type SignedEntry, type Signer
} from '../../ledger/index.ts'
import { networkIdFromGenesis, networkProtocols, type ProtocolSpec, type TopicSpec } from '../protocol-ids.ts'
import { Validation, type GossipMessage, type Transport, type ValidationResult } from '../transport.ts'
import { SYNC_LIMITS, decodeAnnouncement, encodeAnnouncement, type Announcement, type ChainRange, type HeadInfo, type HeadsResponse } from './codec.ts'
import { GenesisUnavailableError, SyncNotStartedError } from './errors.ts'
import { TypedEmitter } from './events.ts'
import { Ingestor, type Candidate } from './ingest.ts'
import { serveSyncRequest } from './ledger-server.ts'
import { SyncClient } from './ledger-client.ts'

export interface LedgerSyncComponents {
  transport: Transport
  ledger: Ledger
  /** signs equivocation proofs (the peer's identity key); without it equivocations are only reported */
  signer?: Signer
  /** reputation hook: called for every misbehaviour this service observes */
  onMisbehaviour?: (peer: string, m: SyncMisbehaviour) => void
}

export interface LedgerSyncOptions {
  /** network id (src/node/protocol-ids.ts): scopes the protocol and the topic */
  netId: string
  /**
   * CID (string) of the network's genesis. Needed only while the local ledger is
   * empty: the genesis fetched from a peer must have it. Without it a genesis is
   * accepted only if networkIdFromGenesis(its CID bytes) equals `netId`.
   */
  genesisCid: string | undefined
  /** announcements carry the whole envelope up to this size; larger entries are announced by CID */
  inlineMaxBytes: number
  /** which local appends to announce: 'own' (authored by our signer) or 'local' (every entry not received by sync) */
  announce: 'own' | 'local'
  /** how often to look for new local entries to announce (ms) */
  announcePollMs: number
  /** run a catch-up when started */
  catchUpOnStart: boolean
  /** periodic catch-up interval (ms); 0 disables it */
  catchUpIntervalMs: number
  /** peers pulled from per catch-up */
  catchUpPeers: number
  /** deadline of one request (ms) */
  requestTimeoutMs: number
  /** entries fetched per pull window (the pull repeats windows until complete or stuck) */
  windowEntries: number
  /** windows per pull (bound on one pull's work) */
  maxWindows: number
  /** candidates waiting for a dependency kept at most */
  maxDeferred: number
  /** an announced entry further than this ahead of our chain triggers a full pull instead of a chain fetch */
  maxChainGap: number
  /** entries per Ledger.appendMany batch */
  appendBatch: number
  /** a peer reported for misbehaviour is skipped by catch-up for this long (ms) */
  suspectMs: number
  /** announcements handled at once; more are dropped (catch-up brings their entries) */
  maxConcurrentAnnouncements: number
  /**
   * An announced entry that waits for a dependency is given this long (ms) for the
   * dependency to arrive by gossip before its announcer is pulled from (0: pull at once).
   */
  deferredPullDelayMs: number
  /**
   * Own announcements of the last this many ms are announced again when a peer newly
   * subscribes to the announce topic (0: never). Gossipsub publishes only to peers whose
   * subscription it already has: a peer that appends an entry (its join) before its
   * neighbours' subscriptions arrive announces it to nobody, and the others would learn
   * it only from their next catch-up.
   */
  reannounceWindowMs: number
  /** at most this many (the newest) own announcements are kept for re-announcing */
  reannounceMaxEntries: number
  /** each kept announcement is re-announced at most this many times (counting only sends that reached a peer) */
  reannounceMaxTimes: number
  /** wait this long (ms) after a new subscriber before re-announcing: subscribers arriving meanwhile share one re-announcement */
  reannounceDelayMs: number
  /**
   * an own announcement whose publish (or a re-announcement) was handed to more than this
   * many peers is not re-announced: it is in the gossip mesh, which carries it to every
   * connected subscriber, and a peer that still missed it gets it by catch-up
   */
  reannounceMaxRecipients: number
}

export const LEDGER_SYNC_DEFAULTS: Readonly<Omit<LedgerSyncOptions, 'netId'>> = Object.freeze({
  genesisCid: undefined,
  // A checkpoint names every author's chain head (~50 bytes each): 32 KiB inlines it up to
  // ~500 authors, so N peers do not all fetch it from the one peer that announced it.
  inlineMaxBytes: 32 * 1024,
  announce: 'own',
  announcePollMs: 100,
  catchUpOnStart: true,
  catchUpIntervalMs: 30_000,
  catchUpPeers: 3,
  requestTimeoutMs: 20_000,
  windowEntries: 2048,
  maxWindows: 10_000,
  maxDeferred: 50_000,
  maxChainGap: 1024,
  appendBatch: 256,
  suspectMs: 60_000,
  // At 70 peers a round's burst (every contribution's entry at once) passed 64: the rest were dropped and
  // came only with the next catch-up (5 s), delaying every receipt and plan that names them.
  maxConcurrentAnnouncements: 1024,
  // Entries of one round are announced at about the same time and arrive in any order; at 20+
  // peers pulling at once for every entry that came before its dependency meant 10+ concurrent
  // pulls per peer (each a heads summary of every author plus chain windows), for entries that
  // the next few announcements brought anyway.
  deferredPullDelayMs: 500,
  // A late joiner's join is appended within a second or two of connecting, and its neighbours'
  // subscriptions arrive within a few gossipsub heartbeats: 10 s covers both with margin.
  reannounceWindowMs: 10_000,
  reannounceMaxEntries: 16,
  // At the start of a network every peer sees every other subscribe within a few seconds:
  // each own entry goes out at most twice more, however many subscribers arrive.
  reannounceMaxTimes: 2,
  // Gossipsub opens its stream to a peer asynchronously: a subscription can reach us before we
  // can send to that peer. 250 ms also folds a burst of subscribers into one re-announcement.
  reannounceDelayMs: 250,
  // Re-announcing is for an entry published to (almost) nobody: a late joiner's join. At 20-40
  // peers every new connection (committee dials each round) brought re-announcements of
  // entries the mesh had already delivered, each one a new message for the whole network:
  // ledger announcements were twice the contributions (bench/round.ts, 20 peers).
  reannounceMaxRecipients: 1
})

export type SyncMisbehaviourKind =
  | 'invalid-entry' // served or announced an entry the ledger rejects on a provable rule
  | 'bad-response' // a response that does not decode, or holds entries we did not ask for
  | 'bad-announcement' // an announcement that does not decode or does not match its envelope
  | 'wrong-genesis' // offered a genesis that is not this network's

export interface SyncMisbehaviour { kind: SyncMisbehaviourKind, detail: string, cid?: string }

export interface CatchUpResult {
  peer: string
  /** entries appended from this peer */
  appended: number
  /** after the pull we hold every head the peer advertised (or its author is excluded) */
  complete: boolean
  error?: string
}

export interface LedgerSyncEvents {
  /** an entry received from a peer was verified and stored */
  'entry': { cid: string, author: string, seq: number, type: string, from: string | undefined }
  /** a local entry was announced */
  'announced': { cid: string, inline: boolean, recipients: number }
  'misbehaviour': { peer: string } & SyncMisbehaviour
  /** equivocation seen; `proof` is the CID of the proof we appended */
  'equivocation': { accused: string, seq: number, stored: string, other: string, from?: string, proof?: string, error?: string }
  /** one pull from one peer finished */
  'catch-up': CatchUpResult
  /**
   * Own announcements sent again after new subscribers appeared (`subscribers`);
   * `recipients` sums the neighbours each re-announcement was handed to.
   */
  'reannounced': { cids: string[], subscribers: string[], recipients: number }
}

export function ledgerSyncConfig (options: Partial<LedgerSyncOptions> & Pick<LedgerSyncOptions, 'netId'>): LedgerSyncOptions {
  const c: LedgerSyncOptions = { ...LEDGER_SYNC_DEFAULTS, ...options }
  networkProtocols(c.netId) // validates the netid
  const int = (name: keyof LedgerSyncOptions, lo: number, hi: number): void => {
    const v = c[name]
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < lo || v > hi) throw new InvalidParametersError(`${name} must be an integer in [${lo}, ${hi}], got ${String(v)}`)
  }
  int('inlineMaxBytes', 0, 48 * 1024)
  int('announcePollMs', 5, 60_000)
  int('catchUpIntervalMs', 0, 86_400_000)
  int('catchUpPeers', 1, 64)
  int('requestTimeoutMs', 100, 600_000)
  int('windowEntries', 16, 1_000_000)
  int('maxWindows', 1, 1_000_000)
  int('maxDeferred', 16, 10_000_000)
  int('maxChainGap', 1, 1_000_000)
  int('appendBatch', 1, 10_000)
  int('suspectMs', 0, 86_400_000)
  int('maxConcurrentAnnouncements', 1, 100_000)
  int('deferredPullDelayMs', 0, 60_000)
  int('reannounceWindowMs', 0, 600_000)
  int('reannounceMaxEntries', 1, 1024)
  int('reannounceMaxTimes', 1, 100)
  int('reannounceDelayMs', 0, 60_000)
  int('reannounceMaxRecipients', 0, 1_000_000)
  if (c.announce !== 'own' && c.announce !== 'local') throw new InvalidParametersError(`announce must be 'own' or 'local', got ${String(c.announce)}`)
  if (typeof c.catchUpOnStart !== 'boolean') throw new InvalidParametersError('catchUpOnStart must be a boolean')
  if (c.genesisCid !== undefined && (typeof c.genesisCid !== 'string' || c.genesisCid.length > 128)) throw new InvalidParametersError('genesisCid must be a CID string')
  return c
}

export class LedgerSync extends TypedEmitter<LedgerSyncEvents> {
  readonly options: LedgerSyncOptions
  private readonly c: LedgerSyncComponents
  private readonly protocol: ProtocolSpec
  private readonly topic: TopicSpec
  private readonly ingestor: Ingestor
  /** requests to peers (ledger-client.ts) */
  readonly client: SyncClient
  private started = false
  private life = new AbortController()
  private unsubscribe: (() => void) | undefined
  private announceTimer: ReturnType<typeof setTimeout> | undefined
  private catchUpTimer: ReturnType<typeof setInterval> | undefined
  /** next ledger position to consider for announcement */
  private announcePos = 0
  /** announce 'own': next seq of our own chain to consider */
  private ownSeq = 0
  /** CIDs appended by this service (not announced again) */
  private readonly received = new Set<string>()
  /**
   * Announcements decoded by the validator, keyed by their data bytes (the gossip layer hands the
   * handler the same bytes): the handler then skips a second decode of the envelope (CBOR and the
   * CID's SHA-256) for every first copy. A miss just decodes again.
   */
  private readonly decoded = new WeakMap<Uint8Array, { a: ReturnType<typeof decodeAnnouncement>, signed?: SignedEntry }>()
  /** own entries announced at once by `announceEntry` (skipped by the next scan), bounded */
  private readonly announcedEarly = new Set<string>()
  private readonly pulls = new Map<string, Promise<CatchUpResult>>()
  private readonly suspects = new Map<string, number>()
  private readonly reportCount = new Map<string, number>()
  private readonly tasks = new Set<Promise<unknown>>()
  private deferred: Candidate[] = []
  /** announced candidates waiting for the next grouped ingest */
  private inbox: Candidate[] = []
  private nextBatch: Promise<{ appended: number, deferred: Candidate[] }> | undefined
  private rotation = 0
  private handling = 0
  /** pending pauses (deferred announcements), woken by stop() */
  private readonly sleepers = new Set<() => void>()
  private readonly selfAuthor: string
  /** own announcements kept for re-announcing (oldest first; at most reannounceMaxEntries) */
  private recent: Recent[] = []
  /** re-announcements made (each one's `n`) */
  private reannounceCount = 0
  /** announce-topic subscribers seen, with when (each triggers at most one re-announcement per window) */
  private readonly subscribersSeen = new Map<string, number>()
  /** new subscribers waiting for the next re-announcement */
  private readonly waiting = new Set<string>()
  private reannounceTimer: ReturnType<typeof setTimeout> | undefined
  private offTopicPeer: (() => void) | undefined

  constructor (components: LedgerSyncComponents, options: Partial<LedgerSyncOptions> & Pick<LedgerSyncOptions, 'netId'>) {
    super()
    if (components?.transport == null || components.ledger == null) throw new InvalidParametersError('LedgerSync needs a transport and a ledger')
    this.c = components
    this.options = ledgerSyncConfig(options)
    const net = networkProtocols(this.options.netId)
    this.protocol = net.protocols['ledger-sync']
    this.topic = net.topics.announce
    this.selfAuthor = components.signer !== undefined ? toHex(components.signer.publicKey) : components.transport.self
    this.ingestor = new Ingestor(components.ledger, components.signer, {
      appended: (c) => {
        const id = c.signed.cid.toString()
        this.emit('entry', { cid: id, author: toHex(c.signed.entry.author), seq: c.signed.entry.seq, type: c.signed.entry.type, from: c.from })
      },
      invalid: (c, err) => { const who = c.accountable ?? c.from; if (who !== undefined) this.report(who, 'invalid-entry', `${err.rule}: ${err.message}`, c.signed.cid.toString()) },
      equivocation: (info) => { this.emit('equivocation', info) }
    }, { batch: this.options.appendBatch })
    this.client = new SyncClient({
      transport: components.transport,
      protocol: this.protocol,
      requestTimeoutMs: this.options.requestTimeoutMs,
      signal: () => this.life.signal,
      live: () => this.started,
      report: (peer, kind, detail, cid) => { this.report(peer, kind, detail, cid) }
    })
  }

  get isStarted (): boolean { return this.started }

  async start (): Promise<void> {
    if (this.started) return
    this.life = new AbortController()
    this.started = true
    const { transport } = this.c
    if (this.options.reannounceWindowMs > 0) this.offTopicPeer = transport.onTopicPeer(this.topic.name, (peer) => { this.onSubscriber(peer) })
    await transport.handle(this.protocol.id, async (req) => await serveSyncRequest(this.c.ledger, req, this.protocol), {
      maxRequestBytes: this.protocol.maxRequestBytes,
      maxResponseBytes: this.protocol.maxResponseBytes,
      timeoutMs: this.options.requestTimeoutMs
    })
    this.unsubscribe = transport.subscribe(this.topic.name, async (m) => await this.validate(m), (m) => {
      // Bounded work per burst of announcements; what is skipped, catch-up brings later.
      if (this.handling >= this.options.maxConcurrentAnnouncements) return
      this.handling++
      this.track(this.onAnnouncement(m).finally(() => { this.handling-- }))
    }, { maxBytes: this.topic.maxBytes })
    this.announcePos = this.c.ledger.size
    this.ownSeq = this.c.ledger.state.chains.get(this.selfAuthor)?.cids.length ?? 0
    this.scheduleAnnounce()
    if (this.options.catchUpIntervalMs > 0) {
      this.catchUpTimer = setInterval(() => { this.track(this.catchUp()) }, this.options.catchUpIntervalMs)
    }
    if (this.options.catchUpOnStart) this.track(this.catchUp())
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.life.abort(new SyncNotStartedError('sync stopped'))
    for (const wake of [...this.sleepers]) wake()
    if (this.announceTimer !== undefined) clearTimeout(this.announceTimer)
    if (this.catchUpTimer !== undefined) clearInterval(this.catchUpTimer)
    if (this.reannounceTimer !== undefined) clearTimeout(this.reannounceTimer)
    this.announceTimer = undefined
    this.catchUpTimer = undefined
    this.reannounceTimer = undefined
    this.offTopicPeer?.()
    this.offTopicPeer = undefined
    this.recent = []
    this.subscribersSeen.clear()
    this.waiting.clear()
    this.unsubscribe?.()
    this.unsubscribe = undefined
    try { await this.c.transport.unhandle(this.protocol.id) } catch { /* transport already stopped */ }
    await Promise.allSettled([...this.tasks])
    await this.ingestor.idle()
    this.pulls.clear()
    this.deferred = []
  }

  /** Run a background task, remembering it so stop() can wait for it; errors are swallowed (they surface as events). */
  private track (p: Promise<unknown>): void {
    const t = p.catch(() => {}).finally(() => { this.tasks.delete(t) })
    this.tasks.add(t)
  }

  private report (peer: string, kind: SyncMisbehaviourKind, detail: string, cid?: string): void {
    const m: SyncMisbehaviour = cid === undefined ? { kind, detail } : { kind, detail, cid }
    this.suspects.set(peer, Date.now() + this.options.suspectMs)
    this.reportCount.set(peer, (this.reportCount.get(peer) ?? 0) + 1)
    // Entries that peer left waiting for a dependency are dropped: they come again from honest peers.
    this.deferred = this.deferred.filter((c) => c.from !== peer)
    this.emit('misbehaviour', { peer, ...m })
    try { this.c.onMisbehaviour?.(peer, m) } catch { /* the hook's own failure */ }
  }

  // ---- announcing -------------------------------------------------------------------------

  private scheduleAnnounce (): void {
    if (!this.started) return
    this.announceTimer = setTimeout(() => {
      this.track(this.announceNew().finally(() => { this.scheduleAnnounce() }))
    }, this.options.announcePollMs)
  }

  /** Announce ledger entries appended since the last look (see `announce` option). Also callable directly after a local append. */
  async announceNew (): Promise<number> {
    if (!this.started) throw new SyncNotStartedError()
    if (this.options.announce === 'own') return await this.announceOwn()
    let n = 0
    const ledger = this.c.ledger
    while (this.announcePos < ledger.size && this.started) {
      const pos = this.announcePos++
      const env = await ledger.store.getByPosition(pos)
      if (env === undefined) continue
      let signed: SignedEntry
      try { signed = decodeEnvelope(env) } catch { continue }
      const id = signed.cid.toString()
      if (this.received.delete(id)) continue
      if (this.announcedEarly.delete(id)) continue
      if (await this.publishAnnouncement(signed)) n++
    }
    return n
  }

  /**
   * announce 'own': walk this peer's own author chain (seq order = append order) instead of every
   * ledger position. The position scan read each new entry from LevelDB and decoded it only to
   * find it was another author's (most entries of a round: 1.2% + 0.8% of the busy CPU of a
   * 10-peer MLP round in a profile, and reads queued on the thread pool).
   */
  private async announceOwn (): Promise<number> {
    let n = 0
    const ledger = this.c.ledger
    for (;;) {
      const cids = ledger.state.chains.get(this.selfAuthor)?.cids
      if (cids === undefined || this.ownSeq >= cids.length || !this.started) break
      const id = cids[this.ownSeq++]
      if (id === undefined) continue
      if (this.received.delete(id)) continue
      if (this.announcedEarly.delete(id)) continue
      const meta = ledger.state.entries.get(id)
      if (meta === undefined) continue
      const env = await ledger.store.getByPosition(meta.position)
      if (env === undefined) continue
      let signed: SignedEntry
      try { signed = decodeEnvelope(env) } catch { continue }
      if (await this.publishAnnouncement(signed)) n++
    }
    return n
  }

  /**
   * Announce an entry this peer has just appended, now, instead of at the next scan of the
   * ledger (`announcePollMs`, then a LevelDB read of the envelope): the writer of the peer's
   * own entries calls it after each append (src/node/peer/ledger-writer.ts `appended`). Round
   * 4 of the issue #4 benchmark: a checkpoint left its appender 22-193 ms after the append
   * (the poll, the read queued on the thread pool behind synced writes), and every peer's next
   * round starts when the checkpoint reaches it. Only entries the `announce` option selects and
   * that the ledger holds; the scan then skips them (no second announcement). Never throws.
   */
  announceEntry (signed: SignedEntry): void {
    if (!this.started) return
    const id = signed.cid.toString()
    const ledger = this.c.ledger
    if (this.received.has(id) || this.announcedEarly.has(id) || ledger.state.entries.get(id) === undefined) return
    if (this.options.announce === 'own' && toHex(signed.entry.author) !== this.selfAuthor) return
    // Already behind the scan (own chain seq, or ledger position): the scan announced it.
    const meta = ledger.state.entries.get(id)!
    if (this.options.announce === 'own' ? meta.seq < this.ownSeq : meta.position < this.announcePos) return
    this.announcedEarly.add(id)
    if (this.announcedEarly.size > MAX_ANNOUNCED_EARLY) this.announcedEarly.delete(this.announcedEarly.values().next().value!)
    this.track(this.publishAnnouncement(signed))
  }

  /** Publish one entry's announcement (inline up to `inlineMaxBytes`); true if it was handed to the transport. */
  private async publishAnnouncement (signed: SignedEntry): Promise<boolean> {
    const id = signed.cid.toString()
    const env = signed.envelope
    const inline = env.length <= this.options.inlineMaxBytes
    const ann: Announcement = inline ? { cid: signed.cid, author: signed.entry.author, seq: signed.entry.seq, env } : { cid: signed.cid, author: signed.entry.author, seq: signed.entry.seq }
    const msg = encodeAnnouncement(ann)
    let recipients = 0
    let sent = false
    try {
      recipients = (await this.c.transport.publish(this.topic.name, msg)).recipients
      this.emit('announced', { cid: id, inline, recipients })
      sent = true
    } catch { /* no peers or stopping: a new subscriber brings a re-announcement, catch-up the rest */ }
    this.remember(id, ann, recipients)
    return sent
  }

  /** Keep an own announcement for re-announcing to peers that subscribe within the window. */
  private remember (cid: string, ann: Announcement, recipients: number): void {
    if (this.options.reannounceWindowMs === 0 || recipients > this.options.reannounceMaxRecipients) return
    this.recent.push({ cid, ann, at: Date.now(), times: 0, reached: recipients })
    this.recent = this.eligible(Date.now())
  }

  /** Kept announcements still inside the window and under their re-announcement cap, newest last. */
  private eligible (now: number): Recent[] {
    const o = this.options
    return this.recent.filter((e) => now - e.at <= o.reannounceWindowMs && e.times < o.reannounceMaxTimes && e.reached <= o.reannounceMaxRecipients).slice(-o.reannounceMaxEntries)
  }

  /**
   * A peer's subscription to the announce topic reached us. Gossipsub had not sent it
   * anything published before this moment: re-announce our recent own entries, once per
   * subscriber per window, after `reannounceDelayMs` (subscribers arriving meanwhile share it).
   */
  private onSubscriber (peer: string): void {
    if (!this.started) return
    const now = Date.now()
    const w = this.options.reannounceWindowMs
    const seen = this.subscribersSeen.get(peer)
    if (seen !== undefined && now - seen <= w) return
    this.subscribersSeen.delete(peer)
    this.subscribersSeen.set(peer, now)
    if (this.subscribersSeen.size > MAX_SUBSCRIBERS_SEEN) {
      // insertion order is time order: drop the oldest
      for (const [p, t] of this.subscribersSeen) {
        if (this.subscribersSeen.size <= MAX_SUBSCRIBERS_SEEN && now - t <= w) break
        this.subscribersSeen.delete(p)
      }
    }
    if (this.eligible(now).length === 0) return
    this.waiting.add(peer)
    this.scheduleReannounce(this.options.reannounceDelayMs, 0)
  }

  private scheduleReannounce (ms: number, attempt: number): void {
    if (!this.started || this.reannounceTimer !== undefined) return
    this.reannounceTimer = setTimeout(() => {
      this.reannounceTimer = undefined
      this.track(this.reannounce(attempt))
    }, ms)
  }

  private async reannounce (attempt: number): Promise<void> {
    const subscribers = [...this.waiting]
    this.waiting.clear()
    const list = this.eligible(Date.now())
    if (!this.started || list.length === 0 || subscribers.length === 0) return
    let recipients = 0
    for (const e of list) {
      if (!this.started) return
      let r = 0
      // A fresh `n` per re-announcement: gossip envelopes are unsigned and gossipsub's message id is
      // a hash of the bytes (src/node/libp2p.ts gossipMessageId), so the same bytes again would be a
      // duplicate of our own first announcement and never leave.
      const msg = encodeAnnouncement({ ...e.ann, n: ++this.reannounceCount })
      try { r = (await this.c.transport.publish(this.topic.name, msg)).recipients } catch { /* stopping, or no peers */ }
      // A send that reached nobody does not use up the entry's re-announcements.
      if (r > 0) e.times++
      e.reached = Math.max(e.reached, r)
      recipients += r
    }
    this.emit('reannounced', { cids: list.map((e) => e.cid), subscribers, recipients })
    // The subscription can come before gossipsub's stream to that peer is open (it is opened
    // asynchronously): if the re-announcement reached nobody, try again later, twice at most.
    if (recipients === 0 && attempt < 2) {
      for (const p of subscribers) this.waiting.add(p)
      this.scheduleReannounce(Math.max(500, 4 * this.options.reannounceDelayMs), attempt + 1)
    }
  }

  // ---- receiving announcements ------------------------------------------------------------

  /** Topic validator: Reject garbage (provable), Ignore what we cannot judge, Accept the rest. */
  private async validate (m: GossipMessage): Promise<ValidationResult> {
    let a
    try {
      a = decodeAnnouncement(m.data, this.topic.maxBytes)
    } catch (err) {
      this.report(m.from, 'bad-announcement', (err as Error).message)
      return Validation.Reject
    }
    const state = this.c.ledger.state
    if (state.genesisCid === null) return Validation.Ignore
    if (a.env === undefined) {
      if (state.isExcluded(toHex(a.author))) return Validation.Ignore
      this.decoded.set(m.data, { a })
      return Validation.Accept
    }
    let signed: SignedEntry
    try {
      signed = decodeEnvelope(a.env)
    } catch (err) {
      this.report(m.from, 'bad-announcement', `envelope: ${(err as Error).message}`, a.cid.toString())
      return Validation.Reject
    }
    if (signed.entry.type === 'genesis') return signed.cid.equals(state.genesisCid) ? Validation.Accept : Validation.Ignore
    if (!signed.cid.equals(a.cid) || !bytesEqual(signed.entry.author, a.author) || signed.entry.seq !== a.seq) {
      this.report(m.from, 'bad-announcement', 'the envelope does not match the announced cid, author and seq', a.cid.toString())
      return Validation.Reject
    }
    const known = state.entries.get(a.cid.toString())
    if (known !== undefined) {
      // Known entry: the same envelope is a plain duplicate; other bytes must still carry a valid signature.
      const stored = await this.c.ledger.store.getByPosition(known.position)
      if (stored !== undefined && bytesEqual(stored, a.env)) return Validation.Accept
    }
    try {
      await verifySignatures(signed, state.genesisCid, this.c.ledger.verifier)
    } catch (err) {
      this.report(m.from, 'invalid-entry', (err as LedgerVerificationError).message, a.cid.toString())
      return Validation.Reject
    }
    this.decoded.set(m.data, { a, signed })
    return Validation.Accept
  }

  private async onAnnouncement (m: GossipMessage): Promise<void> {
    if (!this.started) return
    const pre = this.decoded.get(m.data)
    this.decoded.delete(m.data)
    let a
    try { a = pre?.a ?? decodeAnnouncement(m.data, this.topic.maxBytes) } catch { return }
    const state = this.c.ledger.state
    const id = a.cid.toString()
    if (state.entries.has(id)) return
    // Gossip envelopes are unsigned (src/node/libp2p.ts): m.from is the neighbour that delivered the
    // announcement (on libp2p m.from = m.via; in memory the announcer). It validated the
    // announcement before forwarding it, and holds the entry or fetches it now; we pull from it.
    // An inline envelope's author signature was verified by `validate`, so a provably invalid entry
    // (ingest.ts PROVABLE) is charged to that author, not to an honest neighbour that forwarded a
    // validly signed entry; for an entry fetched by CID the serving peer answers, as in a pull.
    const author = toHex(a.author)
    let cands: Candidate[]
    if (a.env !== undefined) {
      cands = [{ signed: pre?.signed ?? decodeEnvelope(a.env), pos: Number.MAX_SAFE_INTEGER, from: m.from, accountable: author }]
    } else {
      cands = await this.client.fetchCids(m.from, [a.cid]).catch(() => [])
      if (cands.length === 0 && m.via !== m.from) cands = await this.client.fetchCids(m.via, [a.cid]).catch(() => [])
      // The neighbour may still be fetching it itself: its author has it for certain.
      if (cands.length === 0 && author !== m.from && author !== this.selfAuthor) cands = await this.client.fetchCids(author, [a.cid]).catch(() => [])
      if (cands.length === 0) return
    }
    const behind = a.seq - state.next(author).seq
    // Missing predecessors in the author's chain: fetch them (bounded), then retry.
    if (behind > 0 && behind <= this.options.maxChainGap) {
      const from = Math.max(0, state.next(author).seq - 1)
      const more = await this.client.fetchChain(m.from, [{ author: a.author, from, to: a.seq - 1 }]).catch(() => [])
      cands.push(...more)
    }
    const r = await this.ingestGrouped(cands)
    if (behind > this.options.maxChainGap) {
      await this.pullFrom(m.from).catch(() => {})
      return
    }
    if (!r.deferred.some((c) => c.signed.cid.equals(a.cid))) return
    // A dependency outside the chain (admission, committee, checkpoint, the round's other
    // entries). It is usually on its way by gossip: wait a little (every ingest retries the
    // deferred entries), try once more, and only then pull what the announcer has.
    if (this.options.deferredPullDelayMs > 0) {
      await this.pause(this.options.deferredPullDelayMs)
      if (!this.started || state.entries.has(id)) return
      await this.ingestGrouped([])
      if (!this.started || state.entries.has(id)) return
    }
    await this.pullFrom(m.from).catch(() => {})
  }

  /** Sleep `ms`, ended early by stop() (through `sleepers`: no listener per sleep on the lifetime signal). */
  private async pause (ms: number): Promise<void> {
    if (!this.started) return
    await new Promise<void>((resolve) => {
      const done = (): void => { clearTimeout(t); this.sleepers.delete(done); resolve() }
      const t = setTimeout(done, ms)
      this.sleepers.add(done)
    })
  }

  /**
   * Group commit for announcements: candidates that arrive while an ingest is
   * running are folded into the next one, so a burst of N announcements (every
   * contributor's entry at the start of a round) costs a few synced LevelDB
   * batches instead of N fsyncs. No added latency: the next batch starts as soon
   * as the ingestor is free.
   */
  private async ingestGrouped (cands: Candidate[]): Promise<{ appended: number, deferred: Candidate[] }> {
    this.inbox.push(...cands)
    if (this.nextBatch === undefined) {
      this.nextBatch = this.ingestor.idle().then(async () => {
        const batch = this.inbox
        this.inbox = []
        this.nextBatch = undefined
        return await this.ingest(batch)
      })
    }
    return await this.nextBatch
  }

  // ---- fetching -----------------------------------------------------------------------------

  private async ingest (cands: Candidate[]): Promise<{ appended: number, deferred: Candidate[] }> {
    // Mark before appending, so the announcer never mistakes a received entry for a local one.
    const all = [...this.deferred, ...cands]
    // (announce 'own' only ever looks at our own chain: others' entries need no mark, and nothing would clear it.)
    const own = this.options.announce === 'own'
    for (const c of all) if (!own || toHex(c.signed.entry.author) === this.selfAuthor) this.received.add(c.signed.cid.toString())
    const state = this.c.ledger.state
    let r
    try {
      r = await this.ingestor.ingest(all)
    } finally {
      for (const c of all) if (!state.entries.has(c.signed.cid.toString())) this.received.delete(c.signed.cid.toString())
    }
    this.deferred = r.deferred.length > this.options.maxDeferred ? r.deferred.slice(0, this.options.maxDeferred) : r.deferred
    // A fork: fetch the predecessor it chains on from the same peer; it surfaces the equivocation.
    const byPeer = new Map<string, CID[]>()
    for (const f of r.forks) {
      if (f.from === undefined || f.signed.entry.prev === null) continue
      const l = byPeer.get(f.from) ?? []
      l.push(f.signed.entry.prev)
      byPeer.set(f.from, l)
    }
    let appended = r.appended
    for (const [peer, cids] of byPeer) {
      const prevs = await this.client.fetchCids(peer, cids.slice(0, SYNC_LIMITS.maxCids)).catch(() => [])
      if (prevs.length > 0) appended += (await this.ingestor.ingest(prevs)).appended
    }
    return { appended, deferred: r.deferred }
  }

  // ---- catch-up ------------------------------------------------------------------------------

  /** Make sure the ledger has the network's genesis, fetching it from `peer` if needed. */
  private async ensureGenesis (peer: string, heads: HeadsResponse): Promise<number> {
    const state = this.c.ledger.state
    if (heads.genesis === null) throw new GenesisUnavailableError(`${peer} has no genesis`)
    if (state.genesisCid !== null) {
      if (state.genesisCid.toString() !== heads.genesis.toString()) {
        this.report(peer, 'wrong-genesis', `peer's genesis ${heads.genesis.toString()} is not ours`)
        throw new GenesisUnavailableError(`${peer} is on another ledger`)
      }
      return 0
    }
    const g = heads.genesis
    const expected = this.options.genesisCid
    const ok = expected !== undefined ? g.toString() === expected : networkIdFromGenesis(g.bytes) === this.options.netId
    if (!ok) {
      this.report(peer, 'wrong-genesis', `genesis ${g.toString()} does not belong to network ${this.options.netId}`)
      throw new GenesisUnavailableError(`${peer} offered genesis ${g.toString()}, which is not this network's`)
    }
    const got = await this.client.fetchCids(peer, [g])
    if (got.length === 0) throw new GenesisUnavailableError(`${peer} did not serve the genesis ${g.toString()}`)
    const r = await this.ingest(got)
    if (this.c.ledger.state.genesisCid === null) throw new GenesisUnavailableError(`the genesis served by ${peer} did not verify`)
    return r.appended
  }

  /**
   * Pull everything `peer` has that we lack: heads summary, then author chain
   * windows, ingested in the peer's dependency order, until we hold every
   * advertised head or a window makes no progress. One pull per peer at a time.
   */
  async pullFrom (peer: string): Promise<CatchUpResult> {
    if (!this.started) throw new SyncNotStartedError()
    const running = this.pulls.get(peer)
    if (running !== undefined) return await running
    const p = this.pull(peer).finally(() => { this.pulls.delete(peer) })
    this.pulls.set(peer, p)
    return await p
  }

  /**
   * Fetch `author`'s chain beyond what we hold (from one before our next seq, at most
   * `chainBatch` entries) from `peer`, and ingest it; if what came still waits for a dependency
   * outside that chain, fall back to a full pull from `peer`. Returns the entries appended.
   * Why (issue #4): a receipt or plan waiting for a few contribution entries pulled from each
   * missing author with `pullFrom`, i.e. each time a heads summary of every author plus chain
   * windows for every author we lag on; at 40-70 peers, under load, a dozen of those at once per
   * peer took seconds, on the round's critical path (the co-signing proposer waits for them).
   */
  async pullChain (peer: string, author: string, chainBatch = 64): Promise<number> {
    if (!this.started) throw new SyncNotStartedError()
    if (!/^([0-9a-f]{2}){1,64}$/.test(author)) throw new InvalidParametersError('author must be a hex public key')
    const state = this.c.ledger.state
    if (state.genesisCid === null || state.isExcluded(author)) return (await this.pullFrom(peer)).appended
    const next = state.next(author).seq
    const bytes = Uint8Array.from(author.match(/../g)!.map((x) => parseInt(x, 16)))
    const cands = await this.client.fetchChain(peer, [{ author: bytes, from: Math.max(0, next - 1), to: next + Math.max(1, chainBatch) - 1 }])
    const r = await this.ingestGrouped(cands)
    if (r.deferred.some((c) => toHex(c.signed.entry.author) === author)) return r.appended + (await this.pullFrom(peer)).appended
    return r.appended
  }

  private async pull (peer: string): Promise<CatchUpResult> {
    let appended = 0
    const reportsBefore = this.reportCount.get(peer) ?? 0
    const caught = (): boolean => (this.reportCount.get(peer) ?? 0) > reportsBefore
    try {
      const state = this.c.ledger.state
      for (let w = 0; w < this.options.maxWindows && this.started; w++) {
        const heads = await this.client.fetchHeads(peer)
        appended += await this.ensureGenesis(peer, heads)
        const missing = this.missingRanges(heads.heads)
        if (missing.ranges.length === 0 && missing.suspect.length === 0) {
          this.emitCatchUp({ peer, appended, complete: true })
          return { peer, appended, complete: true }
        }
        const fetched = [
          ...(missing.suspect.length > 0 ? await this.client.fetchCids(peer, missing.suspect) : []),
          ...await this.client.fetchChain(peer, missing.ranges, this.options.windowEntries + missing.ranges.length)
        ]
        const before = state.size
        const r = await this.ingest(fetched)
        appended += r.appended
        if (caught()) {
          // The peer served something provably invalid: stop trusting it for this pull.
          const res = { peer, appended, complete: false, error: 'the peer served invalid data' }
          this.emitCatchUp(res)
          return res
        }
        if (state.size === before) {
          const complete = this.holds(heads.heads)
          this.emitCatchUp({ peer, appended, complete })
          return { peer, appended, complete }
        }
      }
      this.emitCatchUp({ peer, appended, complete: false, error: 'window limit reached' })
      return { peer, appended, complete: false, error: 'window limit reached' }
    } catch (err) {
      const res = { peer, appended, complete: false, error: `${(err as Error).name}: ${(err as Error).message}` }
      this.emitCatchUp(res)
      return res
    }
  }

  private emitCatchUp (r: CatchUpResult): void { this.emit('catch-up', r) }

  /**
   * What to fetch against a heads summary: per author, from one before our next
   * seq (the overlap entry exposes a fork at our head) to the peer's head, each
   * author capped so that one window fetches about `windowEntries` (every author
   * gets a share, so the entry the peer appended first among those we lack is
   * always in the window: each window makes progress). Heads below ours whose CID
   * differs from ours are fetched by CID (equivocation check).
   */
  private missingRanges (heads: HeadInfo[]): { ranges: ChainRange[], suspect: CID[] } {
    const state = this.c.ledger.state
    const need: Array<{ h: HeadInfo, from: number }> = []
    const suspect: CID[] = []
    for (const h of heads) {
      const a = toHex(h.author)
      if (state.isExcluded(a)) continue
      const next = state.next(a).seq
      if (h.seq < next) {
        const ours = state.chains.get(a)?.cids[h.seq]
        if (ours !== undefined && ours !== h.cid.toString()) suspect.push(h.cid)
        continue
      }
      need.push({ h, from: next })
    }
    const share = Math.max(16, Math.floor(this.options.windowEntries / Math.max(1, need.length)))
    const ranges = need.map(({ h, from }) => ({ author: h.author, from: from > 0 ? from - 1 : 0, to: Math.min(h.seq, from + share - 1) }))
    return { ranges, suspect: suspect.slice(0, SYNC_LIMITS.maxCids) }
  }

  /** We hold every advertised head (or its author is excluded). */
  private holds (heads: HeadInfo[]): boolean {
    const state = this.c.ledger.state
    return heads.every((h) => state.isExcluded(toHex(h.author)) || state.next(toHex(h.author)).seq > h.seq)
  }

  /**
   * Catch up from up to `catchUpPeers` connected peers (those subscribed to the
   * ledger topic first; peers reported recently last), one after another.
   */
  async catchUp (): Promise<CatchUpResult[]> {
    if (!this.started) throw new SyncNotStartedError()
    const t = this.c.transport
    const sub = t.topicPeers(this.topic.name)
    const all = [...new Set([...sub, ...t.peers()])]
    if (all.length === 0) return []
    const now = Date.now()
    for (const [p, until] of this.suspects) if (until <= now) this.suspects.delete(p)
    const start = this.rotation++ % all.length
    const rotated = [...all.slice(start), ...all.slice(0, start)]
    const order = [...rotated.filter((p) => !this.suspects.has(p)), ...rotated.filter((p) => this.suspects.has(p))]
    const out: CatchUpResult[] = []
    for (const p of order.slice(0, this.options.catchUpPeers)) {
      if (!this.started) break
      out.push(await this.pullFrom(p))
    }
    return out
  }

  /** Entries waiting for a dependency (for diagnostics). */
  get deferredCount (): number { return this.deferred.length }
}

/** An own announcement kept for re-announcing. */
interface Recent { cid: string, ann: Announcement, at: number, times: number, reached: number }

/** Bound on remembered announce-topic subscribers. */
const MAX_SUBSCRIBERS_SEEN = 4096

/** Bound on own entries announced ahead of the scan and not yet passed by it. */
const MAX_ANNOUNCED_EARLY = 4096

/** Factory (House style 2). */
export function createLedgerSync (components: LedgerSyncComponents, options: Partial<LedgerSyncOptions> & Pick<LedgerSyncOptions, 'netId'>): LedgerSync {
  return new LedgerSync(components, options)
}

