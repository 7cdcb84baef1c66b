/**
 * In-process driver: N peers' round machines over one deterministic bus, with a
 * virtual clock (jumps to the next phase deadline whenever the bus is idle), an
 * injected training function, fault injection, and a report per round.
 * Deterministic for a seed: keys, RNGs and message order derive from it.
 */
import { seededRng, childRng, type Rng } from '../../util/rng.ts'
import { InvalidParametersError } from '../../util/errors.ts'
import { RoundMachine, type RoundOutput, type CompletedCheckpoint, type RoundSchedule } from '../round/machine.ts'
import { resolveRoundParams, phaseDeadlines, type RoundParams } from '../round/params.ts'
import { ed25519Signer, ed25519Verify, type RoundSigner, type RoundVerify } from '../round/signer.ts'
import { TOPIC_RECEIPT } from '../round/messages.ts'
import { recomputeFromBlob, modelHash } from '../round/aggregate.ts'
import type { RuleState } from '../round/rules.ts'
import { bytesEqual, toHex } from '../round/util.ts'
import { attackByName, type AttackFn } from './attacks.ts'
import { Bus, type Delivery } from './bus.ts'
import { persistentOutliers, resolveOutlierParams, type OutlierParams, type OutlierRound } from '../../reputation/outliers.ts'
import { checkpointEvidence } from '../../reputation/outlier-evidence.ts'

export interface SimFaults {
  /** Byzantine contributors (peer indices) and their attack. */
  byzantine?: { peers: number[], attack: string | AttackFn, params?: Record<string, unknown> }
  /** Committee members (index in retry 0's committee) that go silent at the start or right after publishing their receipt. */
  silent?: Array<{ member: number, after: 'start' | 'receipt', rounds?: number[] }>
  /** Committee members (index in retry 0's committee) that send wrong partial sums. */
  corruptPartials?: Array<{ member: number, rounds?: number[] }>
  /** Committee members (index in retry 0's committee) that deal norm masks with a non-zero constant at retry 0. */
  badZeroDeal?: Array<{ member: number, delta: number, rounds?: number[] }>
  /** Contributors (peer indices) that skip clipping and scale their update up: over the norm bound. */
  overNorm?: { peers: number[], factor: number }
  /**
   * Committee members (index in retry 0's committee) whose machine ignores the persistent-outlier
   * exclusion (with `exclusion`): as leader it plans excluded contributors, which the other
   * members must refuse ('bad-plan:groups-excluded'). It still records the evidence.
   */
  ignoreExclusion?: Array<{ member: number, rounds?: number[] }>
}

export interface SimConfig {
  peers: number
  rounds: number
  seed: number | string
  params?: Parameters<typeof resolveRoundParams>[0]
  initialModel: Float32Array
  /** Local training of peer i from `model`; returns the update (trained - model). */
  train: (peer: number, model: Float32Array, round: number) => Float32Array | Promise<Float32Array>
  evaluate?: (model: Float32Array) => number | Promise<number>
  faults?: SimFaults
  /** Injected signing (default: pure-JS Ed25519 from seeded keys). */
  signerFor?: (seed32: Uint8Array) => RoundSigner
  verify?: RoundVerify
  /** Bound on deliveries + ticks per round (a hang guard). */
  maxStepsPerRound?: number
  onRound?: (r: RoundReport) => void
  /** Sees every delivery (tests: who received what). */
  observe?: (round: number, d: Delivery) => void
  /**
   * An outside schedule of retries for round r with round seed s (as the node takes it from the
   * ledger). Default: none, the machines' own (what the harness's fast engine reproduces).
   */
  schedule?: (round: number, seed: Uint8Array) => RoundSchedule
  /**
   * Persistent-outlier exclusion as the live protocol runs it (a charter v3 network): the
   * machines record each group's projection on their checkpoints (`projections`), and round r
   * excludes `persistentOutliers` of the evidence of checkpoints < r, decoded exactly as the
   * ledger's LedgerState.outlierExclusion does. Undefined = off (bodies as before).
   */
  exclusion?: Partial<OutlierParams>
  /** Told the peer ids (index order) before round 1. */
  onPeers?: (ids: string[]) => void
}

export interface RoundReport {
  round: number
  retries: number
  committee: string[]
  /** Members of each reconstructed group. */
  groups: string[][]
  /** Members of groups whose mean lay far from the aggregate. */
  far: string[][]
  refused: Array<{ peer: string, reason: string }>
  blamed: Array<{ peer: string, reason: string }>
  /** bytes written per peer id during the round */
  bytesSent: Map<string, number>
  /** misbehaviour reports emitted by honest machines: reporter -> list */
  misbehaviour: Array<{ reporter: string, peer: string, reason: string, severity: string }>
  checkpoint: CompletedCheckpoint
  /** the model every member computed (all equal, checked) */
  model: Float32Array
  /** the model recomputed from the published group sums (checked equal to `model`) */
  recomputedEqual: boolean
  accuracy?: number
  /** virtual ms the round took */
  virtualMs: number
  /** direct messages received per peer per family */
  directReceived: Map<string, Map<string, number>>
  /** Contributors excluded from this round as persistent outliers (empty without `exclusion`). */
  excluded: string[]
}

export interface SimResult {
  peerIds: string[]
  reports: RoundReport[]
  model: Float32Array
  params: RoundParams
}

function seed32(rng: Rng): Uint8Array {
  const w = new Uint32Array(8)
  rng.fillU32(w)
  return new Uint8Array(w.buffer)
}

export async function simulate(cfg: SimConfig): Promise<SimResult> {
  if (!Number.isInteger(cfg.peers) || cfg.peers < 1 || cfg.peers > 4096) throw new InvalidParametersError('peers must be an integer in [1, 4096]')
  if (!Number.isInteger(cfg.rounds) || cfg.rounds < 1 || cfg.rounds > 100_000) throw new InvalidParametersError('rounds must be an integer in [1, 100000]')
  const params = resolveRoundParams(cfg.params ?? {})
  const master = seededRng(`tessera-sim/${String(cfg.seed)}`)
  const signers: RoundSigner[] = []
  for (let i = 0; i < cfg.peers; i++) {
    const s = seed32(master)
    signers.push((cfg.signerFor ?? ed25519Signer)(s))
  }
  const ids = signers.map(s => s.peer)
  cfg.onPeers?.([...ids])
  const indexOf = new Map(ids.map((p, i) => [p, i]))
  const verify = cfg.verify ?? ed25519Verify
  const bus = new Bus(ids)
  const maxSteps = cfg.maxStepsPerRound ?? 5_000_000
  const attack: AttackFn | undefined = cfg.faults?.byzantine === undefined ? undefined
    : typeof cfg.faults.byzantine.attack === 'string' ? attackByName(cfg.faults.byzantine.attack, params.clipNorm, cfg.faults.byzantine.params) : cfg.faults.byzantine.attack
  const byz = new Set(cfg.faults?.byzantine?.peers ?? [])
  const overNorm = new Set(cfg.faults?.overNorm?.peers ?? [])

  let model: Float32Array = Float32Array.from(cfg.initialModel)
  let ruleState: RuleState | undefined
  // The genesis seed: a hash-sized value derived from the sim seed.
  let prev = seed32(childRng(String(cfg.seed), 'genesis'))
  let now = 0
  const reports: RoundReport[] = []
  const outlierParams = cfg.exclusion === undefined ? undefined : resolveOutlierParams(cfg.exclusion)
  const outlierHistory: OutlierRound[] = []

  for (let r = 1; r <= cfg.rounds; r++) {
    bus.resetStats()
    const start = now
    const inRound = (rounds?: number[]): boolean => rounds === undefined || rounds.includes(r)
    // Retry 0's committee, to resolve member-indexed faults.
    const schedule = cfg.schedule?.(r, prev)
    const probe = new RoundMachine({
      params, round: r, seed: prev, prevModel: model, ruleState, candidates: ids.map(p => ({ peer: p, weight: 1 })), contributors: ids,
      startTime: start, signer: signers[0]!, verify, rng: childRng(String(cfg.seed), `probe/${r}`), ...(schedule === undefined ? {} : { schedule })
    })
    const committee0 = [...probe.committee]
    const silentAt = new Map<string, 'start' | 'receipt'>()
    for (const s of cfg.faults?.silent ?? []) if (inRound(s.rounds) && committee0[s.member] !== undefined) silentAt.set(committee0[s.member]!, s.after)
    const corrupt = new Set<string>()
    for (const c of cfg.faults?.corruptPartials ?? []) if (inRound(c.rounds) && committee0[c.member] !== undefined) corrupt.add(committee0[c.member]!)
    const badDeal = new Map<string, number>()
    for (const b of cfg.faults?.badZeroDeal ?? []) if (inRound(b.rounds) && committee0[b.member] !== undefined) badDeal.set(committee0[b.member]!, b.delta)
    const silenced = new Set<string>([...silentAt].filter(([, a]) => a === 'start').map(([p]) => p))
    const excluded = outlierParams === undefined ? [] : persistentOutliers(outlierHistory, outlierParams)
    const outliers = outlierParams === undefined ? {} : { outliers: { excluded } }
    const ignoring = new Set<string>()
    for (const x of cfg.faults?.ignoreExclusion ?? []) if (inRound(x.rounds) && committee0[x.member] !== undefined) ignoring.add(committee0[x.member]!)

    const machines = ids.map((peer, i) => new RoundMachine({
      params, round: r, seed: prev, prevModel: model, ruleState,
      candidates: ids.map(p => ({ peer: p, weight: 1 })), contributors: ids, startTime: start,
      signer: signers[i]!, verify, rng: childRng(String(cfg.seed), `peer/${i}/round/${r}`), ...(schedule === undefined ? {} : { schedule }),
      ...(outlierParams !== undefined && ignoring.has(peer) ? { outliers: { excluded: [] } } : outliers),
      faults: { skipClip: overNorm.has(i), corruptPartials: corrupt.has(peer) ? 12345 : undefined, badZeroDeal: badDeal.has(peer) ? { delta: badDeal.get(peer)!, retry: 0 } : undefined }
    }))
    const done = new Map<string, CompletedCheckpoint>()
    const failed = new Set<string>()
    const misbehaviour: RoundReport['misbehaviour'] = []
    let retries = 0
    const trainRequests: number[] = []

    const handle = (i: number, outs: RoundOutput[]): void => {
      const peer = ids[i]!
      for (const o of outs) {
        if (silenced.has(peer)) return
        switch (o.kind) {
          case 'send': bus.send(peer, o.to, o.family, o.bytes); break
          case 'publish':
            bus.publish(peer, o.topic, o.bytes)
            if (o.topic === TOPIC_RECEIPT && silentAt.get(peer) === 'receipt') silenced.add(peer)
            break
          case 'train': trainRequests.push(i); break
          case 'misbehaviour': misbehaviour.push({ reporter: peer, peer: o.peer, reason: o.reason, severity: o.severity }); break
          case 'retry': if (o.retry > retries) retries = o.retry; break
          case 'done': done.set(peer, o.checkpoint); break
          case 'failed': failed.add(peer); break
          case 'append': break
        }
      }
    }

    for (let i = 0; i < machines.length; i++) handle(i, machines[i]!.start())
    // Train every requester (sequentially: deterministic), then apply attacks with the honest updates in view.
    const updates = new Map<number, Float32Array>()
    for (const i of trainRequests) updates.set(i, await cfg.train(i, model, r))
    const byzRequests = trainRequests.filter(i => byz.has(i))
    const honest = [...updates].filter(([i]) => !byz.has(i) && !overNorm.has(i)).map(([, u]) => u)
    if (attack !== undefined && byzRequests.length > 0) {
      const crafted = attack(byzRequests.map(i => updates.get(i)!), honest, byzRequests.length, childRng(String(cfg.seed), `attack/${r}`))
      byzRequests.forEach((i, k) => updates.set(i, crafted[k]!))
    }
    for (const i of trainRequests) {
      let u = updates.get(i)!
      if (overNorm.has(i)) u = u.map(x => x * (cfg.faults?.overNorm?.factor ?? 10))
      handle(i, machines[i]!.step({ kind: 'trained', update: u }))
    }

    const live = (): boolean => ids.some((p, i) => !silenced.has(p) && !machines[i]!.isDone)
    let steps = 0
    while (live()) {
      if (++steps > maxSteps) throw new InvalidParametersError(`round ${r} exceeded ${maxSteps} steps`)
      const d = bus.next()
      if (d !== undefined) {
        if (silenced.has(d.to)) continue
        cfg.observe?.(r, d)
        const i = indexOf.get(d.to)!
        handle(i, machines[i]!.step({ kind: 'message', from: d.from, payload: d.payload }))
        continue
      }
      // Idle: jump the virtual clock to the next phase deadline and tick everyone.
      now = nextDeadline(params, start, now)
      for (let i = 0; i < machines.length; i++) if (!silenced.has(ids[i]!)) handle(i, machines[i]!.step({ kind: 'tick', now }))
    }
    // The round ends when every live machine is done (or failed).
    const memberDone = [...done.values()].find(c => c.model !== undefined)
    if (memberDone === undefined) throw new InvalidParametersError(`round ${r} failed: no checkpoint (${failed.size} machines gave up)`)
    const ck = memberDone
    // Every member that computed the checkpointed body got the same model, bit for bit.
    for (const c of done.values()) {
      if (!bytesEqual(c.bodyHash, ck.bodyHash)) throw new InvalidParametersError(`round ${r}: peers finished on different checkpoints`)
      if (c.model !== undefined && !bytesEqual(modelHash(c.model), ck.body.modelHash)) throw new InvalidParametersError(`round ${r}: a member's model differs from the checkpoint`)
    }
    const re = recomputeFromBlob(model, ck.groupSums!, { name: params.rule, params: params.ruleParams }, ruleState, { serverLr: params.serverLr, meanNormBound: probe.fixed.normBound })
    const recomputedEqual = bytesEqual(modelHash(re.model), ck.body.modelHash)
    model = ck.model!
    ruleState = ck.ruleState
    prev = ck.bodyHash
    if (outlierParams !== undefined) outlierHistory.push(checkpointEvidence(ck.body.groups.map(g => g.members), ck.body.projections))
    const report: RoundReport = {
      round: r,
      retries,
      committee: ck.body.committee,
      groups: ck.body.groups.map(g => g.members).filter(g => g.length > 0),
      far: ck.body.farGroups.map(j => ck.body.groups[j]!.members),
      refused: ck.body.refused,
      blamed: ck.body.blamed,
      bytesSent: new Map(bus.stats.sentBytes),
      directReceived: new Map(bus.stats.directReceived),
      misbehaviour,
      checkpoint: ck,
      model,
      recomputedEqual,
      virtualMs: now - start,
      excluded
    }
    if (cfg.evaluate !== undefined) report.accuracy = await cfg.evaluate(model)
    reports.push(report)
    cfg.onRound?.(report)
    // Drain whatever is still in flight for the finished round.
    while (bus.next() !== undefined) { /* late messages of a finished round */ }
    void toHex
  }
  return { peerIds: ids, reports, model, params }
}

/** The next phase boundary strictly after `now` (retries included). */
function nextDeadline(p: RoundParams, start: number, now: number): number {
  for (let k = 0; k <= p.maxRetries + 1; k++) {
    const d = phaseDeadlines(p, start, k)
    for (const t of [d.share, d.receipt, d.plan, d.partial, d.checkpoint]) if (t > now) return t
  }
  return now + 1
}
