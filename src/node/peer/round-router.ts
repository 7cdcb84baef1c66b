/**
 * Joins successive round machines (src/gossip-fl/round/machine.ts) to one
 * Transport for the whole life of a peer. H's TransportDriver binds one machine
 * and registers its handlers when that machine starts; a peer runs one machine
 * per round, and a fast peer's shares for round r + 1 can arrive before a slow
 * peer has finished round r. The router therefore keeps the handlers and
 * subscriptions for the peer's life, routes each message by its round number to
 * the current machine, holds messages of the next rounds (bounded), and drops
 * older ones.
 *
 * Protocol ids and topics are scoped to the network (src/node/protocol-ids.ts
 * scopeProtocol / scopeTopic). Direct families carry the request as the message
 * and an empty acknowledgement. Gossip validators decode and check the author's
 * signature inside the payload (gossip envelopes are unsigned: libp2p.ts), so a
 * forged or malformed message is Rejected and charged to the neighbour that sent
 * it, never delivered or forwarded; the machine does the rest of the validation
 * and charges the (verified) author itself.
 */
import type { Transport, GossipMessage, ValidationResult } from '../transport.ts'
import { Validation } from '../transport.ts'
import { MalformedRoundMessageError } from './errors.ts'
import { scopeProtocol, scopeTopic, VECTOR_CAP } from '../protocol-ids.ts'
import type { RoundMachine, RoundOutput } from '../../gossip-fl/round/machine.ts'
import { nodeVerifier } from '../../ledger/signature-node.ts'
import { roundVerifyFrom, type RoundVerify } from '../../gossip-fl/round/signer.ts'
import {
  decodeMessage, signingBytes, FAMILY_SHARE, FAMILY_ZERO, FAMILY_PARTIAL,
  TOPIC_CONTRIBUTION, TOPIC_RECEIPT, TOPIC_PLAN, TOPIC_CHECKPOINT, TOPIC_ZCHECK, type Family, type Topic, type RoundMessage, type SignedMessage
} from '../../gossip-fl/round/messages.ts'

export const ROUND_FAMILIES = [FAMILY_SHARE, FAMILY_ZERO, FAMILY_PARTIAL] as const
/** The one message type each direct family carries. */
const FAMILY_KIND: Record<Family, RoundMessage['type']> = { [FAMILY_SHARE]: 'share', [FAMILY_ZERO]: 'zero', [FAMILY_PARTIAL]: 'partial' }
export const ROUND_TOPICS = [TOPIC_CONTRIBUTION, TOPIC_RECEIPT, TOPIC_PLAN, TOPIC_ZCHECK, TOPIC_CHECKPOINT] as const
/** The one message type each round topic carries (all signed by their author, messages.ts SignedMessage). */
const TOPIC_KIND: Record<Topic, SignedMessage['type']> = {
  [TOPIC_CONTRIBUTION]: 'contribution', [TOPIC_RECEIPT]: 'receipt', [TOPIC_PLAN]: 'plan', [TOPIC_ZCHECK]: 'zcheck', [TOPIC_CHECKPOINT]: 'ckpt'
}
/** Gossip cap of the round topics (the largest of G's round topic caps). */
export const ROUND_GOSSIP_MAX_BYTES = 1024 * 1024
/** Attempts of one direct round send (see sendWithRetry). */
const SEND_ATTEMPTS = 4
/**
 * A direct send that failed after this long (ms) is not tried again (see sendWithRetry): a dial
 * that timed out (libp2p: 6 s per address, 10 s in all). Below it, failures under load (no
 * address yet, a reset stream on a starved process) are still retried.
 */
const SLOW_FAILURE_MS = 5000
/** After a dial timed out, no new dial to that peer for this long (ms): the rest of the phase. */
const UNREACHABLE_MS = 3000
/** Messages held for later rounds, at most. */
const MAX_HELD = 8192

export interface InboundObservation {
  via: 'direct' | 'gossip'
  /** scoped protocol id or topic */
  channel: string
  from: string
  bytes: Uint8Array
  msg: RoundMessage
}

export interface RoundRouterComponents {
  transport: Transport
}

export interface RoundRouterOptions {
  netId: string
  /** deadline of one direct send (ms) */
  sendTimeoutMs: number
  /** sees every decoded inbound round message (tests, research) */
  observe?: (o: InboundObservation) => void
  /** charged for a malformed message when no round machine is running to charge it */
  onMalformed?: (peer: string, reason: string) => void
  /** checks an author's signature in a gossip validator (default: node:crypto Ed25519, keys cached) */
  verify?: RoundVerify
}

export interface ActiveRound {
  machine: RoundMachine
  round: number
  /** outputs of `step` for this machine */
  emit: (outs: RoundOutput[]) => void
}

/** Scoped ids of the round's families and topics in network `netId`. */
export function roundChannels (netId: string): { families: Record<Family, string>, topics: Record<Topic, string> } {
  const families = {} as Record<Family, string>
  for (const f of ROUND_FAMILIES) families[f] = scopeProtocol(netId, f)
  const topics = {} as Record<Topic, string>
  for (const t of ROUND_TOPICS) topics[t] = scopeTopic(netId, t)
  return { families, topics }
}

export class RoundRouter {
  private readonly c: RoundRouterComponents
  private readonly o: RoundRouterOptions
  readonly channels: ReturnType<typeof roundChannels>
  private active: ActiveRound | undefined
  private held: Array<{ round: number, from: string, bytes: Uint8Array, msg: RoundMessage }> = []
  private unsubs: Array<() => void> = []
  private started = false
  /** bytes this peer wrote (requests + publications), reset by the caller per round */
  bytesSent = 0
  sendFailures = 0
  /** peer -> until when (ms) no new dial is started to it: its last dial timed out (sendWithRetry) */
  private readonly unreachable = new Map<string, number>()
  /** gossip bytes -> the message the validator decoded and verified (delivery does not decode again) */
  private readonly validated = new WeakMap<Uint8Array, RoundMessage>()
  /** signature bytes -> the author and signed bytes the validator verified them for (see `verify`) */
  private readonly verifiedSigs = new WeakMap<Uint8Array, { peer: string, message: Uint8Array }>()
  private readonly baseVerify: RoundVerify
  /**
   * A RoundVerify for the round machine (RoundConfig.verify) that answers from the gossip
   * validator's verdict when the machine checks the very signature object the validator
   * verified (the router hands the machine the message it decoded) for the same author and
   * the same signed bytes, and verifies anything else. Saves the second Ed25519 check of each
   * gossip message (gossipsub's envelope signature used to be checked on top of both).
   */
  readonly verify: RoundVerify = (peer, message, sig) => {
    const v = this.verifiedSigs.get(sig)
    if (v !== undefined && v.peer === peer && sameBytes(v.message, message)) return true
    return this.baseVerify(peer, message, sig)
  }

  constructor (c: RoundRouterComponents, o: RoundRouterOptions) {
    this.c = c
    this.o = o
    this.channels = roundChannels(o.netId)
    this.baseVerify = o.verify ?? roundVerifyFrom(nodeVerifier({ threadPool: false }))
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    const { transport } = this.c
    for (const f of ROUND_FAMILIES) {
      const id = this.channels.families[f]
      await transport.handle(id, (req, ctx) => {
        // The empty reply is the sender's delivery acknowledgement, so it is given only
        // for a round message of this family; anything else is refused with a typed
        // error (the machine charges the sender if a round is running).
        const kind = this.inbound('direct', id, ctx.peer, req)
        if (kind !== FAMILY_KIND[f]) throw new MalformedRoundMessageError(kind === undefined ? `${f}: not a round message` : `${f}: a '${kind}' message on this family`)
        return new Uint8Array(0)
      }, { maxRequestBytes: VECTOR_CAP, maxResponseBytes: 16 })
    }
    for (const t of ROUND_TOPICS) {
      const name = this.channels.topics[t]
      const kind = TOPIC_KIND[t]
      this.unsubs.push(transport.subscribe(name, (m) => this.validate(kind, m), (m: GossipMessage) => {
        // The validator's verdict, or (a transport that hands us another view of the bytes) a new one.
        let msg = this.validated.get(m.data)
        if (msg === undefined && this.validate(kind, m) === Validation.Accept) msg = this.validated.get(m.data)
        // The author is the verified signer inside the payload, not the transport's `from`.
        if (msg !== undefined) this.inbound('gossip', name, msg.from, m.data, msg)
      }, { maxBytes: ROUND_GOSSIP_MAX_BYTES }))
    }
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.active = undefined
    this.held = []
    for (const u of this.unsubs) u()
    this.unsubs = []
    for (const f of ROUND_FAMILIES) await this.c.transport.unhandle(this.channels.families[f]).catch(() => undefined)
  }

  /** Make `a` the current machine and replay what arrived early for its round. */
  attach (a: ActiveRound): void {
    this.active = a
    const mine = this.held.filter(h => h.round === a.round)
    this.held = this.held.filter(h => h.round > a.round)
    for (const h of mine) this.deliver(a, h.from, h.bytes, h.msg)
  }

  detach (round: number): void {
    if (this.active?.round === round) this.active = undefined
  }

  /** Carry out a machine's network outputs. */
  send (to: string, family: Family, bytes: Uint8Array): void {
    this.bytesSent += bytes.length
    void this.sendWithRetry(to, family, bytes)
  }

  /**
   * A share or zero mask that never arrives splits the committee's receipts (the norm
   * check needs one dealer set) and costs the retry; at the start of a network the
   * first dial to a member often fails while its listener is still busy. So a send that
   * failed before the remote saw it (no connection, no known address yet, stream reset)
   * is tried again, at most SEND_ATTEMPTS times, 250, 500 and 750 ms later. A refusal by the remote
   * (RemoteError) or a timeout is final. A duplicate that does arrive is ignored by the
   * receiver's machine ('duplicate', never charged). So is a failure that took
   * SLOW_FAILURE_MS or more (a dial that timed out, 6-10 s, under load): by then the
   * phase the message was for is over, and another dial only adds a handshake to a member
   * that is already saturated (40+ peers dialling the same committee).
   */
  private async sendWithRetry (to: string, family: Family, bytes: Uint8Array): Promise<void> {
    // A peer whose dial just timed out is not dialled again for UNREACHABLE_MS (the same phase);
    // a connection that is open meanwhile is still used.
    const until = this.unreachable.get(to)
    if (until !== undefined) {
      if (Date.now() < until && !this.c.transport.peers().includes(to)) { this.sendFailures++; return }
      this.unreachable.delete(to)
    }
    for (let attempt = 1; ; attempt++) {
      const t0 = Date.now()
      try {
        await this.c.transport.send(to, this.channels.families[family], bytes, { maxRequestBytes: VECTOR_CAP, maxResponseBytes: 16, timeoutMs: this.o.sendTimeoutMs })
        return
      } catch (err) {
        const name = (err as Error).name
        if (process.env.TESSERA_PEER_DEBUG === '2') console.error(`[send] ${family} -> ${to.slice(0, 6)} attempt ${attempt}: ${name}: ${(err as Error).message.slice(0, 160)}`)
        const slow = Date.now() - t0 >= SLOW_FAILURE_MS
        if (slow && name === 'PeerUnreachableError') {
          this.unreachable.set(to, Date.now() + UNREACHABLE_MS)
          if (this.unreachable.size > 1024) for (const [p, u] of this.unreachable) if (u < Date.now()) this.unreachable.delete(p)
        }
        if (!this.started || attempt >= SEND_ATTEMPTS || name === 'RemoteError' || name === 'RpcTimeoutError' || name === 'TransportNotStartedError' || slow) { this.sendFailures++; return }
        await new Promise(resolve => setTimeout(resolve, 250 * attempt))
      }
    }
  }

  publish (topic: Topic, bytes: Uint8Array): void {
    this.bytesSent += bytes.length
    this.c.transport.publish(this.channels.topics[topic], bytes).catch(() => { this.sendFailures++ })
  }

  /** Route one inbound message; returns its type, or undefined if it does not decode. */
  private inbound (via: 'direct' | 'gossip', channel: string, from: string, bytes: Uint8Array, decoded?: RoundMessage): RoundMessage['type'] | undefined {
    let msg: RoundMessage
    try {
      msg = decoded ?? decodeMessage(bytes)
    } catch {
      // Let the machine report it (it charges the sender) if a round is running.
      if (this.active !== undefined) this.deliver(this.active, from, bytes)
      else if (via === 'direct') { try { this.o.onMalformed?.(from, `malformed-round-message:${channel}`) } catch { /* never break the router */ } }
      return undefined
    }
    try { this.o.observe?.({ via, channel, from, bytes, msg }) } catch { /* observers must not break the router */ }
    const a = this.active
    if (a !== undefined && msg.r === a.round) { this.deliver(a, from, bytes, msg); return msg.type }
    const current = a?.round ?? 0
    if (msg.r > current && this.held.length < MAX_HELD) this.held.push({ round: msg.r, from, bytes, msg })
    return msg.type
  }

  /**
   * Gossip validator of a round topic. Gossip envelopes are unsigned (src/node/libp2p.ts), so
   * this is where a round message's author is authenticated, before it is delivered or
   * forwarded: it must decode, be the topic's one message type, and carry its author's
   * (`from`) valid signature (messages.ts signingBytes). Anything else is Reject, which the
   * transport charges to the neighbour that sent it (an honest neighbour forwards only what
   * passed this check), never to the author a forgery names. Content the machine later finds
   * provably bad is charged by the machine to that verified author.
   */
  private validate (kind: SignedMessage['type'], m: GossipMessage): ValidationResult {
    let msg: RoundMessage
    try {
      msg = decodeMessage(m.data)
    } catch {
      return Validation.Reject
    }
    if (msg.type !== kind) return Validation.Reject
    let message: Uint8Array
    try { message = signingBytes(msg) } catch { return Validation.Reject }
    if (!this.baseVerify(msg.from, message, msg.sig)) return Validation.Reject
    this.verifiedSigs.set(msg.sig, { peer: msg.from, message })
    this.validated.set(m.data, msg)
    return Validation.Accept
  }

  /** `msg`: decodeMessage(bytes), when the router has it (the machine then does not decode again). */
  private deliver (a: ActiveRound, from: string, bytes: Uint8Array, msg?: RoundMessage): void {
    a.emit(a.machine.step({ kind: 'message', from, payload: bytes, decoded: msg }))
  }
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
