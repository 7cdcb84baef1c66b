/**
 * Binds one RoundMachine to a Transport (src/node/transport.ts): direct families
 * become request handlers (the request is the message; the response is empty),
 * gossip topics become subscriptions, the machine's outputs become sends and
 * publishes, and a timer feeds clock ticks. Works over G's MemoryTransport (tests,
 * simulations with real timers and link faults) and, unchanged, over libp2p.
 *
 * The machine does the full validation itself; the topic validator only decodes
 * (Reject on malformed bytes, so the transport charges the author), so gossip that
 * cannot even be parsed is not forwarded.
 */
import type { Transport, GossipMessage, ValidationResult } from '../../node/transport.ts'
import { Validation } from '../../node/transport.ts'
import { RoundMachine, type RoundInput, type RoundOutput, type CompletedCheckpoint } from '../round/machine.ts'
import {
  decodeMessage, LIMITS, FAMILY_SHARE, FAMILY_ZERO, FAMILY_PARTIAL,
  TOPIC_CONTRIBUTION, TOPIC_RECEIPT, TOPIC_PLAN, TOPIC_CHECKPOINT, TOPIC_ZCHECK
} from '../round/messages.ts'

export interface TransportDriverOptions {
  machine: RoundMachine
  transport: Transport
  /** Prepended to every topic (the node uses the network's genesis hash). */
  topicPrefix: string
  /** Host clock in ms (the machine's deadlines are in the same unit). */
  clock: () => number
  tickMs: number
  /** Local training: the update for `model`. */
  train: (model: Float32Array, round: number) => Float32Array | Promise<Float32Array>
  /** Largest gossip message accepted (must fit the transport's cap). */
  gossipMaxBytes?: number
  /** Every output, for logs and tests. */
  onOutput?: (o: RoundOutput) => void
}

const FAMILIES = [FAMILY_SHARE, FAMILY_ZERO, FAMILY_PARTIAL] as const
const TOPICS = [TOPIC_CONTRIBUTION, TOPIC_RECEIPT, TOPIC_PLAN, TOPIC_ZCHECK, TOPIC_CHECKPOINT] as const

export interface DriverResult {
  checkpoint?: CompletedCheckpoint
  failed?: string
  /** Direct sends that did not get through (unreachable peer, timeout...). */
  sendFailures: number
}

export class TransportDriver {
  private readonly o: TransportDriverOptions
  private timer: ReturnType<typeof setInterval> | undefined
  private unsubs: Array<() => void> = []
  private resolve!: (r: DriverResult) => void
  private sendFailures = 0
  private stopped = false
  /** Resolves when the machine outputs `done` or `failed`. */
  readonly finished: Promise<DriverResult>

  constructor(o: TransportDriverOptions) {
    this.o = o
    this.finished = new Promise(res => { this.resolve = res })
  }

  async start(): Promise<void> {
    const { transport, topicPrefix } = this.o
    for (const family of FAMILIES) {
      await transport.handle(family, (req, ctx) => {
        this.deliver({ kind: 'message', from: ctx.peer, payload: req })
        return new Uint8Array(0)
      }, { maxRequestBytes: LIMITS.maxVectorBytes, maxResponseBytes: 16 })
    }
    const maxBytes = this.o.gossipMaxBytes ?? 1024 * 1024
    for (const topic of TOPICS) {
      this.unsubs.push(transport.subscribe(topicPrefix + topic, validate, (m: GossipMessage) => {
        this.deliver({ kind: 'message', from: m.from, payload: m.data })
      }, { maxBytes }))
    }
    this.emit(this.o.machine.start())
    this.timer = setInterval(() => this.deliver({ kind: 'tick', now: this.o.clock() }), this.o.tickMs)
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.timer !== undefined) clearInterval(this.timer)
    for (const u of this.unsubs) u()
    for (const family of FAMILIES) await this.o.transport.unhandle(family).catch(() => undefined)
  }

  private deliver(input: RoundInput): void {
    if (this.stopped) return
    this.emit(this.o.machine.step(input))
  }

  private emit(outs: RoundOutput[]): void {
    const { transport, topicPrefix } = this.o
    for (const o of outs) {
      this.o.onOutput?.(o)
      switch (o.kind) {
        case 'send':
          transport.send(o.to, o.family, o.bytes, { maxRequestBytes: LIMITS.maxVectorBytes, maxResponseBytes: 16 }).catch(() => { this.sendFailures++ })
          break
        case 'publish':
          transport.publish(topicPrefix + o.topic, o.bytes).catch(() => { this.sendFailures++ })
          break
        case 'train':
          Promise.resolve(this.o.train(o.model, o.round)).then(update => this.deliver({ kind: 'trained', update }), () => { /* no update this round */ })
          break
        case 'done':
          this.resolve({ checkpoint: o.checkpoint, sendFailures: this.sendFailures })
          break
        case 'failed':
          this.resolve({ failed: o.reason, sendFailures: this.sendFailures })
          break
        default:
          break
      }
    }
  }
}

function validate(m: GossipMessage): ValidationResult {
  try {
    decodeMessage(m.data)
    return Validation.Accept
  } catch {
    return Validation.Reject
  }
}
