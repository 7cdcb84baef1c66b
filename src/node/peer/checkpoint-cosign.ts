/**
 * Co-signed ledger checkpoints (DESIGN.md "The ledger": a round checkpoint is
 * co-signed by at least 2m/3 of that round's committee).
 *
 * The round machine ends with >= ceil(2m/3) member signatures on its checkpoint
 * body (model hash, groups, group sums hash, blame...). The ledger's checkpoint
 * entry additionally names the previous checkpoint's CID and the author chain
 * heads it covers (E's CheckpointCore), which depend on what each peer's ledger
 * holds, so members must agree on one core. Protocol `/tessera/<netid>/ckpt-cosign/2.0.0`:
 *
 *   proposer -> member   dag-cbor { v: 1, core }         (at most 64 KiB)
 *   member -> proposer   dag-cbor { v: 1, sig }          (64-byte Ed25519 co-signature)
 *
 * A member signs a core only if it finished the round itself and the core is
 * exactly checkpointCore(its own body, its checkpoint r-1 CID, the proposed
 * heads). Safety (no two checkpoint entries for one round): a quorum ceil(2m/3)
 * is more than half the committee, and an honest member is bound to one
 * proposer (and that proposer's one core) at a time, so two proposals can never
 * both be co-signed. The binding moves only when
 *   - the proposer releases it (`{ v: 1, release: round }`): a proposer that
 *     fails to reach a quorum releases everyone it asked and never uses those
 *     co-signatures;
 *   - the binding is my own proposal and an earlier proposer (committee order)
 *     asks me: I cancel my proposal before it appends (checked synchronously
 *     right before the append), release my signers, and co-sign the earlier one;
 *   - it is older than `releaseMs` (a dead proposer: a proposal ends within
 *     its request deadline).
 * Liveness: a proposer keeps one core for the round (its heads at its first
 * attempt), so its own later attempts never collide with the bindings of its
 * first; split votes between concurrent proposers resolve towards the earliest
 * one.
 * Latency (issue #4): the Peer calls `finished` and starts proposing as soon as
 * its machine has signed its body (not at the machine's quorum), so this
 * exchange overlaps the machine's checkpoint-signature gossip, and a proposer
 * appends as soon as a quorum has co-signed instead of waiting for every member
 * (the slowest member, or one refusing after `waitOwnMs`, set the pace). (The first version bound a member to (proposer, core) with the heads of
 * each attempt and never released: a proposal slower than the 1.5 s stagger
 * split the votes, every retry carried new heads and was refused by the
 * bindings of the previous one, and the round got no ledger checkpoint at all:
 * the end-to-end tests' timeouts under load.)
 */
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from '@noble/hashes/sha2.js'
import { cosignCheckpoint, cosigningMessage, parseBody, toHex, type CheckpointCore, type Cosignature, type Ledger, type Signer } from '../../ledger/index.ts'
import { checkpointCore } from '../../gossip-fl/round/ledger.ts'
import type { CheckpointBody } from '../../gossip-fl/round/messages.ts'
import { peerIdBytes } from '../../reputation/peer-id.ts'
import { scopeProtocol } from '../protocol-ids.ts'
import type { Transport } from '../transport.ts'
import { PeerProtocolError } from './errors.ts'
import type { LedgerWriter } from './ledger-writer.ts'

export const FAMILY_CKPT_COSIGN = '/tessera/ckpt-cosign/2.0.0'
const MAX_REQUEST = 64 * 1024
const MAX_RESPONSE = 1024
/** `lastRefusals` of a proposal not made: I am bound to another member's open proposal (no failure). */
export const DEFERRED = 'deferred: I co-signed another member\'s proposal for this round'

export interface CheckpointCosignComponents {
  transport: Transport
  ledger: Ledger
  signer: Signer
  writer: LedgerWriter
  /** fetch entries from a peer (ledger sync) */
  pullFrom: (peer: string) => Promise<unknown>
}

export interface CheckpointCosignOptions {
  netId: string
  /** per-request deadline (ms) */
  requestTimeoutMs: number
  /** how long a cosigner waits for its own machine to finish the round, or for the plan entry (ms) */
  waitOwnMs: number
  /** a core signed this long ago without reaching the ledger no longer binds (ms) */
  releaseMs: number
}

function encodeCore (core: CheckpointCore): Uint8Array {
  return dagCbor.encode({ v: 1, core })
}

export class CheckpointCosign {
  private readonly c: CheckpointCosignComponents
  private readonly o: CheckpointCosignOptions
  readonly protocol: string
  /** round -> my machine's checkpoint body */
  private readonly bodies = new Map<number, CheckpointBody>()
  /** round -> the one (proposer, core) I am bound to, and since when */
  private readonly signed = new Map<number, { h: string, at: number, proposer: string }>()
  /** round -> the core I propose (fixed at my first attempt) */
  private readonly myCores = new Map<number, CheckpointCore>()
  /** round -> my proposal in flight */
  private readonly mine = new Map<number, { cancelled: boolean, appending: boolean }>()
  private readonly waiters = new Set<() => void>()
  /**
   * round -> the earliest proposer (committee order) whose proposal asked me and is still open
   * (not released, younger than `releaseMs`), or the time and committee index of the last release:
   * `holdOff` tells the Peer when my own next attempt may start (see there).
   */
  private readonly asks = new Map<number, { proposer: string, at: number, index: number, released?: number }>()
  /** why members refused the last proposal (logs) */
  lastRefusals: string[] = []

  constructor (c: CheckpointCosignComponents, o: CheckpointCosignOptions) {
    this.c = c
    this.o = o
    this.protocol = scopeProtocol(o.netId, FAMILY_CKPT_COSIGN)
  }

  async start (): Promise<void> {
    await this.c.transport.handle(this.protocol, async (req, ctx) => await this.serve(req, ctx.peer), { maxRequestBytes: MAX_REQUEST, maxResponseBytes: MAX_RESPONSE })
  }

  async stop (): Promise<void> {
    await this.c.transport.unhandle(this.protocol).catch(() => undefined)
    for (const w of this.waiters) w()
  }

  /**
   * My machine finished round `body.round` with this body: the one it signed, or later the one
   * its machine saw a quorum of members sign (`done`), which replaces it. A member whose own body
   * differed (e.g. it blamed a member whose partial sums reached it late) could otherwise never
   * co-sign the quorum's core, and with one member short a committee of 5 has no margin left for
   * a slow one (issue #4: "proposal without quorum" at 40-70 peers). Co-signing the quorum's
   * body adds no trust: the ledger entry still needs ceil(2m/3) co-signers, and that body
   * already carries ceil(2m/3) member signatures that the machine verified.
   */
  finished (body: CheckpointBody): void {
    this.bodies.set(body.round, body)
    for (const r of [...this.bodies.keys()]) if (r < body.round - 8) this.bodies.delete(r)
    for (const m of [this.signed, this.myCores, this.mine, this.asks] as Array<Map<number, unknown>>) for (const r of [...m.keys()]) if (r < body.round - 8) m.delete(r)
    for (const w of [...this.waiters]) w()
  }

  /**
   * When my own next proposal for `round` may start (ms since the epoch; 0 = no reason to wait).
   * While an earlier member's (committee order) proposal that asked me is open, not before it ends:
   * members used to propose on a fixed 1.5 s stagger, and a leader still waiting (bounded) for the
   * receipts its core covers was overtaken by member 1, whose requests bound some members while the
   * leader's bound others: both failed (split votes), then everyone waited for releases and the
   * next staggered attempts (40-70 peers: tens of seconds per round). After that proposal is
   * released (it failed), the members after it go one `gapMs` apart in committee order, at once
   * rather than at their next stagger point. `since`: releases up to then are ignored (the caller's
   * own last attempt came after them). A proposer that never releases (dead) holds me for at most
   * min(`releaseMs`, `requestTimeoutMs` + 3 s).
   */
  holdOff (round: number, committee: readonly string[], gapMs: number, since = 0): number {
    const a = this.asks.get(round)
    if (a === undefined) return 0
    const me = committee.indexOf(this.me)
    if (me < 0 || a.index >= me) return 0
    // An open proposal ends within its requests' deadline (then it appends or releases): past that
    // (plus the release's own 3 s), its proposer is gone.
    if (a.released === undefined) return Date.now() - a.at < Math.min(this.o.releaseMs, this.o.requestTimeoutMs + 3000) ? Number.MAX_SAFE_INTEGER : 0
    // A release before my own last attempt is old news: my slots decide again.
    if (a.released <= since) return 0
    return a.released + Math.max(0, me - a.index - 1) * gapMs
  }

  /** Note that `proposer` asked me for `round` (kept: the earliest open one in committee order; a committee member only). */
  private noteAsk (round: number, retry: number, proposer: string): void {
    let committee: readonly string[]
    try { committee = this.c.ledger.state.committee(round, retry) } catch { return }
    const index = committee.indexOf(proposer)
    if (index < 0) return
    const prior = this.asks.get(round)
    if (prior !== undefined && prior.released === undefined && prior.index < index && Date.now() - prior.at < this.o.releaseMs) return
    this.asks.set(round, { proposer, at: Date.now(), index })
  }

  private async ownBody (round: number): Promise<CheckpointBody | undefined> {
    const end = Date.now() + this.o.waitOwnMs
    while (!this.bodies.has(round) && Date.now() < end) {
      await new Promise<void>(resolve => {
        const w = (): void => { this.waiters.delete(w); clearTimeout(t); resolve() }
        const t = setTimeout(w, Math.max(1, end - Date.now()))
        this.waiters.add(w)
      })
    }
    return this.bodies.get(round)
  }

  /** The core I would propose now for `body`. */
  coreFor (body: CheckpointBody): CheckpointCore {
    const state = this.c.ledger.state
    const prev = state.checkpointCid(body.round - 1)
    if (prev === undefined) throw new PeerProtocolError(`no checkpoint ${body.round - 1} in the ledger`)
    return checkpointCore(body, prev, state.heads())
  }

  private get me (): string { return toHex(this.c.signer.publicKey) }

  /**
   * Bind to (proposer, core) for `round` if I may (see the header): not bound,
   * bound to the same, bound to a dead proposal (older than `releaseMs`), or
   * bound to my own proposal while an earlier proposer (committee order) asks
   * (then my proposal is cancelled). Synchronous: no await between the check
   * and the mark.
   */
  private mayAndMark (round: number, core: CheckpointCore, proposer: string, committee: readonly string[]): boolean {
    const h = `${proposer}/${toHex(sha256(encodeCore(core)))}`
    const prior = this.signed.get(round)
    if (prior !== undefined && prior.h !== h && Date.now() - prior.at < this.o.releaseMs) {
      const own = this.mine.get(round)
      const earlier = committee.indexOf(proposer) >= 0 && committee.indexOf(proposer) < committee.indexOf(this.me)
      if (!(prior.proposer === this.me && proposer !== this.me && earlier && own !== undefined && !own.appending)) return false
      own.cancelled = true
    }
    this.signed.set(round, { h, at: prior?.h === h ? prior.at : Date.now(), proposer })
    return true
  }

  /** Wait (bounded) until the ledger holds the plan of (round, retry), pulling from `from`. */
  async planEntry (round: number, retry: number, from: string | undefined): Promise<{ author: string, seq: number } | undefined> {
    const end = Date.now() + this.o.waitOwnMs
    let pulled = false
    for (let i = 0; i < 100_000; i++) {
      const plan = this.c.ledger.state.rounds.get(`${round}/${retry}`)?.plan
      if (plan !== undefined) return plan
      if (Date.now() >= end) return undefined
      if (!pulled && from !== undefined && Date.now() > end - this.o.waitOwnMs / 2) { pulled = true; await this.c.pullFrom(from).catch(() => undefined); continue }
      // Wakes on the next ledger entry (the plan, when the peer wires the writer's `onEntry`), else polls.
      await this.c.writer.nextEntry(Math.min(50, Math.max(1, end - Date.now())))
    }
    return undefined
  }

  private async serve (req: Uint8Array, proposer: string): Promise<Uint8Array> {
    let core: CheckpointCore
    try {
      const o = dagCbor.decode(req) as { v?: unknown, core?: unknown, release?: unknown }
      if (o === null || typeof o !== 'object' || o.v !== 1) throw new Error('not a v1 request')
      if (o.release !== undefined) {
        if (!Number.isSafeInteger(o.release) || (o.release as number) < 1 || o.core !== undefined) throw new Error('bad release')
        // Only the proposer I am bound to can release me (the transport authenticates `proposer`).
        if (this.signed.get(o.release as number)?.proposer === proposer) this.signed.delete(o.release as number)
        const a = this.asks.get(o.release as number)
        if (a !== undefined && a.proposer === proposer && a.released === undefined) a.released = Date.now()
        return dagCbor.encode({ v: 1, ok: true })
      }
      const parsed = parseBody('checkpoint', { ...(o.core as object), cosigs: [] }) as CheckpointCore & { cosigs: unknown }
      const { cosigs: _c, ...rest } = parsed
      core = rest
    } catch (err) {
      throw new PeerProtocolError(`malformed co-signing request: ${(err as Error).message}`)
    }
    this.noteAsk(core.round, core.retry, proposer)
    if (this.c.ledger.state.lastRound >= core.round) throw new PeerProtocolError(`round ${core.round}: my ledger already holds its checkpoint`)
    // Bound to a third proposer's open proposal: refuse now, not after waiting (up to waitOwnMs
    // each) for my own body and the plan. Its proposer learns at once that it has no quorum.
    const bound = this.signed.get(core.round)
    if (bound !== undefined && bound.proposer !== proposer && bound.proposer !== this.me && Date.now() - bound.at < this.o.releaseMs) {
      throw new PeerProtocolError(`round ${core.round}: I already co-signed another core or for another proposer`)
    }
    const s0 = Date.now()
    const body = await this.ownBody(core.round)
    if (process.env.TESSERA_PEER_DEBUG === '2') console.error(`[serve ${this.me.slice(0, 6)}] r${core.round} own body after ${Date.now() - s0} ms`)
    if (body === undefined) throw new PeerProtocolError(`round ${core.round}: I have no checkpoint of my own`)
    const prev = this.c.ledger.state.checkpointCid(core.round - 1)
    if (prev === undefined) throw new PeerProtocolError(`round ${core.round}: no checkpoint ${core.round - 1} in my ledger`)
    const expected = checkpointCore(body, prev, core.heads)
    if (toHex(encodeCore(expected)) !== toHex(encodeCore(core))) throw new PeerProtocolError(`round ${core.round}: the proposed core differs from my checkpoint`)
    // E's rule: the checkpoint must cover the plan. Refuse a core that cannot be appended anyway.
    const plan = await this.planEntry(core.round, core.retry, body.committee[0])
    if (plan === undefined) throw new PeerProtocolError(`round ${core.round}: I do not hold the plan yet`)
    const head = core.heads.find(x => toHex(x.author) === plan.author)
    if (head === undefined || head.seq < plan.seq) throw new PeerProtocolError(`round ${core.round}: the proposed heads do not cover the plan`)
    // Never co-sign a second checkpoint for a round my ledger already has (a fork), and before
    // binding to a new proposer ask the earlier one for its entries: its proposal may have been
    // appended without reaching my ledger yet (slow sync on a loaded machine gave a fork in `npm start`).
    if (this.c.ledger.state.lastRound >= core.round) throw new PeerProtocolError(`round ${core.round}: my ledger already holds its checkpoint`)
    const prior = this.signed.get(core.round)
    // Only when the earlier binding is about to be released (otherwise mayAndMark refuses anyway): a pull
    // on every refused request would slow the co-signing under load.
    if (prior !== undefined && prior.proposer !== proposer && Date.now() - prior.at >= this.o.releaseMs) {
      await this.c.pullFrom(prior.proposer).catch(() => undefined)
      if (this.c.ledger.state.lastRound >= core.round) throw new PeerProtocolError(`round ${core.round}: my ledger already holds its checkpoint`)
    }
    if (!this.mayAndMark(core.round, core, proposer, body.committee)) throw new PeerProtocolError(`round ${core.round}: I already co-signed another core or for another proposer`)
    const genesis = this.c.ledger.state.genesisCid!
    const cs = await cosignCheckpoint(this.c.signer, core, genesis)
    return dagCbor.encode({ v: 1, sig: cs.sig })
  }

  /**
   * Propose the ledger checkpoint of my finished round to the other members of
   * its committee; append it once a quorum (counting me) has co-signed.
   * Returns the appended entry's CID, or undefined (no quorum, or already there).
   */
  async propose (body: CheckpointBody, committee: readonly string[], quorum: number, ts: number, receipts: readonly string[] = []): Promise<string | undefined> {
    const state = this.c.ledger.state
    this.lastRefusals = []
    const t0 = Date.now()
    const dbg = (w: string): void => { if (process.env.TESSERA_PEER_DEBUG === '2') console.error(`[cosign ${this.me.slice(0, 6)}] r${body.round} ${w} +${Date.now() - t0} at ${Date.now() % 100000}`) }
    dbg('propose')
    if (state.lastRound >= body.round) return undefined
    // My ledger must hold the plan and the included contributions before my heads can cover them.
    if (await this.planEntry(body.round, body.retry, body.committee[0]) === undefined) throw new PeerProtocolError(`round ${body.round}: the plan is not in my ledger`)
    dbg('plan in')
    await this.c.writer.waitForContributions(body.round, body.retry, body.groups.flatMap(g => g.members))
    // The heads I propose decide whose receipts the checkpoint covers (reputation evidence): wait
    // (bounded) for the receipts my machine used. Only the first attempt's core matters (it is kept).
    if (!this.myCores.has(body.round)) await this.c.writer.waitForReceipts(body.round, body.retry, receipts, this.o.waitOwnMs / 2)
    dbg('contributions and receipts in')
    if (this.c.ledger.state.lastRound >= body.round) return undefined
    // My core for this body: the one of my first attempt (same heads), unless the body changed (my
    // machine signed another retry's body since).
    const cached = this.myCores.get(body.round)
    const core = cached !== undefined && toHex(encodeCore(checkpointCore(body, cached.prev, cached.heads))) === toHex(encodeCore(cached)) ? cached : this.coreFor(body)
    this.myCores.set(body.round, core)
    const me = this.me
    if (!this.mayAndMark(body.round, core, me, body.committee)) { this.lastRefusals = [DEFERRED]; return undefined }
    const own = { cancelled: false, appending: false }
    this.mine.set(body.round, own)
    const others = committee.filter(p => p !== me)
    const req = encodeCore(core)
    const ask = async (p: string): Promise<Cosignature> => {
      const res = await this.c.transport.send(p, this.protocol, req, { timeoutMs: this.o.requestTimeoutMs, maxRequestBytes: MAX_REQUEST, maxResponseBytes: MAX_RESPONSE })
      const o = dagCbor.decode(res) as { v?: unknown, sig?: unknown }
      if (o === null || typeof o !== 'object' || !(o.sig instanceof Uint8Array) || o.sig.length !== 64) throw new PeerProtocolError('malformed co-signature')
      // A bad co-signature would make the whole entry fail E's verification: check each one first.
      const ok = await this.c.ledger.verifier.verify(peerIdBytes(p), cosigningMessage(core, this.c.ledger.state.genesisCid!), o.sig)
      if (!ok) throw new PeerProtocolError(`bad co-signature from ${p}`)
      return { signer: peerIdBytes(p), sig: o.sig }
    }
    // Append as soon as a quorum (counting me) has co-signed: waiting for every member made the
    // slowest member (or one refusing after its 5 s wait for its own body) the round's latency.
    // Members answering later are bound to this same core, so they can co-sign nothing else.
    const got: Array<{ peer: string, cs: Cosignature }> = []
    const refusals: string[] = []
    const answered: string[] = []
    let pending = others.length
    // Settled once the outcome is known: a quorum (counting me), or so many refusals that no quorum
    // is possible any more. Then every member that answered is released at once, and each later one
    // as its answer comes: signers would otherwise stay bound to a dead proposal until every request
    // was answered (up to its deadline), and every member asked holds off its own proposal until
    // this one ends (`holdOff`).
    let failed = false
    const lateReleases: Array<Promise<void>> = []
    // Every request answered (bounded: each has its deadline; 1000 x 50 ms more than covers it).
    const allSettled = async (): Promise<void> => {
      for (let i = 0; i < 1000 && pending > 0; i++) await new Promise(resolve => setTimeout(resolve, 50))
    }
    await new Promise<void>(resolve => {
      if (pending === 0) { resolve(); return }
      for (const p of others) {
        ask(p).then(c => {
          if (!failed) got.push({ peer: p, cs: c })
        }, (err: unknown) => { refusals.push(`${(err as Error).name}: ${(err as Error).message}`) }).finally(() => {
          pending--
          if (failed) lateReleases.push(this.release(body.round, [p]))
          else answered.push(p)
          if (got.length + 1 >= quorum || pending === 0 || got.length + 1 + pending < quorum) resolve()
        })
      }
    })
    const cosigs = got.map(g => g.cs)
    this.lastRefusals = refusals.slice()
    dbg(`quorum ${cosigs.length} ${refusals.join('|')}`)
    // Checked synchronously with `appending` set in the same turn: a cancellation (I co-signed an
    // earlier proposer meanwhile) can never interleave with the append.
    if (own.cancelled || cosigs.length + 1 < quorum || this.c.ledger.state.lastRound >= body.round) {
      failed = true
      if (own.cancelled) this.lastRefusals.push('cancelled: I co-signed an earlier proposer')
      this.mine.delete(body.round)
      if (this.signed.get(body.round)?.proposer === me) this.signed.delete(body.round)
      // These co-signatures are never used: free their signers for another proposer now. Members
      // still answering are released as their answers come (a release overtaking its request would
      // leave that member bound); a refusal binds nobody.
      await this.release(body.round, answered)
      await allSettled()
      await Promise.allSettled(lateReleases)
      return undefined
    }
    own.appending = true
    try {
      const e = await this.c.writer.write('checkpoint', { ...core, cosigs }, Math.max(ts, Date.now()))
      dbg('appended')
      return e.cid.toString()
    } catch (err) {
      // The ledger refused the entry (e.g. heads that miss an included contribution): the next attempt
      // builds a new core, after releasing everyone bound to this one.
      this.myCores.delete(body.round)
      if (this.signed.get(body.round)?.proposer === me) this.signed.delete(body.round)
      await allSettled()
      await this.release(body.round, others)
      throw err
    } finally {
      this.mine.delete(body.round)
    }
  }

  /** Tell `peers` that my proposal for `round` is withdrawn (best effort, short deadline). */
  private async release (round: number, peers: readonly string[]): Promise<void> {
    const req = dagCbor.encode({ v: 1, release: round })
    await Promise.allSettled(peers.map(async p => await this.c.transport.send(p, this.protocol, req, { timeoutMs: 3000, maxRequestBytes: MAX_REQUEST, maxResponseBytes: MAX_RESPONSE })))
  }
}
