/**
 * One worker process of the round benchmark (bench/round.ts): runs a subset of
 * the peers of one measurement, talks to the coordinating parent over the IPC
 * channel, and hands back per-peer observations (inbound round messages with
 * their arrival times, when each ledger got each checkpoint, round events), the
 * CPU, memory and event-loop figures of this process, and, if it holds peer 0,
 * the ledger view the timeline is built from. See
 * docs/architecture/benchmarks-round.md "Multi-process mode".
 *
 * Protocol (parent -> worker / worker -> parent), JSON over process.send:
 *   init {root, indices, debug}          -> started {addresses}            peers up, listening
 *   connect {addresses, targets}         -> connected                      peer store filled, dials done
 *   go {startAt}                         -> round {peer, round} ...        round 1 starts at startAt
 *   mesh                                 -> mesh {connected}               peers each peer is connected to
 *   mark                                 -> marked                         CPU / event-loop window opens
 *   collect {rounds}                     -> report {...}                   figures since mark
 *   stop                                 -> stopped, then exit
 * Run only by bench/round.ts (`node --import tsx bench/round-lib/worker.ts`).
 */
import { monitorEventLoopDelay, PerformanceObserver, constants as perfConstants } from 'node:perf_hooks'
import { join } from 'node:path'
import { Session } from 'node:inspector/promises'
import { writeFile } from 'node:fs/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { createPeer, type Peer, type PeerOptions, type Trainer } from '../../src/node/peer/peer.ts'

/**
 * Peer options from the environment, for A/B runs (issue #4): TESSERA_CONTRIBUTION_GOSSIP=1 (contributions
 * on the round topic as before), TESSERA_SHARE_MS_PER_PEER, TESSERA_START_MS_PER_PEER (ms per contributor).
 */
function peerKnobs (): Partial<PeerOptions> {
  const o: Partial<PeerOptions> = {}
  const env = process.env
  if (env.TESSERA_CONTRIBUTION_GOSSIP === '1') o.contributionGossip = true
  const num = (v: string | undefined): number | undefined => v === undefined || v === '' || !Number.isFinite(Number(v)) ? undefined : Number(v)
  const share = num(env.TESSERA_SHARE_MS_PER_PEER)
  if (share !== undefined) o.shareMsPerPeer = share
  const start = num(env.TESSERA_START_MS_PER_PEER)
  if (start !== undefined) o.startMsPerPeer = start
  return o
}
import type { InboundObservation } from '../../src/node/peer/round-router.ts'
import { peerIdFromString } from '@libp2p/peer-id'

export interface Obs { t: number, type: string, from: string }

/** What a worker reports for one of its peers. */
export interface PeerReport {
  index: number
  self: string
  /** round -> inbound round messages (arrival time ms since the epoch, type, sender) */
  obs: Record<number, Obs[]>
  /** round -> when this peer's ledger got checkpoint r (10 ms poll) and its wire bytes sent then */
  ledgerAt: Record<number, { t: number, wireSent: number }>
  events: Array<{ round: number, member: boolean, contributed: boolean, bytesSent: number }>
  connections: number
}

/** Peer 0's ledger, enough to place every round on a clock (the timeline of bench/round.ts). */
export interface LedgerView {
  startDelayMs: number
  parameters: number
  committeeM: number
  /** round -> checkpoint ts, committee (peer names), retry */
  checkpoints: Record<number, { ts: number, committee: string[], retry: number }>
}

export interface WorkerReport {
  peers: PeerReport[]
  ledger?: LedgerView
  /** CPU time of this process since `mark` (ms) */
  cpuMs: number
  /** main-thread GC pauses since `mark` (ms, wall time of each pause: perf_hooks 'gc' entries), by kind */
  gcMs: { minor: number, major: number, incremental: number, other: number, count: number }
  eventLoopDelayMs: { p50: number, p99: number, max: number }
  memory: { rssBefore: number, rssAfterSetup: number, rssEnd: number, heapBefore: number, heapEnd: number }
}

export type ToWorker =
  | { kind: 'init', root: string, indices: number[], debug: boolean, heartbeatMs?: number }
  | { kind: 'connect', addresses: Record<number, string[]>, targets: Record<number, number[]> }
  | { kind: 'go', startAt: number }
  | { kind: 'mesh' }
  | { kind: 'mark' }
  | { kind: 'collect', rounds: number }
  | { kind: 'stop' }

export type FromWorker =
  | { kind: 'started', addresses: Record<number, string[]> }
  | { kind: 'connected' }
  | { kind: 'round', peer: number, round: number }
  | { kind: 'mesh', connected: number[], keeperDials: number, keeperFailures: number }
  | { kind: 'marked' }
  | { kind: 'report', report: WorkerReport }
  | { kind: 'stopped' }
  | { kind: 'error', message: string }

/** The same small update every round: the benchmark measures the protocol, not learning. */
export function fixedTrainer (): Trainer {
  let u: Float32Array | undefined
  return async (model) => {
    if (u === undefined || u.length !== model.length) {
      u = new Float32Array(model.length)
      for (let i = 0; i < u.length; i++) u[i] = Math.sin(i * 12.9898) * 0.01
    }
    return u
  }
}

const send = (m: FromWorker): void => { process.send?.(m) }
const log = (s: string): void => { process.stderr.write(`[bench round worker ${process.pid}] ${s}\n`) }

async function main (): Promise<void> {
  if (process.send === undefined) throw new Error('round-worker runs under bench/round.ts (needs an IPC channel)')
  ;(globalThis as { gc?: () => void }).gc?.()
  const mem0 = process.memoryUsage()
  let memUp = mem0
  const peers = new Map<number, Peer>()
  const obs = new Map<number, Map<number, Obs[]>>()
  const ledgerAt = new Map<number, Map<number, { t: number, wireSent: number }>>()
  const events = new Map<number, PeerReport['events']>()
  let debug = false
  let heartbeatMs: number | undefined
  // --heartbeat-ms (A/B of the steady gossipsub heartbeat): set on every peer's gossipsub at the
  // start of round 1 and again after it (after libp2p.ts switched to its steady heartbeat).
  const overrideHeartbeat = (): void => {
    if (heartbeatMs === undefined) return
    for (const p of peers.values()) (p.transport.node.services.pubsub as unknown as { opts: { heartbeatInterval: number } }).opts.heartbeatInterval = heartbeatMs
  }
  let startAt: ((t: number) => void) | undefined
  const gate = new Promise<number>(resolve => { startAt = resolve })
  let poll: ReturnType<typeof setInterval> | undefined
  const lag = monitorEventLoopDelay({ resolution: 20 })
  let cpu0 = process.cpuUsage()
  // GC pauses (the 10-peer MLP round spent a large part of its CPU in mark-compacts: issue #4).
  const gc = { minor: 0, major: 0, incremental: 0, other: 0, count: 0 }
  let gcOn = false
  // TESSERA_BENCH_HEAP_PROF=DIR: a sampling allocation profile of the measured rounds, garbage
  // included (what the GC figures above come from), written to DIR/<pid>.heapprofile (Chrome
  // DevTools format). Sampling every 32 KiB allocated.
  const heapDir = process.env.TESSERA_BENCH_HEAP_PROF
  const heap = heapDir !== undefined && heapDir.length > 0 ? new Session() : undefined
  // TESSERA_BENCH_CPU_PROF=DIR: a V8 CPU profile of the measured rounds only (mark -> collect, so
  // set-up and round 1 are left out, unlike node's --cpu-prof), written to DIR/<pid>.cpuprofile;
  // bench/round-lib/cpu-buckets.ts sums its self time by package / area. Sampling every 1 ms.
  const cpuDir = process.env.TESSERA_BENCH_CPU_PROF
  const prof = cpuDir !== undefined && cpuDir.length > 0 ? new Session() : undefined
  const gcObs = new PerformanceObserver((list) => {
    if (!gcOn) return
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind
      gc.count++
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) gc.minor += e.duration
      else if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) gc.major += e.duration
      else if (kind === perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL) gc.incremental += e.duration
      else gc.other += e.duration
    }
  })
  gcObs.observe({ entryTypes: ['gc'] })

  const startOne = async (root: string, i: number): Promise<void> => {
    obs.set(i, new Map()); ledgerAt.set(i, new Map()); events.set(i, [])
    const observe = (o: InboundObservation): void => {
      const m = obs.get(i)!
      let l = m.get(o.msg.r)
      if (l === undefined) { l = []; m.set(o.msg.r, l) }
      const k = (o.msg as unknown as { k: number }).k
      l.push({ t: Date.now(), type: `${o.msg.type}${k > 0 ? `@k${k}` : ''}`, from: o.from })
    }
    const p = createPeer({ dataDir: join(root, `peer-${i}`), startAt: async () => await gate, observe, ...peerKnobs() }, { trainer: fixedTrainer() })
    p.on('round', e => {
      events.get(i)!.push({ round: e.round, member: e.member, contributed: e.contributed, bytesSent: e.bytesSent })
      send({ kind: 'round', peer: i, round: e.round })
      if (debug) log(`peer ${i} round ${e.round} done, ${e.ms} ms after its start`)
    })
    if (debug) {
      p.on('warning', w => { log(`peer ${i} warning r${w.round}: ${w.message.slice(0, 300)}`) })
      p.on('retry', w => { log(`peer ${i} retry r${w.round}/${w.retry}: ${w.reason}`) })
      p.on('misbehaviour', w => { log(`peer ${i} misbehaviour (${w.source}) by ${w.peer.slice(0, 8)}: ${w.reason.slice(0, 120)}`) })
      p.on('banned', w => { log(`peer ${i} banned ${w.peer.slice(0, 8)} (score ${w.score})`) })
    }
    await p.start()
    peers.set(i, p)
  }

  const handle = async (m: ToWorker): Promise<void> => {
    switch (m.kind) {
      case 'init': {
        debug = m.debug
        heartbeatMs = m.heartbeatMs
        // Batches of 8 (setup of 40 peers one by one took minutes on a busy machine).
        for (let j = 0; j < m.indices.length; j += 8) {
          await Promise.all(m.indices.slice(j, j + 8).map(async i => { await startOne(m.root, i) }))
        }
        memUp = process.memoryUsage()
        send({ kind: 'started', addresses: Object.fromEntries([...peers].map(([i, p]) => [i, p.addresses()])) })
        return
      }
      case 'connect': {
        // Discovery stand-in: every peer knows every other peer's address; connections are made
        // here (the targets the parent drew) or on demand by round traffic.
        const all = Object.entries(m.addresses).map(([i, a]) => ({ i: Number(i), a }))
        for (const [i, p] of peers) {
          for (const q of all) {
            if (q.i === i || q.a.length === 0) continue
            const id = multiaddr(q.a[0]!).getComponents().find(c => c.name === 'p2p')?.value
            if (id === undefined) continue
            await p.transport.node.peerStore.merge(peerIdFromString(id), { multiaddrs: q.a.map(a => multiaddr(a).decapsulateCode(421)) })
          }
          // At most 4 dials of one peer at a time, each failure tried once more: 39 handshakes at
          // once on a loaded machine all finished late and many hit the 6 s address dial timeout.
          const queue = [...(m.targets[i] ?? [])]
          const failed: number[] = []
          const dialer = async (): Promise<void> => {
            for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
              try { await p.transport.dial(m.addresses[t]![0]!) } catch { failed.push(t) }
            }
          }
          await Promise.all(Array.from({ length: 4 }, dialer))
          for (const t of failed) await p.transport.dial(m.addresses[t]![0]!).catch(() => undefined)
        }
        send({ kind: 'connected' })
        return
      }
      case 'go': {
        startAt!(m.startAt)
        overrideHeartbeat()
        poll = setInterval(() => {
          const now = Date.now()
          for (const [i, p] of peers) {
            const r = p.isRunning ? p.ledger.state.lastRound : 0
            if (r > 0 && !ledgerAt.get(i)!.has(r)) ledgerAt.get(i)!.set(r, { t: now, wireSent: p.transport.wire.sent })
          }
        }, 10)
        return
      }
      case 'mesh': {
        // The mesh keeper (src/node/libp2p.ts) opens the rest of the connections in the background.
        const ps = [...peers.values()]
        send({
          kind: 'mesh',
          connected: ps.map(p => p.transport.peers().length),
          keeperDials: ps.reduce((s, p) => s + (p.transport.node.services.meshKeeper?.stats.dials ?? 0), 0),
          keeperFailures: ps.reduce((s, p) => s + (p.transport.node.services.meshKeeper?.stats.failures ?? 0), 0)
        })
        return
      }
      case 'mark': {
        overrideHeartbeat()
        cpu0 = process.cpuUsage()
        lag.enable()
        gcOn = true
        gc.minor = gc.major = gc.incremental = gc.other = gc.count = 0
        if (heap !== undefined) {
          heap.connect()
          await heap.post('HeapProfiler.startSampling', { samplingInterval: 32768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as object)
        }
        if (prof !== undefined) {
          prof.connect()
          await prof.post('Profiler.enable')
          await prof.post('Profiler.setSamplingInterval', { interval: 1000 })
          await prof.post('Profiler.start')
        }
        send({ kind: 'marked' })
        return
      }
      case 'collect': {
        lag.disable()
        gcOn = false
        const cpu = process.cpuUsage(cpu0)
        if (heap !== undefined) {
          const { profile } = await heap.post('HeapProfiler.stopSampling')
          await writeFile(join(heapDir!, `${process.pid}.heapprofile`), JSON.stringify(profile))
          heap.disconnect()
        }
        if (prof !== undefined) {
          const { profile } = await prof.post('Profiler.stop')
          await writeFile(join(cpuDir!, `${process.pid}.cpuprofile`), JSON.stringify(profile))
          prof.disconnect()
        }
        const memEnd = process.memoryUsage()
        const report: WorkerReport = {
          peers: [...peers].map(([i, p]) => ({
            index: i,
            self: p.self,
            obs: Object.fromEntries(obs.get(i)!),
            ledgerAt: Object.fromEntries(ledgerAt.get(i)!),
            events: events.get(i)!,
            connections: p.transport.node.getConnections().length
          })),
          cpuMs: (cpu.user + cpu.system) / 1000,
          gcMs: { ...gc },
          eventLoopDelayMs: { p50: lag.percentile(50) / 1e6, p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 },
          memory: { rssBefore: mem0.rss, rssAfterSetup: memUp.rss, rssEnd: memEnd.rss, heapBefore: mem0.heapUsed, heapEnd: memEnd.heapUsed }
        }
        const p0 = peers.get(0)
        if (p0 !== undefined) report.ledger = await ledgerView(p0, m.rounds)
        send({ kind: 'report', report })
        return
      }
      case 'stop': {
        if (poll !== undefined) clearInterval(poll)
        if (debug) {
          for (const [i] of peers) {
            const per = [...obs.get(i)!].map(([r, l]) => {
              const c = new Map<string, number>()
              for (const o of l) c.set(o.type, (c.get(o.type) ?? 0) + 1)
              return `r${r}{${[...c].map(([k, v]) => `${k}:${v}`).join(' ')}}`
            })
            log(`peer ${i} received: ${per.join(' ')}`)
          }
        }
        gcObs.disconnect()
        await Promise.allSettled([...peers.values()].map(async p => await p.stop()))
        send({ kind: 'stopped' })
        setTimeout(() => process.exit(0), 50)
      }
    }
  }
  process.on('message', (m: ToWorker) => {
    handle(m).catch((err: unknown) => { send({ kind: 'error', message: `${(err as Error).name}: ${(err as Error).message}` }) })
  })
  // The parent died: do not linger.
  process.on('disconnect', () => { process.exit(1) })
}

async function ledgerView (p0: Peer, rounds: number): Promise<LedgerView> {
  const st = p0.ledger.state
  const checkpoints: LedgerView['checkpoints'] = {}
  for (let r = 0; r <= rounds; r++) {
    const ck = st.checkpoints[r]
    if (ck === undefined) continue
    const e = await p0.ledger.getByCid(ck.cid.toString())
    if (e === undefined) continue
    checkpoints[r] = { ts: e.entry.ts!, committee: [...ck.committee], retry: ck.retry }
  }
  return { startDelayMs: p0.options.startDelayMs, parameters: p0.model?.model.length ?? NaN, committeeM: p0.charter.committee.m, checkpoints }
}

await main()
