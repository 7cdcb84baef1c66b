/**
 * Round benchmark on real libp2p over loopback (issue #4). JSON on stdout,
 * progress on stderr.
 *
 * Multi-process (default): the N peers of a measurement are spread over K
 * worker processes (bench/round-lib/worker.ts; K = --procs, default the number of
 * cores), and this process only coordinates: it writes the genesis, hands each
 * worker its peers, exchanges addresses, releases round 1 at a common instant,
 * and gathers every worker's timeline, bytes, CPU and memory. With K = 1 all
 * peers share one process and one JS thread (the former mode): the wall times
 * then measure the CPU of every peer on one thread. In a deployment every peer
 * has its own machine; K processes on this machine are closer to that, but
 * still N peers on 2 cores.
 *
 * 1. overhead: 10 peers, the MLP (101,770 parameters), a precomputed update
 *    (no local training), measured with --procs K and again with one process
 *    (--no-single skips the latter). Definitions (medians over the measured
 *    rounds; round 1, which sets up connections, is not measured):
 *      periodMs          ts(ledger checkpoint r) - ts(ledger checkpoint r-1)
 *      shareTransferMs   round start -> the last share reaches its member
 *      overheadMs        periodMs minus the idle wait for the share deadline
 *                        (everything but local training)
 *    Bytes per contributor off the committee as a multiple of the model's bytes:
 *    `payload` (what the round protocol wrote), `wire` (every byte its
 *    connections sent; libp2p.ts WireMeter). Goals: overhead <= 1.5 s; bytes <=
 *    (m + 1) x model bytes.
 * 2. scale: the softmax model (7,850 parameters), N = 10, 20, 40, 70, 100 peers
 *    until rounds stop completing. Goal: 100 peers, round <= 5 s (Biscotti,
 *    Shayan et al. 2021, reports ~38 s per round at 100 peers).
 *
 * Usage: npx tsx bench/round.ts [--procs K] [--no-single] [--rounds 5] [--peers 10]
 *          [--scale 10,20,40,70,100] [--share-ms 3000] [--scale-share-ms 3000]
 *          [--degree 0] [--scale-degree 8] [--quick] [--no-scale] [--no-overhead]
 *          [--limit-s S] [--out FILE]
 *   --degree K  each peer dials K random peers started before it (0 = all of
 *               them; --scale-degree for the scale runs); every peer knows every
 *               address (a stand-in for discovery), so round traffic dials on demand.
 * Environment: TESSERA_BENCH_DEBUG=1 (per-peer warnings, retries, what each peer received),
 *   TESSERA_BENCH_NODE_FLAGS='--cpu-prof --cpu-prof-dir=DIR' (profiles of the workers).
 *   TESSERA_BENCH_CPU_PROF=DIR (a CPU profile of the measured rounds only, per worker; sum it by area with
 *   `npx tsx bench/round-lib/cpu-buckets.ts --peers N --rounds R --cpu-ms C DIR`), TESSERA_BENCH_HEAP_PROF=DIR.
 *   --heartbeat-ms X  every peer's gossipsub heartbeat from round 1 on (A/B of the
 *               steady heartbeat; default: the node's own, libp2p.ts).
 *   --limit-s   time bound of one measurement's rounds (default 240 s overhead,
 *               120 + 2 N s scale); the workers are killed past it.
 *   --mesh-wait-s S  before round 1, wait at most S s (default 60 + 2 N) until every
 *               peer is connected to every other one (the mesh keeper of
 *               src/node/libp2p.ts opens them in the background); 0 = do not wait.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeCharter, type CharterInput } from '../src/ledger/charter.ts'
import { loadOrCreateIdentity } from '../src/node/identity.ts'
import { writeGenesis, GENESIS_FILE } from '../src/node/peer/peer.ts'
import { peerIdBytes } from '../src/reputation/peer-id.ts'
import { seededRng } from '../src/util/rng.ts'
import { measure, median, r1, r3 } from './round-lib/analysis.ts'
import type { FromWorker, PeerReport, ToWorker, WorkerReport } from './round-lib/worker.ts'

const args = process.argv.slice(2)
// Refuse what this script does not know: an unknown flag (even --help) used to run the whole sweep.
const KNOWN_VALUE = ['rounds', 'peers', 'share-ms', 'scale-share-ms', 'degree', 'scale-degree', 'scale', 'procs', 'limit-s', 'heartbeat-ms', 'mesh-wait-s', 'out']
const KNOWN_BOOL = ['quick', 'no-scale', 'no-overhead', 'no-single']
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]!.replace(/^\/\*\*\n/, '').replace(/^ \* ?/gm, '') + '\n')
  process.exit(0)
}
for (let i = 0; i < args.length; i++) {
  const a = args[i]!
  if (a === '--child') break // a worker's own argv (round-lib), not ours
  const name = a.startsWith('--') ? a.slice(2) : undefined
  if (name !== undefined && KNOWN_BOOL.includes(name)) continue
  if (name !== undefined && KNOWN_VALUE.includes(name) && i + 1 < args.length) { i++; continue }
  process.stderr.write(`bench/round: unknown or incomplete argument '${a}' (--help lists them)\n`)
  process.exit(2)
}
const flag = (name: string, def: number): number => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : def }
const list = (name: string, def: number[]): number[] => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1]!.split(',').map(Number) : def }
const opt = (name: string): string | undefined => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : undefined }
const QUICK = args.includes('--quick')
const ROUNDS = flag('rounds', 5)
const PEERS = flag('peers', QUICK ? 6 : 10)
const SHARE_MS = flag('share-ms', 3000)
const SCALE_SHARE_MS = flag('scale-share-ms', 3000)
const DEGREE = flag('degree', 0)
const SCALE_DEGREE = flag('scale-degree', 8)
const SCALE = list('scale', QUICK ? [10, 20] : [10, 20, 40, 70, 100])
const CORES = availableParallelism()
const PROCS = flag('procs', CORES)
const LIMIT_S = opt('limit-s')
const HEARTBEAT_MS = opt('heartbeat-ms')
const MESH_WAIT_S = opt('mesh-wait-s')
const DEBUG = process.env.TESSERA_BENCH_DEBUG === '1'
const log = (s: string): void => { process.stderr.write(`[bench round] ${s}\n`) }
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))
const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'round-lib', 'worker.ts')

function pick<T> (xs: T[], k: number, rng: ReturnType<typeof seededRng>): T[] {
  const a = [...xs]
  for (let i = a.length - 1; i > 0; i--) {
    const w = new Uint32Array(1)
    rng.fillU32(w)
    const j = w[0]! % (i + 1)
    const tmp = a[i]!; a[i] = a[j]!; a[j] = tmp
  }
  return a.slice(0, k)
}

/** One worker process and a typed view of its messages. */
class Worker {
  readonly proc: ChildProcess
  readonly indices: number[]
  private readonly waiting = new Map<string, Array<(m: FromWorker) => void>>()
  exited = false
  constructor (indices: number[], onMessage: (m: FromWorker) => void) {
    this.indices = indices
    // TESSERA_BENCH_NODE_FLAGS: extra node flags for the workers, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof' or '--trace-warnings'.
    const extra = (process.env.TESSERA_BENCH_NODE_FLAGS ?? '').split(' ').filter(f => f.length > 0)
    this.proc = spawn(process.execPath, ['--expose-gc', ...extra, '--import', 'tsx', WORKER], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.proc.on('message', (m: FromWorker) => {
      onMessage(m)
      const w = this.waiting.get(m.kind)?.shift()
      w?.(m)
    })
    this.proc.on('exit', () => { this.exited = true; for (const l of this.waiting.values()) for (const w of l) w({ kind: 'error', message: 'worker exited' }) })
  }

  send (m: ToWorker): void { if (!this.exited) this.proc.send(m) }

  /** Send `m` and wait for a reply of kind `reply` (or an error), at most `ms`. */
  async ask<K extends FromWorker['kind']> (m: ToWorker, reply: K, ms: number): Promise<Extract<FromWorker, { kind: K }>> {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`worker ${String(this.proc.pid)}: no '${reply}' within ${ms} ms`)) }, ms)
      const l = this.waiting.get(reply) ?? []
      l.push((x) => {
        clearTimeout(timer)
        if (x.kind === 'error') reject(new Error(`worker ${String(this.proc.pid)}: ${x.message}`))
        else resolve(x as Extract<FromWorker, { kind: K }>)
      })
      this.waiting.set(reply, l)
      this.send(m)
    })
  }

  async kill (): Promise<void> {
    if (this.exited) return
    // A worker exits by itself after 'stopped'; with --cpu-prof it writes its profile first,
    // which takes seconds for a long run: wait for that (bounded) before killing it.
    if ((process.env.TESSERA_BENCH_NODE_FLAGS ?? '').includes('prof')) {
      await new Promise(resolve => { const t = setTimeout(resolve, 30_000); this.proc.once('exit', () => { clearTimeout(t); resolve(undefined) }) })
      if (this.exited) return
    }
    this.proc.kill('SIGKILL')
    await new Promise(resolve => { if (this.exited) resolve(undefined); else this.proc.once('exit', resolve) })
  }
}

interface RunResult { ok: boolean, figures: Record<string, unknown> }

/**
 * One measurement: N peers over `procs` worker processes; rounds 1..rounds+1,
 * round 1 unmeasured. Every wait is time-bounded; the workers are killed at the end.
 */
async function run (n: number, arch: 'mlp' | 'softmax', shareMs: number, rounds: number, degree: number, procs: number, limitMs: number): Promise<RunResult> {
  const t0 = Date.now()
  const load0 = loadavg().map(r1)
  const root = await mkdtemp(join(tmpdir(), 'tessera-bench-round-'))
  const dirs = Array.from({ length: n }, (_, i) => join(root, `peer-${i}`))
  const ids = await Promise.all(dirs.map(async d => await loadOrCreateIdentity(d)))
  const input: CharterInput = {
    networkId: 'tessera-bench-round',
    model: { arch, inputShape: [28, 28, 1], classes: 10 },
    training: { epochs: 1, batchSize: 32, learningRate: 0.1 },
    dp: { clipNorm: 1, noiseMultiplier: 0, delta: 1e-5, epsilonBudget: 8 },
    committee: { m: 5, t: 2, g: 2 },
    aggregation: { rule: 'centered-clipping', params: { tau: 1 } },
    // Upper bounds: every phase after the share phase ends early once all its messages are in.
    deadlines: { share: shareMs, receipt: 4000, plan: 4000, partial: 6000, checkpoint: 6000 },
    admission: { mode: 'open', founders: ids.map(i => peerIdBytes(i.name)) }
  }
  const genesis = await writeGenesis(ids[0]!, makeCharter(input))
  for (const d of dirs) await writeFile(join(d, GENESIS_FILE), genesis)
  const k = Math.max(1, Math.min(procs, n))
  // Round-robin: committee members (drawn by reputation) fall on every worker alike.
  const parts = Array.from({ length: k }, (_, w) => Array.from({ length: n }, (_, i) => i).filter(i => i % k === w))
  const done = new Map<number, Set<number>>() // round -> peers done
  const workers = parts.map(ix => new Worker(ix, (m) => {
    if (m.kind === 'round') { let s = done.get(m.round); if (s === undefined) { s = new Set(); done.set(m.round, s) } s.add(m.peer) }
  }))
  const allDone = (r: number): boolean => (done.get(r)?.size ?? 0) >= n
  const waitRound = async (r: number, ms: number): Promise<boolean> => {
    const end = Date.now() + ms
    while (Date.now() < end) { if (allDone(r)) return true; if (workers.some(w => w.exited)) return false; await sleep(100) }
    return false
  }
  try {
    const setupLimit = 60_000 + 3000 * n
    const started = await Promise.all(workers.map(async (w) => await w.ask({ kind: 'init', root, indices: w.indices, debug: DEBUG, ...(HEARTBEAT_MS !== undefined ? { heartbeatMs: Number(HEARTBEAT_MS) } : {}) }, 'started', setupLimit)))
    const addresses: Record<number, string[]> = Object.assign({}, ...started.map(s => s.addresses))
    const rng = seededRng(`bench/round/${n}`)
    const targets: Record<number, number[]> = {}
    for (let i = 1; i < n; i++) {
      const earlier = Array.from({ length: i }, (_, j) => j)
      targets[i] = degree <= 0 || degree >= earlier.length ? earlier : pick(earlier, degree, rng)
    }
    await Promise.all(workers.map(async (w) => await w.ask({ kind: 'connect', addresses, targets }, 'connected', setupLimit)))
    const connectedMs = Date.now() - t0
    // Wait (bounded) for the mesh keeper to connect every pair: a deployment's peers run for
    // many rounds, so what a round costs is measured on standing connections; round 1 still
    // runs (unmeasured) with whatever is open by then.
    const meshWaitMs = MESH_WAIT_S !== undefined ? Number(MESH_WAIT_S) * 1000 : 60_000 + 2000 * n
    let mesh = { min: 0, median: 0, keeperDials: 0, keeperFailures: 0 }
    for (const end = Date.now() + meshWaitMs; ;) {
      const got = await Promise.all(workers.map(async (w) => await w.ask({ kind: 'mesh' }, 'mesh', 30_000)))
      const counts = got.flatMap(g => g.connected).sort((a, b) => a - b)
      mesh = { min: counts[0] ?? 0, median: median(counts), keeperDials: got.reduce((s, g) => s + g.keeperDials, 0), keeperFailures: got.reduce((s, g) => s + g.keeperFailures, 0) }
      if (mesh.min >= n - 1 || Date.now() >= end) break
      await sleep(1000)
    }
    const setupMs = Date.now() - t0
    log(`${n} peers in ${k} process(es) started and connected in ${setupMs} ms (dials of the set-up done at ${connectedMs} ms; connections per peer min ${mesh.min}, median ${mesh.median} of ${n - 1}; mesh keeper ${mesh.keeperDials} dials, ${mesh.keeperFailures} failed)`)
    // Let gossipsub meshes form (heartbeats) before round 1.
    await sleep(1500 + 20 * n)
    const startAt = Date.now() + 300
    for (const w of workers) w.send({ kind: 'go', startAt })
    const first = await waitRound(1, limitMs)
    await Promise.all(workers.map(async (w) => await w.ask({ kind: 'mark' }, 'marked', 30_000)))
    const w0 = Date.now()
    const ok = first && await waitRound(rounds + 1, limitMs)
    const wall = Date.now() - w0
    const reports: WorkerReport[] = (await Promise.allSettled(workers.map(async (w) => (await w.ask({ kind: 'collect', rounds: rounds + 1 }, 'report', 60_000)).report)))
      .flatMap(r => r.status === 'fulfilled' ? [r.value] : [])
    const peers: PeerReport[] = reports.flatMap(r => r.peers).sort((a, b) => a.index - b.index)
    const ledger = reports.find(r => r.ledger !== undefined)?.ledger
    const cpuMs = reports.reduce((s, r) => s + r.cpuMs, 0)
    const mem = (f: (r: WorkerReport) => number): number => reports.reduce((s, r) => s + f(r), 0)
    const figures: Record<string, unknown> = {
      peers: n, processes: k, cores: CORES, degree: degree <= 0 ? 'all' : degree,
      // 1, 5 and 15 min load averages before and after (the machine is shared: other jobs' CPU)
      loadavg: { start: load0, end: loadavg().map(r1) },
      completedPeers: allDone(rounds + 1) ? n : (done.get(rounds + 1)?.size ?? 0),
      roundsCompletedByAll: [...done].filter(([, s]) => s.size >= n).map(([r]) => r).sort((a, b) => a - b),
      setupMs,
      meshBeforeRound1: mesh,
      connectionsPerPeerMedian: median(peers.map(p => p.connections)),
      ...(ledger !== undefined ? measure(ledger, peers, arch, shareMs, rounds + 1) : { error: 'no report from the worker holding peer 0' }),
      memory: {
        // RSS growth of every worker from before its network to the end, per peer; code and
        // libp2p structures are shared by the peers of a worker, so fewer workers look cheaper.
        rssMiBPerPeer: r3(mem(r => r.memory.rssEnd - r.memory.rssBefore) / n / 2 ** 20),
        heapMiBPerPeer: r3(mem(r => r.memory.heapEnd - r.memory.heapBefore) / n / 2 ** 20),
        rssMiBAfterSetupPerPeer: r3(mem(r => r.memory.rssAfterSetup - r.memory.rssBefore) / n / 2 ** 20),
        rssMiBBeforeNetworkPerProcess: r1(mem(r => r.memory.rssBefore) / Math.max(1, reports.length) / 2 ** 20),
        rssMiBTotal: r1(mem(r => r.memory.rssEnd) / 2 ** 20)
      },
      cpu: {
        // Sum over the workers, from the end of round 1 to the end of the last round.
        msPerPeerPerRound: r1(cpuMs / n / rounds),
        utilisation: r3(cpuMs / wall),
        utilisationOfCores: r3(cpuMs / wall / CORES),
        eventLoopDelayP50Ms: r1(Math.max(...reports.map(r => r.eventLoopDelayMs.p50))),
        eventLoopDelayP99Ms: r1(Math.max(...reports.map(r => r.eventLoopDelayMs.p99))),
        eventLoopDelayMaxMs: r1(Math.max(...reports.map(r => r.eventLoopDelayMs.max))),
        perProcessMs: reports.map(r => r1(r.cpuMs)),
        // Main-thread GC pauses in the same window (wall time of each pause, so inflated when the
        // machine is busy; concurrent marking threads are in the CPU figure but not here).
        gcPauseMsPerPeerPerRound: r1(reports.reduce((s, r) => s + (r.gcMs?.minor ?? 0) + (r.gcMs?.major ?? 0) + (r.gcMs?.incremental ?? 0) + (r.gcMs?.other ?? 0), 0) / n / rounds),
        gcPauseMs: {
          minor: r1(reports.reduce((s, r) => s + (r.gcMs?.minor ?? 0), 0)),
          major: r1(reports.reduce((s, r) => s + (r.gcMs?.major ?? 0), 0)),
          incremental: r1(reports.reduce((s, r) => s + (r.gcMs?.incremental ?? 0), 0)),
          count: reports.reduce((s, r) => s + (r.gcMs?.count ?? 0), 0)
        }
      }
    }
    return { ok, figures }
  } catch (err) {
    return { ok: false, figures: { peers: n, processes: k, error: `${(err as Error).name}: ${(err as Error).message}`, roundsCompletedByAll: [...done].filter(([, s]) => s.size >= n).map(([r]) => r) } }
  } finally {
    await Promise.allSettled(workers.map(async (w) => await w.ask({ kind: 'stop' }, 'stopped', 30_000)))
    await sleep(200)
    await Promise.allSettled(workers.map(async (w) => await w.kill()))
    await rm(root, { recursive: true, force: true })
  }
}

const result: Record<string, unknown> = {
  bench: 'round', date: new Date().toISOString(), cores: CORES, procs: PROCS, argv: args,
  note: `loopback, real libp2p; the peers of a measurement spread over ${PROCS} worker process(es) on a ${CORES}-core machine (a deployment has one machine per peer); the machine was shared with other jobs unless stated otherwise`
}
const limit = (def: number): number => LIMIT_S !== undefined ? Number(LIMIT_S) * 1000 : def
if (!args.includes('--no-overhead')) {
  log(`overhead: ${PEERS} peers, MLP, ${ROUNDS} measured rounds, ${PROCS} process(es)`)
  const r = await run(PEERS, 'mlp', SHARE_MS, ROUNDS, DEGREE, PROCS, limit(240_000))
  result.overhead = { ...r.figures, goalOverheadMs: 1500, completed: r.ok }
  log(JSON.stringify(result.overhead))
  if (PROCS !== 1 && !args.includes('--no-single')) {
    log(`overhead: ${PEERS} peers, MLP, ${ROUNDS} measured rounds, one process (comparison)`)
    const s = await run(PEERS, 'mlp', SHARE_MS, ROUNDS, DEGREE, 1, limit(240_000))
    result.overheadSingleProcess = { ...s.figures, goalOverheadMs: 1500, completed: s.ok }
    log(JSON.stringify(result.overheadSingleProcess))
  }
}
if (!args.includes('--no-scale')) {
  const out: Array<Record<string, unknown>> = []
  for (const n of SCALE) {
    log(`scale: ${n} peers, softmax, ${PROCS} process(es)`)
    const r = await run(n, 'softmax', SCALE_SHARE_MS, ROUNDS, SCALE_DEGREE, PROCS, limit(120_000 + 2000 * n))
    out.push({ ...r.figures, completed: r.ok })
    log(JSON.stringify(out.at(-1)))
    if (!r.ok) break
  }
  const okRuns = out.filter(o => o.completed === true)
  result.scale = {
    goal: { peers: 100, periodMs: 5000 },
    largestCompleted: okRuns.length === 0 ? 0 : Math.max(...okRuns.map(o => o.peers as number)),
    biscottiReferenceMsAt100: 38_000,
    runs: out
  }
}
const outFile = opt('out') ?? join(dirname(fileURLToPath(import.meta.url)), 'results', 'round.json')
mkdirSync(dirname(outFile), { recursive: true })
writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n')
console.log(JSON.stringify(result, null, 2))
process.exit(0)
