/**
 * Figures of the round benchmark from what the workers gathered (bench/round-lib/worker.ts):
 * per-round timeline, phase durations, overhead and bytes per role. Pure functions
 * over plain data, the same whether the peers ran in one process or in many.
 * Definitions: docs/architecture/benchmarks-round.md "Definitions".
 */
import type { LedgerView, PeerReport } from './worker.ts'

export const median = (xs: number[]): number => { const s = xs.filter(Number.isFinite).sort((a, b) => a - b); return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2 }
const max = (xs: number[]): number => xs.length === 0 ? NaN : Math.max(...xs)
export const r1 = (x: number): number => Math.round(x * 10) / 10
export const r3 = (x: number): number => Math.round(x * 1000) / 1000

/**
 * Per-round timeline, ms after the round's start (= ts of checkpoint r-1 + the
 * peer's start delay), each the latest over the peers concerned.
 */
export function timeline (ledger: LedgerView, peers: PeerReport[], r: number): Record<string, number> | undefined {
  const ck = ledger.checkpoints[r]
  const prev = ledger.checkpoints[r - 1]
  if (ck === undefined || prev === undefined) return undefined
  const start = prev.ts + ledger.startDelayMs
  const committee = new Set(ck.committee)
  const members = peers.filter(p => committee.has(p.self))
  const at = (p: PeerReport, type: string): number[] => (p.obs[r] ?? []).filter(o => o.type === type).map(o => o.t - start)
  const lastAtMembers = (type: string): number => max(members.map(p => max(at(p, type))).filter(Number.isFinite))
  const q = Math.ceil((2 * ck.committee.length) / 3)
  // A member's machine is done at its quorum of checkpoint signatures: its own plus the (q-1)-th it received.
  const done = members.map(p => at(p, 'ckpt').sort((a, b) => a - b)[q - 2] ?? NaN).filter(Number.isFinite)
  const ledgerTimes = peers.map(p => p.ledgerAt[r]?.t).filter((t): t is number => t !== undefined).map(t => t - start)
  return {
    retry: ck.retry,
    shareFirst: median(members.map(p => Math.min(...at(p, 'share')))),
    shareLast: lastAtMembers('share'),
    // Receipts go out at the share deadline, or earlier once every share and mask is in
    // (the node's earlyReceipt): the first receipt seen by any member is when they went out.
    receiptsSentAt: Math.min(...members.map(p => Math.min(...at(p, 'receipt')))),
    receiptsLast: lastAtMembers('receipt'),
    planLast: lastAtMembers('plan'),
    zcheckLast: lastAtMembers('zcheck'),
    partialLast: lastAtMembers('partial'),
    machineDoneFirst: Math.min(...done),
    machineDoneLast: max(done),
    ledgerCheckpointTs: ck.ts - start,
    ledgerAllPeers: max(ledgerTimes),
    periodMs: ck.ts - prev.ts
  }
}

/** Medians over rounds 2..rounds (round 1 opens the connections and is not measured). */
export function measure (ledger: LedgerView, peers: PeerReport[], arch: string, shareMs: number, rounds: number): Record<string, unknown> {
  const dim = ledger.parameters
  const modelBytes = dim * 4
  const m = ledger.committeeM
  const lines: Array<Record<string, number>> = []
  for (let r = 2; r <= rounds; r++) {
    const t = timeline(ledger, peers, r)
    if (t !== undefined) lines.push(t)
  }
  const med = (k: string): number => r1(median(lines.map(l => l[k]!)))
  const keys = ['shareFirst', 'shareLast', 'receiptsSentAt', 'receiptsLast', 'planLast', 'zcheckLast', 'partialLast', 'machineDoneFirst', 'machineDoneLast', 'ledgerCheckpointTs', 'ledgerAllPeers', 'periodMs']
  const tm = Object.fromEntries(keys.map(k => [k, med(k)]))
  // Phase durations from the median timeline (each phase ends when its last message is in).
  const phases = {
    shareTransfer: tm.shareLast,
    shareIdle: r1(Math.max(0, tm.receiptsSentAt! - tm.shareLast!)),
    receipt: r1(tm.receiptsLast! - tm.receiptsSentAt!),
    plan: r1(tm.planLast! - tm.receiptsLast!),
    zeroCheck: r1(tm.zcheckLast! - tm.planLast!),
    partial: r1(tm.partialLast! - tm.zcheckLast!),
    checkpointSigs: r1(tm.machineDoneLast! - tm.partialLast!),
    ledgerCosignAppend: r1(tm.ledgerCheckpointTs! - tm.machineDoneFirst!),
    ledgerPropagation: r1(tm.ledgerAllPeers! - tm.ledgerCheckpointTs!),
    nextStartOffset: ledger.startDelayMs
  }
  const periods = lines.map(l => l.periodMs!)
  const transfer = lines.map(l => l.shareLast!)
  // Everything but local training: the period minus the time the round stood idle waiting for the
  // share deadline after the last share was in (none when receipts went out early).
  const overhead = lines.map(l => l.periodMs! - Math.max(0, Math.min(shareMs, l.receiptsSentAt!) - l.shareLast!))
  // Bytes per peer and round, by role.
  const payload = { contributor: [] as number[], member: [] as number[] }
  const wire = { contributor: [] as number[], member: [] as number[] }
  for (const p of peers) {
    for (const e of p.events) {
      if (e.round < 2 || e.round > rounds) continue
      const role = e.member ? 'member' : e.contributed ? 'contributor' : undefined
      if (role === undefined) continue
      payload[role].push(e.bytesSent)
      const a = p.ledgerAt[e.round - 1]
      const b = p.ledgerAt[e.round]
      if (a !== undefined && b !== undefined) wire[role].push(b.wireSent - a.wireSent)
    }
  }
  return {
    model: arch, parameters: dim, modelBytes, committee: m, shareMs, roundsMeasured: lines.length,
    retries: lines.map(l => l.retry),
    periodMsMedian: r1(median(periods)),
    shareTransferMsMedian: r1(median(transfer)),
    overheadMsMedian: r1(median(overhead)),
    overheadMs: overhead.map(r1),
    periodMs: periods,
    timelineMedianMs: tm,
    timelinesMs: lines,
    phaseMsMedian: phases,
    bytesOverModel: {
      goal: m + 1,
      contributorPayload: r3(median(payload.contributor) / modelBytes),
      contributorWire: r3(median(wire.contributor) / modelBytes),
      memberPayload: r3(median(payload.member) / modelBytes),
      memberWire: r3(median(wire.member) / modelBytes)
    },
    contributorWireBytesMedian: median(wire.contributor)
  }
}
