/**
 * Round benchmark on real libp2p over loopback (issue #4). JSON on stdout,
 * progress on stderr.
 *
 * 1. overhead: 10 peers in one process (one libp2p node, ledger and model
 *    store each), the MLP (101,770 parameters), a precomputed update (no local
 *    training). Definitions (all medians over the measured rounds; round 1,
 *    which sets up connections, is not measured):
 *      periodMs          ts(ledger checkpoint r) - ts(ledger checkpoint r-1):
 *                        what one round costs end to end, start offset included
 *      shareTransferMs   round start -> the last share reaches its member (the
 *                        share phase with instant training: a transfer, not training)
 *      overheadMs        periodMs - (receipts sent - last share in), i.e. the period
 *                        minus the idle wait for the share deadline = everything but
 *                        local training (with the node's early receipts there is no
 *                        idle wait and the overhead is the whole period)
 *    Bytes per contributor that is not on the committee, as a multiple of the
 *    model's bytes (4 x parameters): `payload` = what the round protocol wrote
 *    (shares, gossip publications; the router's count), `wire` = every byte its
 *    TCP connections sent in the round (Noise, Yamux, gossipsub control and
 *    forwarding, ledger sync included; libp2p.ts WireMeter).
 *    Goals: overhead <= 1.5 s; bytes <= (m + 1) x model bytes.
 * 2. scale: the softmax model (7,850 parameters), N = 10, 20, 40, 70, 100 peers
 *    in ONE process until rounds stop completing; period median, per phase
 *    times, memory and CPU per peer. Goal: 100 peers, round <= 5 s (Biscotti,
 *    Shayan et al. 2021, reports ~38 s per round at 100 peers).
 *
 * Per-phase times come from every peer's inbound round messages (the Peer's
 * `observe` hook) and a 10 ms poll of every ledger; see
 * docs/architecture/benchmarks-round.md.
 *
 * Usage: npx tsx bench/round.ts [--rounds 5] [--peers 10] [--scale 10,20,40,70,100]
 *          [--share-ms 3000] [--scale-share-ms 3000] [--degree 0] [--scale-degree 8] [--quick] [--no-scale] [--no-overhead]
 *   --degree K  each new peer dials K random running peers (0 = all of them;
 *               --scale-degree for the scale runs); every peer knows every
 *               address (a stand-in for discovery), so round traffic dials on
 *               demand.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { multiaddr } from '@multiformats/multiaddr'
import { makeCharter, type CharterInput } from '../src/ledger/charter.ts'
import { loadOrCreateIdentity } from '../src/node/identity.ts'
import { peerIdFromPeerName } from '../src/node/peer-name.ts'
import { createPeer, writeGenesis, GENESIS_FILE, type Peer, type RoundEvent, type Trainer } from '../src/node/peer/peer.ts'
import type { InboundObservation } from '../src/node/peer/round-router.ts'
import { peerIdBytes } from '../src/reputation/peer-id.ts'
import { seededRng } from '../src/util/rng.ts'

const args = process.argv.slice(2)
const flag = (name: string, def: number): number => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : def }
const list = (name: string, def: number[]): number[] => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1]!.split(',').map(Number) : def }
const QUICK = args.includes('--quick')
const ROUNDS = flag('rounds', 5)
const PEERS = flag('peers', QUICK ? 6 : 10)
const SHARE_MS = flag('share-ms', 3000)
const SCALE_SHARE_MS = flag('scale-share-ms', 3000)
const DEGREE = flag('degree', 0)
const SCALE_DEGREE = flag('scale-degree', 8)
const SCALE = list('scale', QUICK ? [10, 20] : [10, 20, 40, 70, 100])
const log = (s: string): void => { process.stderr.write(`[bench round] ${s}\n`) }

const median = (xs: number[]): number => { const s = xs.filter(Number.isFinite).sort((a, b) => a - b); return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2 }
const max = (xs: number[]): number => xs.length === 0 ? NaN : Math.max(...xs)
const r1 = (x: number): number => Math.round(x * 10) / 10
const r3 = (x: number): number => Math.round(x * 1000) / 1000

/** The same small update every round: the benchmark measures the protocol, not learning. */
function fixedTrainer (): Trainer {
  let u: Float32Array | undefined
  return async (model) => {
    if (u === undefined || u.length !== model.length) {
      u = new Float32Array(model.length)
      for (let i = 0; i < u.length; i++) u[i] = Math.sin(i * 12.9898) * 0.01
    }
    return u
  }
}

interface Obs { t: number, type: string, from: string }

interface Net {
  peers: Peer[]
  root: string
  obs: Array<Map<number, Obs[]>>
  /** per peer, round -> time its ledger got checkpoint r, and its wire bytes sent then */
  ledgerAt: Array<Map<number, { t: number, wireSent: number }>>
  events: RoundEvent[][]
  stop: () => Promise<void>
}

async function startNet (n: number, arch: 'mlp' | 'softmax', shareMs: number, rounds: number, degree: number): Promise<Net> {
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
  let release!: (t: number) => void
  const gate = new Promise<number>(resolve => { release = resolve })
  const peers: Peer[] = []
  const obs: Net['obs'] = dirs.map(() => new Map())
  const ledgerAt: Net['ledgerAt'] = dirs.map(() => new Map())
  const events: RoundEvent[][] = dirs.map(() => [])
  const rng = seededRng(`bench/round/${n}`)
  const t0 = Date.now()
  // Peers start in batches of 8 (setup of 40 peers one by one took over 2 minutes on a busy
  // machine), then connect one after another as before.
  const startOne = async (i: number): Promise<Peer> => {
    const observe = (o: InboundObservation): void => {
      const m = obs[i]!
      let l = m.get(o.msg.r)
      if (l === undefined) { l = []; m.set(o.msg.r, l) }
      l.push({ t: Date.now(), type: `${o.msg.type}${(o.msg as unknown as { k: number }).k > 0 ? `@k${(o.msg as unknown as { k: number }).k}` : ''}`, from: o.from })
      if (process.env.TESSERA_BENCH_DEBUG === '1' && o.msg.type === 'ckpt' && i === 0) {
        const b = (o.msg as unknown as { k: number, body: Record<string, unknown> }).body
        log(`ckpt r${o.msg.r}k${(o.msg as unknown as { k: number }).k} from ${o.from.slice(0, 6)}: ${JSON.stringify({ groups: b.groups, blamed: b.blamed, refused: b.refused, far: b.farGroups }, (_k, v) => typeof v === 'string' ? v.slice(0, 6) : v)}`)
      }
    }
    const p = createPeer({ dataDir: dirs[i]!, maxRounds: rounds, startAt: async () => await gate, observe }, { trainer: fixedTrainer() })
    p.on('round', e => { events[i]!.push(e) })
    if (process.env.TESSERA_BENCH_DEBUG === '1') {
      p.on('warning', w => { log(`peer ${i} warning r${w.round}: ${w.message.slice(0, 300)}`) })
      p.on('retry', w => { log(`peer ${i} retry r${w.round}/${w.retry}: ${w.reason}`) })
      p.on('round', e => { log(`peer ${i} round ${e.round} done, ${e.ms} ms after its start`) })
    }
    await p.start()
    return p
  }
  const connect = async (p: Peer, running: Peer[]): Promise<void> => {
    // Discovery stand-in: every peer knows every running peer's address; connections are made here or on demand.
    for (const q of running) {
      await p.transport.node.peerStore.merge(peerIdFromPeerName(q.self), { multiaddrs: q.addresses().map(a => multiaddr(a).decapsulateCode(421)) })
      await q.transport.node.peerStore.merge(peerIdFromPeerName(p.self), { multiaddrs: p.addresses().map(a => multiaddr(a).decapsulateCode(421)) })
    }
    const targets = degree <= 0 || degree >= running.length ? running : pick(running, degree, rng)
    await Promise.allSettled(targets.map(async q => await p.transport.dial(q.addresses()[0]!)))
  }
  const BATCH = 8
  for (let i = 0; i < n; i += BATCH) {
    const batch = await Promise.all(Array.from({ length: Math.min(BATCH, n - i) }, async (_, j) => await startOne(i + j)))
    for (const p of batch) {
      await connect(p, peers)
      peers.push(p)
    }
  }
  log(`${n} peers started in ${Date.now() - t0} ms`)
  // Let gossipsub meshes form (heartbeats) before round 1.
  await sleep(1500 + 20 * n)
  if (process.env.TESSERA_BENCH_DEBUG === '1') {
    const ps = peers[0]!.transport.node.services.pubsub
    log(`peer 0 topics: ${ps.getTopics().map(t => `${t.split('/').slice(-2).join('/')}: subscribers ${ps.getSubscribers(t).length}, mesh ${(ps as unknown as { getMeshPeers: (t: string) => unknown[] }).getMeshPeers(t).length}`).join('; ')}`)
  }
  release(Date.now() + 300)
  const poll = setInterval(() => {
    const now = Date.now()
    peers.forEach((p, i) => {
      const r = p.isRunning ? p.ledger.state.lastRound : 0
      if (r > 0 && !ledgerAt[i]!.has(r)) ledgerAt[i]!.set(r, { t: now, wireSent: p.transport.wire.sent })
    })
  }, 10)
  return {
    peers, root, obs, ledgerAt, events,
    stop: async () => {
      clearInterval(poll)
      if (process.env.TESSERA_BENCH_DEBUG === '1') {
        // What each peer received per round and type (diagnosing rounds that needed a retry).
        for (let r = 1; r <= rounds; r++) {
          log(`round ${r} received: ` + peers.map((p, i) => {
            const c = new Map<string, number>()
            for (const o of obs[i]!.get(r) ?? []) c.set(o.type, (c.get(o.type) ?? 0) + 1)
            return `${i}{${[...c].map(([k, v]) => `${k}:${v}`).join(' ')}}`
          }).join(' '))
        }
      }
      await Promise.allSettled(peers.map(async p => await p.stop()))
      await rm(root, { recursive: true, force: true })
    }
  }
}

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

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/** Wait until every peer emitted its event for `round`, or `limitMs` passed. */
async function waitRounds (net: Net, round: number, limitMs: number): Promise<boolean> {
  const end = Date.now() + limitMs
  while (Date.now() < end) {
    if (net.events.every(e => e.some(x => x.round === round))) return true
    await sleep(100)
  }
  return false
}

/**
 * Per-round timeline, ms after the round's start (= ts of checkpoint r-1 + the
 * peer's start delay), each the latest over the peers concerned.
 */
async function timeline (net: Net, r: number, shareMs: number): Promise<Record<string, number> | undefined> {
  const p0 = net.peers[0]!
  const st = p0.ledger.state
  const ck = st.checkpoints[r]
  const prev = st.checkpoints[r - 1]
  if (ck === undefined || prev === undefined) return undefined
  const ts = async (cid: string): Promise<number> => (await p0.ledger.getByCid(cid))!.entry.ts!
  const tsPrev = await ts(prev.cid.toString())
  const tsThis = await ts(ck.cid.toString())
  const start = tsPrev + p0.options.startDelayMs
  const committee = new Set(ck.committee)
  const members = net.peers.map((p, i) => ({ p, i })).filter(x => committee.has(x.p.self))
  const at = (i: number, type: string): number[] => (net.obs[i]!.get(r) ?? []).filter(o => o.type === type).map(o => o.t - start)
  const lastAtMembers = (type: string): number => max(members.map(({ i }) => max(at(i, type))).filter(Number.isFinite))
  const q = Math.ceil((2 * ck.committee.length) / 3)
  // A member's machine is done at its quorum of checkpoint signatures: its own plus the (q-1)-th it received.
  const done = members.map(({ i }) => at(i, 'ckpt').sort((a, b) => a - b)[q - 2] ?? NaN).filter(Number.isFinite)
  const ledger = net.ledgerAt.map(m => m.get(r)?.t).filter((t): t is number => t !== undefined).map(t => t - start)
  return {
    retry: ck.retry,
    shareFirst: median(members.map(({ i }) => Math.min(...at(i, 'share')))),
    shareLast: lastAtMembers('share'),
    // Receipts go out at the share deadline, or earlier once every share and mask is in
    // (the node's earlyReceipt): the first receipt seen by any member is when they went out.
    receiptsSentAt: Math.min(...members.map(({ i }) => Math.min(...at(i, 'receipt')))),
    receiptsLast: lastAtMembers('receipt'),
    planLast: lastAtMembers('plan'),
    zcheckLast: lastAtMembers('zcheck'),
    partialLast: lastAtMembers('partial'),
    machineDoneFirst: Math.min(...done),
    machineDoneLast: max(done),
    ledgerCheckpointTs: tsThis - start,
    ledgerAllPeers: max(ledger),
    periodMs: tsThis - tsPrev
  }
}

async function measure (net: Net, arch: string, shareMs: number, rounds: number): Promise<Record<string, unknown>> {
  const p0 = net.peers[0]!
  const dim = p0.model?.model.length ?? NaN
  const modelBytes = dim * 4
  const m = p0.charter.committee.m
  const lines: Array<Record<string, number>> = []
  for (let r = 2; r <= rounds; r++) {
    const t = await timeline(net, r, shareMs)
    if (t !== undefined) lines.push(t)
  }
  const med = (k: string): number => r1(median(lines.map(l => l[k]!)))
  const keys = ['shareFirst', 'shareLast', 'receiptsSentAt', 'receiptsLast', 'planLast', 'zcheckLast', 'partialLast', 'machineDoneFirst', 'machineDoneLast', 'ledgerCheckpointTs', 'ledgerAllPeers', 'periodMs']
  const timelineMedian = Object.fromEntries(keys.map(k => [k, med(k)]))
  // Phase durations from the median timeline (each phase ends when its last message is in).
  const tm = timelineMedian
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
    nextStartOffset: p0.options.startDelayMs
  }
  const periods = lines.map(l => l.periodMs!)
  const transfer = lines.map(l => l.shareLast!)
  // Everything but local training: the period minus the time the round stood idle waiting for the
  // share deadline after the last share was in (none when receipts went out early).
  const overhead = lines.map(l => l.periodMs! - Math.max(0, Math.min(shareMs, l.receiptsSentAt!) - l.shareLast!))
  // Bytes per peer and round, by role.
  const payload = { contributor: [] as number[], member: [] as number[] }
  const wire = { contributor: [] as number[], member: [] as number[] }
  net.peers.forEach((p, i) => {
    for (const e of net.events[i]!) {
      if (e.round < 2 || e.round > rounds) continue
      const role = e.member ? 'member' : e.contributed ? 'contributor' : undefined
      if (role === undefined) continue
      payload[role].push(e.bytesSent)
      const a = net.ledgerAt[i]!.get(e.round - 1)
      const b = net.ledgerAt[i]!.get(e.round)
      if (a !== undefined && b !== undefined) wire[role].push(b.wireSent - a.wireSent)
    }
  })
  return {
    model: arch, parameters: dim, modelBytes, committee: m, shareMs, roundsMeasured: lines.length,
    retries: lines.map(l => l.retry),
    periodMsMedian: r1(median(periods)),
    shareTransferMsMedian: r1(median(transfer)),
    overheadMsMedian: r1(median(overhead)),
    overheadMs: overhead.map(r1),
    periodMs: periods,
    timelineMedianMs: timelineMedian,
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

interface RunResult { ok: boolean, figures: Record<string, unknown> }

async function run (n: number, arch: 'mlp' | 'softmax', shareMs: number, rounds: number, degree: number, limitMs: number): Promise<RunResult> {
  (globalThis as { gc?: () => void }).gc?.()
  const mem0 = process.memoryUsage()
  const t0 = Date.now()
  const net = await startNet(n, arch, shareMs, rounds + 1, degree)
  const lag = monitorEventLoopDelay({ resolution: 20 })
  try {
    const setupMs = Date.now() - t0
    const memUp = process.memoryUsage()
    const first = await waitRounds(net, 1, limitMs)
    const cpu0 = process.cpuUsage()
    const w0 = Date.now()
    lag.enable()
    const ok = first && await waitRounds(net, rounds + 1, limitMs)
    lag.disable()
    const cpu = process.cpuUsage(cpu0)
    const wall = Date.now() - w0
    const memEnd = process.memoryUsage()
    const done = net.events.filter(e => e.some(x => x.round === rounds + 1)).length
    const connections = median(net.peers.map(p => p.transport.node.getConnections().length))
    const figures: Record<string, unknown> = {
      peers: n, degree: degree <= 0 ? 'all' : degree, completedPeers: done, setupMs,
      connectionsPerPeerMedian: connections,
      ...(await measure(net, arch, shareMs, rounds + 1)),
      memory: {
        // RSS of the process minus its RSS before the network existed, per peer (the child runs one network).
        rssMiBPerPeer: r3((memEnd.rss - mem0.rss) / n / 2 ** 20),
        heapMiBPerPeer: r3((memEnd.heapUsed - mem0.heapUsed) / n / 2 ** 20),
        rssMiBAfterSetupPerPeer: r3((memUp.rss - mem0.rss) / n / 2 ** 20),
        rssMiBBeforeNetwork: r1(mem0.rss / 2 ** 20),
        rssMiBTotal: r1(memEnd.rss / 2 ** 20)
      },
      cpu: {
        // One process, 2 cores shared with others: CPU time per peer per round is the figure that scales.
        msPerPeerPerRound: r1((cpu.user + cpu.system) / 1000 / n / rounds),
        utilisation: r3((cpu.user + cpu.system) / 1000 / wall),
        eventLoopDelayP50Ms: r1(lag.percentile(50) / 1e6),
        eventLoopDelayP99Ms: r1(lag.percentile(99) / 1e6),
        eventLoopDelayMaxMs: r1(lag.max / 1e6)
      }
    }
    return { ok, figures }
  } finally {
    await net.stop()
  }
}

/**
 * Each measurement runs in a child process of its own: memory and CPU per peer
 * start from a clean process, and a network that hangs or crashes at some size
 * cannot take the rest of the sweep with it.
 */
function child (kind: 'overhead' | 'scale', n: number, limitMs: number): RunResult {
  const res = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', kind, String(n), ...args.filter(a => a !== '--child')], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: limitMs + 120_000, maxBuffer: 64 * 1024 * 1024
  })
  try {
    return JSON.parse(res.stdout) as RunResult
  } catch {
    return { ok: false, figures: { peers: n, error: `child exited ${String(res.status)}${res.signal !== null ? ` (${res.signal})` : ''} without figures` } }
  }
}

const ci = args.indexOf('--child')
if (ci >= 0) {
  // Child: one network, figures as JSON on stdout.
  const kind = args[ci + 1]
  const n = Number(args[ci + 2])
  const r = kind === 'overhead'
    ? await run(n, 'mlp', SHARE_MS, ROUNDS, DEGREE, 240_000)
    : await run(n, 'softmax', SCALE_SHARE_MS, ROUNDS, SCALE_DEGREE, 120_000 + 2000 * n)
  process.stdout.write(JSON.stringify(r))
  process.exit(0)
}

const result: Record<string, unknown> = {
  bench: 'round', date: new Date().toISOString(),
  note: 'loopback, real libp2p, all peers of a measurement in one process (one child process per measurement); the machine (2 cores) was shared with other jobs unless stated otherwise'
}
if (!args.includes('--no-overhead')) {
  log(`overhead: ${PEERS} peers, MLP, ${ROUNDS} measured rounds`)
  const r = child('overhead', PEERS, 240_000)
  result.overhead = { ...r.figures, goalOverheadMs: 1500, completed: r.ok }
  log(JSON.stringify(result.overhead))
}
if (!args.includes('--no-scale')) {
  const out: Array<Record<string, unknown>> = []
  for (const n of SCALE) {
    log(`scale: ${n} peers, softmax`)
    const r = child('scale', n, 120_000 + 2000 * n)
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
mkdirSync(join(dirname(fileURLToPath(import.meta.url)), 'results'), { recursive: true })
writeFileSync(join(dirname(fileURLToPath(import.meta.url)), 'results', 'round.json'), JSON.stringify(result, null, 2) + '\n')
console.log(JSON.stringify(result, null, 2))
process.exit(0)
