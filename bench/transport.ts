/**
 * Request/response over real libp2p on loopback (TCP + Noise + Yamux, stream
 * RPC framing) for 1 KiB and 4 MiB requests (16-byte replies), against a
 * reference measured in the same run: the same exchange over a bare TCP socket
 * on loopback (4-byte length prefix, no encryption, no multiplexing). The ratio
 * is the price of Noise + Yamux + framing.
 *
 *   npx tsx bench/transport.ts [--runs 5] [--small 200] [--large 5]
 *
 * Each run: `small` sequential 1 KiB round trips (median latency) and `large`
 * sequential 4 MiB round trips (throughput, and CPU ms per MiB of this process,
 * which holds both ends). Reported: median over runs.
 * Prints one JSON object on stdout.
 */
import '../src/node/polyfills.ts'
import { createServer, connect, type Socket } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { parseFlags, numberFlag } from '../src/util/args.ts'
import { Libp2pTransport } from '../src/node/libp2p-transport.ts'

const { values } = parseFlags(process.argv.slice(2), { runs: { type: 'string' }, small: { type: 'string' }, large: { type: 'string' } })
const runs = Math.max(5, numberFlag(values, 'runs', 5))
const nSmall = Math.max(10, numberFlag(values, 'small', 200))
const nLarge = Math.max(2, numberFlag(values, 'large', 5))
const KiB = 1024
const MiB = 1024 * KiB
const small = new Uint8Array(KiB).fill(1)
const large = new Uint8Array(4 * MiB).fill(2)

function median (xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
const r3 = (x: number): number => Number(x.toFixed(3))

type Exchange = (payload: Uint8Array) => Promise<void>

async function measure (ex: Exchange): Promise<{ latencyMs: number, throughputMiBs: number, cpuMsPerMiB: number }> {
  for (let i = 0; i < 20; i++) await ex(small) // warm-up
  await ex(large)
  const lat: number[] = []
  const thr: number[] = []
  const cpu: number[] = []
  for (let r = 0; r < runs; r++) {
    const t: number[] = []
    for (let i = 0; i < nSmall; i++) {
      const t0 = performance.now(); await ex(small); t.push(performance.now() - t0)
    }
    lat.push(median(t))
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    for (let i = 0; i < nLarge; i++) await ex(large)
    const c = process.cpuUsage(c0)
    thr.push((nLarge * large.length / MiB) / ((performance.now() - t0) / 1000))
    // CPU of this process (both ends, GC included) per MiB sent: what carries over to a loaded machine.
    cpu.push((c.user + c.system) / 1000 / (nLarge * large.length / MiB))
  }
  return { latencyMs: r3(median(lat)), throughputMiBs: r3(median(thr)), cpuMsPerMiB: r3(median(cpu)) }
}

// --- libp2p ---
const netId = '0123456789abcdef'
const a = await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId, pubsubDiscovery: false, relayServer: false })
const b = await Libp2pTransport.create({ privateKey: await generateKeyPair('Ed25519'), netId, pubsubDiscovery: false, relayServer: false })
await a.start(); await b.start()
await b.handle('/bench/1.0.0', () => new Uint8Array(16), { maxRequestBytes: 8 * MiB })
await a.dial(b.addresses().find((x) => !x.includes('/ws'))!)
const libp2p = await measure(async (p) => { await a.send(b.self, '/bench/1.0.0', p, { maxRequestBytes: 8 * MiB, timeoutMs: 60_000 }) })
await a.stop(); await b.stop()

// --- reference: bare TCP, 4-byte big-endian length prefix, 16-byte reply ---
const server = createServer((s) => {
  // Sequential requests: count bytes, read the 4-byte length once, never copy the body.
  let head = Buffer.alloc(0)
  let need = -1
  let have = 0
  s.on('data', (d: Buffer) => {
    let off = 0
    while (off < d.length) {
      if (need < 0) {
        const take = Math.min(4 - head.length, d.length - off)
        head = Buffer.concat([head, d.subarray(off, off + take)])
        off += take
        if (head.length === 4) { need = head.readUInt32BE(0); have = 0; head = Buffer.alloc(0) }
      } else {
        const take = Math.min(need - have, d.length - off)
        have += take
        off += take
      }
      if (need >= 0 && have === need) { need = -1; s.write(Buffer.alloc(16)) }
    }
  })
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const sock: Socket = connect((server.address() as { port: number }).port, '127.0.0.1')
sock.setNoDelay(true)
await new Promise<void>((resolve) => sock.once('connect', () => { resolve() }))
let waiting: (() => void) | undefined
let got = 0
sock.on('data', (d) => { got += d.length; if (got >= 16) { got -= 16; const w = waiting; waiting = undefined; w?.() } })
const tcp = await measure(async (p) => {
  const head = Buffer.alloc(4); head.writeUInt32BE(p.length, 0)
  const done = new Promise<void>((resolve) => { waiting = resolve })
  sock.write(head); sock.write(p)
  await done
})
sock.destroy()
await new Promise<void>((resolve) => server.close(() => { resolve() }))

console.log(JSON.stringify({
  bench: 'transport',
  node: process.version,
  runs,
  roundTripsPerRun: { '1KiB': nSmall, '4MiB': nLarge },
  libp2p: { latency1KiBMs: libp2p.latencyMs, throughput4MiBMiBs: libp2p.throughputMiBs, cpuMsPerMiB4MiB: libp2p.cpuMsPerMiB },
  referenceBareTcp: { latency1KiBMs: tcp.latencyMs, throughput4MiBMiBs: tcp.throughputMiBs, cpuMsPerMiB4MiB: tcp.cpuMsPerMiB },
  ratios: {
    latency1KiB: r3(libp2p.latencyMs / tcp.latencyMs),
    throughput4MiB: r3(libp2p.throughputMiBs / tcp.throughputMiBs),
    cpuPerMiB4MiB: r3(libp2p.cpuMsPerMiB / tcp.cpuMsPerMiB)
  },
  note: 'loopback, one process for both ends; machine shared with other work while measured'
}, null, 2))
