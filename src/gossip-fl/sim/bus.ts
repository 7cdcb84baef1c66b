/**
 * A minimal in-process message bus for the simulator: a FIFO of deliveries,
 * delivered synchronously one at a time, so a run is deterministic for a seed.
 * Semantics follow src/node/transport.ts: a direct send reaches only its
 * recipient; a publish reaches every other peer, never the publisher.
 * (Used until the round is wired to G's in-memory Transport, which is async.)
 */
export interface Delivery {
  to: string
  from: string
  payload: Uint8Array
  /** direct (family) or gossip (topic) */
  channel: string
  direct: boolean
}

export interface BusStats {
  /** bytes each peer wrote: direct sends count once, a publish once per recipient */
  sentBytes: Map<string, number>
  /** direct messages each peer received */
  directReceived: Map<string, Map<string, number>>
}

export class Bus {
  private readonly queue: Delivery[] = []
  private head = 0
  readonly stats: BusStats = { sentBytes: new Map(), directReceived: new Map() }

  constructor(readonly peers: readonly string[]) {}

  send(from: string, to: string, channel: string, payload: Uint8Array): void {
    this.count(from, payload.length)
    this.queue.push({ to, from, payload, channel, direct: true })
  }

  publish(from: string, channel: string, payload: Uint8Array): void {
    for (const to of this.peers) {
      if (to === from) continue
      this.count(from, payload.length)
      this.queue.push({ to, from, payload, channel, direct: false })
    }
  }

  /** Next delivery, or undefined when the bus is idle. */
  next(): Delivery | undefined {
    if (this.head >= this.queue.length) {
      this.queue.length = 0
      this.head = 0
      return undefined
    }
    const d = this.queue[this.head]!
    this.queue[this.head++] = undefined as unknown as Delivery
    if (d.direct) {
      const m = this.stats.directReceived.get(d.to) ?? new Map<string, number>()
      m.set(d.channel, (m.get(d.channel) ?? 0) + 1)
      this.stats.directReceived.set(d.to, m)
    }
    return d
  }

  get pending(): number {
    return this.queue.length - this.head
  }

  resetStats(): void {
    this.stats.sentBytes.clear()
    this.stats.directReceived.clear()
  }

  private count(from: string, n: number): void {
    this.stats.sentBytes.set(from, (this.stats.sentBytes.get(from) ?? 0) + n)
  }
}
