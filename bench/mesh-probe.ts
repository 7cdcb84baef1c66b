/**
 * Full-mesh set-up of the Tessera libp2p node (src/node/libp2p.ts) at round-benchmark sizes:
 * N transports in K worker processes on 127.0.0.1, every node dials every node started before
 * it (`--conc` dials in flight per process), then the connections are counted every 10 s for
 * `--watch-s` s (closes by direction), so connections that libp2p drops on its own show up
 * (docs/architecture/peer.md "Connections at scale": the connection monitor aborted them).
 * Transport only: no Peer, no ledger. JSON lines on stdout.
 *
 * Usage: npx tsx bench/mesh-probe.ts [--nodes 70] [--procs 2] [--conc 8] [--watch-s 30]
 *          [--extra '{"pingIntervalMs":10000}']   (TesseraLibp2pOptions for every node)
 * With DEBUG='libp2p:connection-monitor:error' libp2p prints each ping failure that aborted a connection.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Libp2pTransport } from '../src/node/libp2p-transport.ts'

const args = process.argv.slice(2)
const flag = (name: string, def: number): number => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : def }
const NET = '0123456789abcdef'
type Msg = { kind: 'init', count: number, extra: Record<string, unknown> } | { kind: 'dial', plan: Array<{ from: number, to: string[] }>, conc: number } | { kind: 'count' } | { kind: 'stop' }

if (args.includes('--worker')) {
  const nodes: Libp2pTransport[] = []
  let closes = 0
  const closeBy: Record<string, number> = {}
  process.on('message', (m: Msg) => {
    void (async () => {
      if (m.kind === 'init') {
        for (let i = 0; i < m.count; i++) {
          const t = await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId: NET, listenWs: [], pubsubDiscovery: false, relayServer: false, ...m.extra })
          await t.start()
          t.node.addEventListener('connection:close', (e) => { closes++; const c = e.detail as any; const k = `${c.direction}`; closeBy[k] = (closeBy[k] ?? 0) + 1 })
          nodes.push(t)
        }
        process.send!({ kind: 'started', addresses: nodes.map(n => n.addresses()[0]) })
      } else if (m.kind === 'dial') {
        const cpu0 = process.cpuUsage()
        const jobs = m.plan.flatMap(({ from, to }) => to.map(a => ({ from, a })))
        const errors: Record<string, number> = {}
        const lat: number[] = []
        const t0 = Date.now()
        const worker = async (): Promise<void> => {
          for (let j = jobs.shift(); j !== undefined; j = jobs.shift()) {
            const s = Date.now()
            try { await nodes[j.from]!.dial(j.a, { signal: AbortSignal.timeout(30_000) }); lat.push(Date.now() - s) } catch (err) {
              const e = err as Error & { cause?: Error }
              const c = e.cause ?? e
              const k = `${c.name}: ${String(c.message).replace(/\/ip4\S*/g, '<addr>').slice(0, 100)}`
              errors[k] = (errors[k] ?? 0) + 1
            }
          }
        }
        await Promise.all(Array.from({ length: m.conc }, worker))
        const c = process.cpuUsage(cpu0)
        lat.sort((a, b) => a - b)
        process.send!({ kind: 'dialled', ok: lat.length, errors, ms: Date.now() - t0, cpuMs: (c.user + c.system) / 1000, p50: lat[lat.length >> 1], max: lat.at(-1) })
      } else if (m.kind === 'count') {
        process.send!({ kind: 'counted', conns: nodes.map(n => n.node.getConnections().length), peers: nodes.map(n => n.peers().length), closes, closeBy })
      } else {
        await Promise.allSettled(nodes.map(async n => await n.stop()))
        process.exit(0)
      }
    })()
  })
} else {
  const N = flag('nodes', 70)
  const K = flag('procs', 2)
  const C = flag('conc', 8)
  const WATCH = flag('watch-s', 30)
  const extra = (args.includes('--extra') ? JSON.parse(args[args.indexOf('--extra') + 1]!) : {}) as Record<string, unknown>
  const workers = Array.from({ length: K }, (_, w) => ({ w, count: Math.floor(N / K) + (w < N % K ? 1 : 0), p: spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }) }))
  const ask = async (p: typeof workers[number]['p'], m: Msg): Promise<any> => await new Promise((resolve) => { p.once('message', resolve); p.send(m) })
  const kill = setTimeout(() => { for (const w of workers) w.p.kill('SIGKILL'); process.exit(1) }, 600_000)
  const started = await Promise.all(workers.map(async w => await ask(w.p, { kind: 'init', count: w.count, extra })))
  const addrs: string[] = started.flatMap((s: { addresses: string[] }) => s.addresses)
  const base = workers.map((_, w) => workers.slice(0, w).reduce((s, x) => s + x.count, 0))
  const t0 = Date.now()
  const res = await Promise.all(workers.map(async (w) => await ask(w.p, { kind: 'dial', conc: C, plan: Array.from({ length: w.count }, (_, i) => ({ from: i, to: addrs.slice(0, base[w.w]! + i) })) })))
  console.log(JSON.stringify({ dialWallMs: Date.now() - t0, res }))
  for (let s = 0; s <= WATCH; s += 10) {
    const c = await Promise.all(workers.map(async w => await ask(w.p, { kind: 'count' })))
    const conns = c.flatMap((x: any) => x.conns).sort((a: number, b: number) => a - b)
    console.log(JSON.stringify({ t: Date.now() - t0, connsMin: conns[0], connsMedian: conns[conns.length >> 1], connsMax: conns.at(-1), closes: c.map((x: any) => x.closes), closeBy: c.map((x: any) => x.closeBy) }))
    if (s < WATCH) await new Promise(resolve => setTimeout(resolve, 10_000))
  }
  await Promise.all(workers.map(async w => { w.p.send({ kind: 'stop' }); await new Promise(resolve => w.p.once('exit', resolve)) }))
  clearTimeout(kill)
  process.exit(0)
}
