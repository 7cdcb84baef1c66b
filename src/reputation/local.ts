/**
 * Local reputation: what ONE peer saw a remote do at its edges (malformed or
 * oversized frames, gossip its validators rejected, garbage round messages,
 * hostile sync answers), as a decaying score with a consequence.
 *
 * The ledger's reputation (compute.ts) is the network's shared judgement and may
 * only use evidence every peer can verify (checkpoints, receipts, blame). Most
 * edge misbehaviour is not provable to a third party (anyone can claim it was
 * sent garbage), so it cannot go on the ledger; it is still this peer's reason
 * to stop listening. This follows the shape of gossipsub v1.1 peer scoring
 * (Vyzovitis et al. 2020, "GossipSub: Attack-Resilient Message Propagation in
 * the Filecoin and ETH2.0 Networks", Sec. 5): per-offence penalties that decay
 * exponentially, and a threshold under which a peer is pruned and its traffic
 * ignored. Here: score = sum of weight x 2^(-age / halfLife); at or above
 * `banThreshold` the peer is banned for `banMs` (the caller hangs up and refuses
 * it); a ban that ends leaves the score to decay on its own.
 *
 * Pure: time comes in as an argument (ms), no timers, no I/O. Memory is bounded
 * (`maxPeers`); when full, the lowest current score is forgotten, never a ban.
 */
import { InvalidParametersError } from '../util/errors.ts'

export interface LocalReputationParams {
  /** half-life of a penalty (ms) */
  halfLifeMs: number
  /** score at which a peer is banned */
  banThreshold: number
  /** ban length (ms) */
  banMs: number
  /** penalty per offence kind; kinds not listed weigh `defaultWeight` */
  weights: Readonly<Record<string, number>>
  defaultWeight: number
  /** peers tracked at most */
  maxPeers: number
}

/**
 * Defaults: a peer that sends one malformed message now and then (a bug, a
 * version skew) never reaches the threshold; one that sends about 16 in a
 * minute is banned for 10 minutes. Oversized and malformed frames weigh more
 * than a rejected gossip message, which an honest peer can forward by accident
 * only if its own validator is broken.
 */
export const DEFAULT_LOCAL_REPUTATION: LocalReputationParams = Object.freeze({
  halfLifeMs: 5 * 60_000,
  banThreshold: 16,
  banMs: 10 * 60_000,
  weights: Object.freeze({ 'oversized-frame': 4, 'malformed-frame': 2, 'oversized-message': 4 }),
  defaultWeight: 1,
  maxPeers: 10_000
})

export function resolveLocalReputationParams (p: Partial<LocalReputationParams> = {}): LocalReputationParams {
  if (p === null || typeof p !== 'object') throw new InvalidParametersError('local reputation parameters must be an object')
  const out: LocalReputationParams = { ...DEFAULT_LOCAL_REPUTATION, ...p, weights: { ...DEFAULT_LOCAL_REPUTATION.weights, ...(p.weights ?? {}) } }
  const pos = (k: 'halfLifeMs' | 'banThreshold' | 'banMs' | 'maxPeers'): void => {
    if (typeof out[k] !== 'number' || !Number.isFinite(out[k]) || out[k] <= 0) throw new InvalidParametersError(`${k} must be a finite number > 0, got ${String(out[k])}`)
  }
  pos('halfLifeMs'); pos('banThreshold'); pos('banMs'); pos('maxPeers')
  if (!Number.isInteger(out.maxPeers)) throw new InvalidParametersError(`maxPeers must be an integer, got ${out.maxPeers}`)
  for (const [k, w] of [['defaultWeight', out.defaultWeight] as const, ...Object.entries(out.weights)]) {
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) throw new InvalidParametersError(`weight of ${k} must be a finite number >= 0, got ${String(w)}`)
  }
  return out
}

interface Record_ { score: number, at: number, bannedUntil: number, offences: number }

export interface LocalPeerScore {
  peer: string
  /** decayed score now */
  score: number
  /** offences charged in all (not decayed) */
  offences: number
  /** ms since the epoch until which the peer is banned, or 0 */
  bannedUntil: number
}

export class LocalReputation {
  readonly params: LocalReputationParams
  private readonly peers = new Map<string, Record_>()

  constructor (params: Partial<LocalReputationParams> = {}) {
    this.params = resolveLocalReputationParams(params)
  }

  private decayed (r: Record_, now: number): number {
    const age = Math.max(0, now - r.at)
    return r.score * Math.pow(2, -age / this.params.halfLifeMs)
  }

  /**
   * Charge `peer` for one offence of `kind` at time `now`. Returns whether this
   * charge started a ban (true once per ban: the caller hangs up then).
   */
  charge (peer: string, kind: string, now: number): boolean {
    if (typeof peer !== 'string' || peer.length === 0) return false
    if (!Number.isFinite(now)) throw new InvalidParametersError(`now must be finite, got ${String(now)}`)
    const w = Object.hasOwn(this.params.weights, kind) ? this.params.weights[kind]! : this.params.defaultWeight
    let r = this.peers.get(peer)
    if (r === undefined) {
      if (this.peers.size >= this.params.maxPeers) this.evict(now)
      r = { score: 0, at: now, bannedUntil: 0, offences: 0 }
      this.peers.set(peer, r)
    }
    r.score = this.decayed(r, now) + w
    r.at = Math.max(r.at, now)
    r.offences++
    if (r.bannedUntil > now || r.score < this.params.banThreshold) return false
    r.bannedUntil = now + this.params.banMs
    return true
  }

  isBanned (peer: string, now: number): boolean {
    const r = this.peers.get(peer)
    return r !== undefined && r.bannedUntil > now
  }

  score (peer: string, now: number): number {
    const r = this.peers.get(peer)
    return r === undefined ? 0 : this.decayed(r, now)
  }

  /** Every tracked peer, highest score first. */
  snapshot (now: number): LocalPeerScore[] {
    return [...this.peers.entries()]
      .map(([peer, r]) => ({ peer, score: this.decayed(r, now), offences: r.offences, bannedUntil: r.bannedUntil > now ? r.bannedUntil : 0 }))
      .sort((a, b) => b.score - a.score || (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0))
  }

  get size (): number { return this.peers.size }

  /** Forget the lowest-scoring peer that is not banned; a ban only when every tracked peer is banned. */
  private evict (now: number): void {
    let worst: string | undefined
    let low = Infinity
    for (const [p, r] of this.peers) {
      if (r.bannedUntil > now) continue
      const s = this.decayed(r, now)
      if (s < low) { low = s; worst = p }
    }
    if (worst !== undefined) this.peers.delete(worst)
    else {
      // Every tracked peer is banned: forget the ban that ends first.
      let first: string | undefined
      let end = Infinity
      for (const [p, r] of this.peers) if (r.bannedUntil < end) { end = r.bannedUntil; first = p }
      if (first !== undefined) this.peers.delete(first)
    }
  }
}
