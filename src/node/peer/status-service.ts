/**
 * `/tessera/<netid>/peer-status/1.0.0`: what a running peer tells others about
 * itself and the rounds it finished (JSON both ways, 64 KiB caps).
 *
 *   { op: 'status' }              -> PeerStatus
 *   { op: 'round', round: r }     -> RoundInfo of round r, or { error }
 *
 * RoundInfo names the blobs a late joiner or a restarted peer fetches by hash
 * (model-fetch) to take part in round r + 1: the model (its hash is in the
 * co-signed ledger checkpoint, so it is checked against the ledger) and the
 * aggregation rule's state (checked against the round's checkpoint body hash
 * that the committee signed, when the body is given).
 */
import { scopeProtocol } from '../protocol-ids.ts'
import type { Transport } from '../transport.ts'
import { PeerProtocolError } from './errors.ts'

export const FAMILY_PEER_STATUS = '/tessera/peer-status/1.0.0'
const CAP = 64 * 1024

export interface RoundInfo {
  round: number
  modelHash: string
  ruleStateHash: string
  groupSumsHash: string
  committee: string[]
  groups: string[][]
  refused: Array<{ peer: string, reason: string }>
  blamed: Array<{ peer: string, reason: string }>
  retries: number
  accuracy?: number
}

export interface PeerStatus {
  peer: string
  addresses: string[]
  connected: string[]
  lastRound: number
  ledgerEntries: number
  members: number
  running: boolean
  /** local penalties: peer -> count of provable misbehaviour seen */
  penalties: Record<string, number>
  last?: RoundInfo
}

export type StatusRequest = { op: 'status' } | { op: 'round', round: number } | { op: 'addresses', peer: string }

export interface StatusServiceComponents {
  transport: Transport
  status: () => PeerStatus
  roundInfo: (round: number) => RoundInfo | undefined
}

const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })

export function parseStatusRequest (b: Uint8Array): StatusRequest {
  let o: unknown
  try { o = JSON.parse(dec.decode(b)) } catch { throw new PeerProtocolError('status request is not JSON') }
  const r = o as { op?: unknown, round?: unknown }
  if (r?.op === 'status') return { op: 'status' }
  if (r?.op === 'round' && typeof r.round === 'number' && Number.isSafeInteger(r.round) && r.round >= 1) return { op: 'round', round: r.round }
  const a = o as { op?: unknown, peer?: unknown }
  if (a?.op === 'addresses' && typeof a.peer === 'string' && /^[0-9a-f]{64}$/.test(a.peer)) return { op: 'addresses', peer: a.peer }
  throw new PeerProtocolError('unknown status request')
}

export class StatusService {
  readonly protocol: string
  private readonly c: StatusServiceComponents

  constructor (c: StatusServiceComponents, netId: string) {
    this.c = c
    this.protocol = scopeProtocol(netId, FAMILY_PEER_STATUS)
  }

  async start (): Promise<void> {
    await this.c.transport.handle(this.protocol, async (req) => {
      const q = parseStatusRequest(req)
      // 'addresses': what this peer knows of another one's listen addresses (a neighbour-assisted
      // lookup: a new peer knows only its bootstrap peers, and round 1's committee must be dialled).
      const out = q.op === 'status' ? this.c.status() : q.op === 'addresses' ? { peer: q.peer, addresses: await this.c.transport.knownAddresses(q.peer) } : (this.c.roundInfo(q.round) ?? { error: `no round ${q.round}` })
      const bytes = enc.encode(JSON.stringify(out))
      if (bytes.length > CAP) throw new PeerProtocolError('status too large')
      return bytes
    }, { maxRequestBytes: 1024, maxResponseBytes: CAP })
  }

  async stop (): Promise<void> {
    await this.c.transport.unhandle(this.protocol).catch(() => undefined)
  }

  /** Ask `peer`. */
  async ask<T = PeerStatus | RoundInfo>(peer: string, q: StatusRequest, timeoutMs = 5000): Promise<T> {
    const res = await this.c.transport.send(peer, this.protocol, enc.encode(JSON.stringify(q)), { timeoutMs, maxRequestBytes: 1024, maxResponseBytes: CAP })
    const o = JSON.parse(dec.decode(res)) as T & { error?: string }
    if (o !== null && typeof o === 'object' && typeof o.error === 'string') throw new PeerProtocolError(o.error)
    return o
  }
}
