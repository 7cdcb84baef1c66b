/**
 * The mesh keeper (issue #4, "Connections at scale" in docs/architecture/peer.md): a libp2p
 * service that keeps a connection open to every known peer of the network, so a round's
 * direct sends to a new committee find their connections standing. Built by
 * createTesseraLibp2p (src/node/libp2p.ts) when `keepConnected` > 0.
 */
import type { PeerId, Startable } from '@libp2p/interface'
import type { PeerGate } from './libp2p.ts'

export interface MeshKeeperInit {
  /** connections to keep open (distinct peers) */
  target: number
  /** dials in flight at most */
  concurrency: number
  /** peer-store scan period (ms) */
  intervalMs: number
  dialTimeoutMs: number
}

/** What the mesh keeper uses from libp2p (House style 2: narrow components). */
export interface MeshKeeperComponents {
  peerId: { toString: () => string }
  peerStore: { all: () => Promise<Array<{ id: PeerId, addresses: Array<{ multiaddr: { toString: () => string } }> }>> }
  connectionManager: {
    getConnections: (peer?: PeerId) => Array<{ remotePeer: PeerId, status: string }>
    openConnection: (peer: PeerId, options?: { signal?: AbortSignal }) => Promise<unknown>
  }
}

/** First retry of a peer the keeper failed to dial (ms); doubles per failure, at most 10 min. */
const KEEPER_BACKOFF_MS = 15_000
/** Peer-store entries tracked at most (backoff, first-seen): older ones are dropped. */
const KEEPER_MAX_TRACKED = 4096

/**
 * Mesh keeper: keeps a connection open to every known peer of the network, up to `target`.
 *
 * Why (docs/architecture/peer.md "Connections at scale"): each round has a new committee of m
 * members drawn from all N peers, and every contributor sends them its shares over direct
 * streams. Without an open connection each send starts with a Noise handshake, so every round
 * began with ~N x m cold handshakes aimed at m peers at once (26-42 ms of CPU each at both ends;
 * at 70 peers ~12 s of CPU in the first second of the share phase): dials timed out, shares were
 * lost, the committee's receipts named different dealer sets and the round failed. The keeper
 * opens those connections ahead of time, a few at a time, in the background: once they stand a
 * round dials nothing. Every peer of the network is a potential committee member, so the keeper
 * aims at all of them, up to `target` (a network larger than that still dials the rest on demand).
 *
 * One dial per pair: the peer with the smaller id string dials; the other waits max(5 scans, 2 dial
 * timeouts) before it dials itself (a peer whose keeper is off, or whose dial failed). A peer is
 * not dialled again for 15 s after a dial, doubling while no scan finds it connected (a failed dial,
 * or a peer that drops us at once), 10 min at most; banned peers (`gate`) are skipped; relayed-only peers (browsers
 * behind a circuit address) are not dialled here. Bounded: `concurrency` dials in flight, one
 * peer-store scan per `intervalMs`, at most 4096 peers tracked.
 */
export class MeshKeeper implements Startable {
  private readonly c: MeshKeeperComponents
  private readonly init: MeshKeeperInit
  private readonly gate: PeerGate | undefined
  private readonly inFlight = new Set<string>()
  private readonly backoff = new Map<string, { until: number, failures: number }>()
  private readonly firstSeen = new Map<string, number>()
  private queue: PeerId[] = []
  private timer: ReturnType<typeof setInterval> | undefined
  private stopCtl = new AbortController()
  private running = false
  private scanning = false
  /** scans skipped since the last one that found nothing to dial (see scan) */
  private idleSkips = 0
  private lastEmpty: { connected: number } | undefined
  /** dials started, and how many of them failed (tests, benchmarks) */
  readonly stats = { dials: 0, failures: 0 }

  constructor (components: MeshKeeperComponents, init: MeshKeeperInit, gate?: PeerGate) {
    this.c = components
    this.init = init
    this.gate = gate
  }

  readonly [Symbol.toStringTag] = 'tessera/mesh-keeper'

  isStarted (): boolean { return this.running }

  start (): void {
    if (this.running) return
    this.running = true
    this.stopCtl = new AbortController()
    this.timer = setInterval(() => { void this.scan() }, this.init.intervalMs)
    this.timer.unref?.()
  }

  stop (): void {
    this.running = false
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    this.stopCtl.abort()
    this.queue = []
  }

  private connected (): Set<string> {
    const s = new Set<string>()
    for (const c of this.c.connectionManager.getConnections()) if (c.status === 'open') s.add(c.remotePeer.toString())
    return s
  }

  /** Refill the queue from the peer store (shuffled), then start dials. */
  async scan (): Promise<void> {
    if (!this.running || this.scanning) return
    this.scanning = true
    try {
      const connected = this.connected()
      if (connected.size + this.inFlight.size >= this.init.target) return
      // A scan decodes every peer-store record (1.1% of a 70-peer worker's CPU at one scan per
      // 2 s): after one that found nothing to dial, skip 4 of 5 while no connection closed.
      if (this.lastEmpty !== undefined && connected.size >= this.lastEmpty.connected && this.idleSkips < 4) { this.idleSkips++; return }
      this.idleSkips = 0
      const peers = await this.c.peerStore.all()
      if (!this.running) return
      const self = this.c.peerId.toString()
      const now = Date.now()
      // Long enough for the designated dialer to get round to us (its queue, a slow handshake).
      const graceMs = Math.max(5 * this.init.intervalMs, 2 * this.init.dialTimeoutMs)
      const next: PeerId[] = []
      const known = new Set<string>()
      for (const p of peers) {
        const id = p.id.toString()
        known.add(id)
        if (connected.has(id)) { this.firstSeen.delete(id); this.backoff.delete(id); continue }
        if (id === self || this.inFlight.has(id)) continue
        if (!p.addresses.some((a) => !a.multiaddr.toString().includes('/p2p-circuit'))) continue
        if (this.gate?.denied(id) === true) continue
        const b = this.backoff.get(id)
        if (b !== undefined && b.until > now) continue
        if (self > id) {
          // The other peer is the designated dialer: give it time first.
          const first = this.firstSeen.get(id)
          if (first === undefined) { this.firstSeen.set(id, now); continue }
          if (now - first < graceMs) continue
        }
        next.push(p.id)
      }
      for (const m of [this.backoff, this.firstSeen]) {
        if (m.size > KEEPER_MAX_TRACKED) for (const k of [...m.keys()]) if (!known.has(k) || m.size > KEEPER_MAX_TRACKED) m.delete(k)
      }
      // Fisher-Yates with Math.random: the order only spreads load, it decides nothing.
      for (let i = next.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [next[i], next[j]] = [next[j]!, next[i]!] }
      this.queue = next
      this.lastEmpty = next.length === 0 ? { connected: connected.size } : undefined
    } catch { /* peer store closed under us (stopping): next scan */ } finally {
      this.scanning = false
    }
    this.pump()
  }

  private pump (): void {
    while (this.running && this.inFlight.size < this.init.concurrency && this.queue.length > 0) {
      const connected = this.connected()
      if (connected.size + this.inFlight.size >= this.init.target) { this.queue = []; return }
      const peer = this.queue.shift()!
      const id = peer.toString()
      if (connected.has(id) || this.inFlight.has(id) || this.gate?.denied(id) === true) continue
      this.inFlight.add(id)
      this.stats.dials++
      void this.c.connectionManager.openConnection(peer, { signal: AbortSignal.any([this.stopCtl.signal, AbortSignal.timeout(this.init.dialTimeoutMs)]) })
        // Back off after every dial, not only a failed one: a peer that accepts and then drops us
        // (its gater: we are banned there) must not be dialled every scan. The entry is cleared
        // once a scan finds the connection still open.
        .then(() => false, () => true)
        .then((failed) => {
          if (failed) this.stats.failures++
          const failures = (this.backoff.get(id)?.failures ?? 0) + 1
          this.backoff.set(id, { failures, until: Date.now() + Math.min(600_000, KEEPER_BACKOFF_MS * 2 ** (failures - 1)) })
        })
        .finally(() => { this.inFlight.delete(id); this.pump() })
    }
  }
}

/** libp2p service factory of the mesh keeper. */
export function meshKeeper (init: MeshKeeperInit, gate?: PeerGate): (components: MeshKeeperComponents) => MeshKeeper {
  return (components) => new MeshKeeper(components, init, gate)
}
