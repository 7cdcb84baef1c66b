/**
 * Connection set-up cost of the Tessera libp2p node (libp2p.ts) at round-benchmark
 * sizes: N nodes over K worker processes on 127.0.0.1, then every node dials
 * `--fanout` nodes at once (round 1 of the round protocol: every contributor dials
 * the m committee members, which are the same few nodes for everyone), measuring
 * each dial's latency (TCP + Noise XX + Yamux + identify) and the CPU it costs.
 * No Peer, no ledger: the transport alone, to separate connection cost from
 * round work (docs/architecture/benchmarks-round.md "Scale").
 *
 * Usage: npx tsx bench/round-dial.ts [--nodes 40] [--procs 2] [--targets 5] [--out FILE]
 *   --targets T  every node dials the same T nodes (the committee), 0 = each node dials all earlier nodes
 */
import { spawn } from 'node:child_process'
import { availableParallelism, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { writeFileSync } from 'node:fs'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Libp2pTransport } from '../src/node/libp2p-transport.ts'

const args = process.argv.slice(2)
const flag = (name: string, def: number): number => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : def }
const NET = '0123456789abcdef'
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]! }
const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(p * s.length))]! }

type Msg = { kind: 'init', count: number } | { kind: 'dial', plan: Array<{ from: number, to: string[] }> } | { kind: 'stop' }

if (args.includes('--worker')) {
  const nodes: Libp2pTransport[] = []
  process.on('message', (m: Msg) => {
    void (async () => {
      if (m.kind === 'init') {
        for (let i = 0; i < m.count; i++) {
          const t = await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId: NET, listenWs: [], pubsubDiscovery: false, relayServer: false })
          await t.start()
          nodes.push(t)
        }
        process.send!({ kind: 'started', addresses: nodes.map(n => n.addresses()[0]) })
      } else if (m.kind === 'dial') {
        const cpu0 = process.cpuUsage()
        const lat: number[] = []
        let failed = 0
        const errors: Record<string, number> = {}
        await Promise.all(m.plan.map(async ({ from, to }) => {
          await Promise.all(to.map(async (a) => {
            const t0 = Date.now()
            try { await nodes[from]!.dial(a, { signal: AbortSignal.timeout(30_000) }); lat.push(Date.now() - t0) } catch (err) {
              failed++
              const e = err as Error & { cause?: Error, errors?: Error[] }
              // The cause, without the address (one key per kind of failure).
              const c = (e.cause ?? e) as Error & { errors?: Error[] }
              const k = `${e.name} <- ${c.name}: ${String(c.message).replace(/\/ip4\S*/g, '<addr>').slice(0, 120)}${c.errors?.[0] !== undefined ? ` <- ${c.errors[0].name}: ${String(c.errors[0].message).slice(0, 80)}` : ''}`
              errors[k] = (errors[k] ?? 0) + 1
            }
          }))
        }))
        const c = process.cpuUsage(cpu0)
        process.send!({ kind: 'dialled', lat, failed, errors, cpuMs: (c.user + c.system) / 1000 })
      } else {
        await Promise.allSettled(nodes.map(async n => await n.stop()))
        process.exit(0)
      }
    })()
  })
} else {
  const N = flag('nodes', 40)
  const K = flag('procs', availableParallelism())
  const T = flag('targets', 5)
  const load0 = loadavg()
  const workers = Array.from({ length: K }, (_, w) => ({ w, count: Math.floor(N / K) + (w < N % K ? 1 : 0), p: spawn(process.execPath, [...(process.env.TESSERA_BENCH_NODE_FLAGS ?? '').split(' ').filter(f => f.length > 0), '--import', 'tsx', fileURLToPath(import.meta.url), '--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }) }))
  const ask = async (p: typeof workers[number]['p'], m: Msg): Promise<any> => await new Promise((resolve) => { p.once('message', resolve); p.send(m) })
  const kill = setTimeout(() => { for (const w of workers) w.p.kill('SIGKILL'); process.exit(1) }, 300_000)
  const started = await Promise.all(workers.map(async w => await ask(w.p, { kind: 'init', count: w.count })))
  const addrs: string[] = started.flatMap((s: { addresses: string[] }) => s.addresses)
  // Global index g -> (worker, local index): worker w holds a contiguous block.
  const base = workers.map((_, w) => workers.slice(0, w).reduce((s, x) => s + x.count, 0))
  const t0 = Date.now()
  const res = await Promise.all(workers.map(async (w) => {
    const plan = Array.from({ length: w.count }, (_, i) => {
      const g = base[w.w]! + i
      const to = T > 0 ? Array.from({ length: T }, (_, j) => j).filter(j => j !== g).map(j => addrs[j]!) : addrs.slice(0, g)
      return { from: i, to }
    })
    return await ask(w.p, { kind: 'dial', plan })
  }))
  const wall = Date.now() - t0
  const lat = res.flatMap((r: { lat: number[] }) => r.lat)
  const out = {
    bench: 'round-dial', date: new Date().toISOString(), nodes: N, procs: K, targets: T === 0 ? 'all earlier' : T,
    dials: lat.length, failed: res.reduce((s: number, r: { failed: number }) => s + r.failed, 0),
    errors: res.reduce((acc: Record<string, number>, r: { errors: Record<string, number> }) => { for (const [k, v] of Object.entries(r.errors)) acc[k] = (acc[k] ?? 0) + v; return acc }, {}),
    latencyMs: { median: median(lat), p90: pct(lat, 0.9), max: Math.max(...lat) },
    wallMs: wall,
    cpuMsPerAttempt: Math.round(res.reduce((s: number, r: { cpuMs: number }) => s + r.cpuMs, 0) / Math.max(1, lat.length + res.reduce((s: number, r: { failed: number }) => s + r.failed, 0)) * 10) / 10,
    cpuMsPerDial: Math.round(res.reduce((s: number, r: { cpuMs: number }) => s + r.cpuMs, 0) / Math.max(1, lat.length) * 10) / 10,
    loadavg: { start: load0.map(x => Math.round(x * 10) / 10), end: loadavg().map(x => Math.round(x * 10) / 10) }
  }
  await Promise.all(workers.map(async w => { w.p.send({ kind: 'stop' }); await new Promise(resolve => w.p.once('exit', resolve)) }))
  clearTimeout(kill)
  const i = args.indexOf('--out')
  if (i >= 0) writeFileSync(args[i + 1]!, JSON.stringify(out, null, 2) + '\n')
  console.log(JSON.stringify(out))
  process.exit(0)
}
