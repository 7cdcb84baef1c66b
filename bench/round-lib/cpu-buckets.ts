/**
 * Self time of V8 CPU profiles (the workers' TESSERA_BENCH_CPU_PROF output, bench/round-lib/worker.ts)
 * summed by package / area, as ms per peer-round (issue #4: which costs grow with the network size).
 *
 * Usage: npx tsx bench/round-lib/cpu-buckets.ts --peers N --rounds R [--cpu-ms C] [--top 25] DIR_OR_FILE...
 * Prints JSON: { buckets: {name: ms per peer-round}, top: [[function @ file, ms per peer-round]] }.
 * A function's self time goes to the first rule of BUCKETS its script URL (or V8's pseudo-frame
 * name: garbage collector, program, idle) matches.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

interface Node { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface Profile { nodes: Node[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

/** [bucket, test on the URL or pseudo-frame name] in order; the first match wins. */
const BUCKETS: Array<[string, RegExp]> = [
  ['GC', /^\(garbage collector\)$/],
  ['idle', /^\(idle\)$/],
  ['program (V8/native, unattributed)', /^\(program\)$/],
  ['gossipsub', /@libp2p\/gossipsub|@chainsafe\/libp2p-gossipsub/],
  ['noise / chacha / x25519', /libp2p-noise|@chainsafe\/as-chacha20poly1305|@noble\/ciphers|src\/node\/noise-crypto/],
  ['yamux', /libp2p-yamux/],
  ['protobuf', /protons-runtime|protobufjs|uint8-varint/],
  ['ed25519 / sha / curves', /@noble\/(ed25519|hashes|curves)|@libp2p\/crypto/],
  ['multiformats / cbor', /multiformats|@ipld\/dag-cbor|cborg/],
  ['level / leveldb', /classic-level|abstract-level|\/level\/|level-transcoder|module-error/],
  ['uint8arraylist / streams (it-*)', /uint8arraylist|\/it-[a-z-]+\/|it-length-prefixed|p-queue|p-defer|race-signal|abortable/],
  ['libp2p identify', /@libp2p\/identify/],
  ['libp2p peer store / datastore', /@libp2p\/peer-store|datastore|@libp2p\/peer-record|interface-store/],
  ['libp2p tcp / sockets', /@libp2p\/tcp/],
  ['libp2p core (connection manager, registrar, upgrader)', /\/libp2p\/dist|@libp2p\/utils|@libp2p\/peer-collections|@libp2p\/peer-id|@multiformats\/multiaddr|@libp2p\/interface|@libp2p\/logger|main-event-bus|weald|debug\//],
  ['round machine (src/gossip-fl)', /src\/gossip-fl\//],
  ['ledger (src/ledger)', /src\/ledger\//],
  ['peer (src/node/peer)', /src\/node\/peer\//],
  ['node sync (src/node/sync)', /src\/node\/sync\//],
  ['socket writes (src/node/libp2p.ts metered)', /src\/node\/libp2p\.ts/],
  ['node transport (src/node, other)', /src\/node\//],
  ['tessera core (src, other)', /\/src\//],
  ['node: internals (streams, net, timers)', /^node:|^internal\//],
  ['tsx / loader', /tsx\/dist|esbuild/],
  ['other node_modules', /node_modules/],
  ['other', /.*/]
]

function match (key: string): string {
  for (const [b, re] of BUCKETS) if (re.test(key)) return b
  return 'other'
}

/** V8's pseudo-frames: their time is their own, never a caller's. */
const PSEUDO = new Set(['(garbage collector)', '(idle)', '(program)', '(root)'])

/**
 * The bucket of a sampled frame. Native builtins (no URL: writev, hash update, microtask runs),
 * WebAssembly (chacha20-poly1305) and node's own modules are charged to their nearest caller in a
 * package or in src/, so socket writes land on the protocol that wrote; what has no such caller
 * (socket reads from the event loop) stays in its own bucket.
 */
function bucketOf (n: Node, parent: Map<number, Node>): string {
  const own = n.callFrame.url === '' ? n.callFrame.functionName : n.callFrame.url
  if (PSEUDO.has(own)) return match(own)
  for (let a: Node | undefined = n; a !== undefined; a = parent.get(a.id)) {
    const u = a.callFrame.url
    if (u === '' || u.startsWith('node:') || u.startsWith('internal/') || u.startsWith('wasm://')) continue
    return match(u)
  }
  return n.callFrame.url === '' ? 'native, no JS caller' : match(own)
}

const args = process.argv.slice(2)
const val = (name: string, def: number): number => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : def }
const peers = val('peers', NaN)
const rounds = val('rounds', NaN)
const topN = val('top', 25)
// --cpu-ms X: the process CPU (bench figure cpu.msPerPeerPerRound) to scale the busy samples to; a
// sampled interval on a loaded machine includes time the process waited for a core.
const cpuMs = val('cpu-ms', NaN)
if (!(peers > 0) || !(rounds > 0)) { process.stderr.write('cpu-buckets: --peers N and --rounds R are required\n'); process.exit(2) }
const files: string[] = []
for (let i = 0; i < args.length; i++) {
  if (args[i]!.startsWith('--')) { i++; continue }
  const p = args[i]!
  if (statSync(p).isDirectory()) files.push(...readdirSync(p).filter(f => f.endsWith('.cpuprofile')).map(f => join(p, f)))
  else files.push(p)
}
const byBucket = new Map<string, number>()
const byFn = new Map<string, number>()
// Each sample's innermost Tessera frame (src/...: function @ file), so a library's time is charged
// to the Tessera call that asked for it; samples with none go to their package's outermost frame.
const bySrc = new Map<string, number>()
let totalUs = 0
for (const f of files) {
  const prof = JSON.parse(readFileSync(f, 'utf8')) as Profile
  const nodes = new Map(prof.nodes.map(n => [n.id, n]))
  const parent = new Map<number, Node>()
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n)
  for (let i = 0; i < prof.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; the interval after it is timeDeltas[i + 1].
    const dt = prof.timeDeltas[i + 1] ?? 0
    const n = nodes.get(prof.samples[i]!)!
    const b = bucketOf(n, parent)
    byBucket.set(b, (byBucket.get(b) ?? 0) + dt)
    const short = n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/')
    const fn = `[${b}] ${n.callFrame.functionName || '(anon)'} @ ${short}:${n.callFrame.lineNumber + 1}`
    byFn.set(fn, (byFn.get(fn) ?? 0) + dt)
    let owner: string | undefined
    let outer: Node | undefined
    for (let a: Node | undefined = n; a !== undefined; a = parent.get(a.id)) {
      const u = a.callFrame.url
      if (/\/src\/[^/]/.test(u) && !u.includes('node_modules')) { owner = `${a.callFrame.functionName || '(anon)'} @ ${u.replace(/^.*?\/src\//, 'src/')}`; break }
      if (u.includes('node_modules')) outer = a
    }
    if (owner === undefined) owner = outer !== undefined ? `(no src caller) ${outer.callFrame.functionName || '(anon)'} @ ${outer.callFrame.url.replace(/^.*node_modules\//, '')}:${outer.callFrame.lineNumber + 1}` : `(no src caller) [${b}]`
    bySrc.set(owner, (bySrc.get(owner) ?? 0) + dt)
    totalUs += dt
  }
}
const per = (us: number): number => Math.round(us / 1000 / peers / rounds * 10) / 10
const buckets = Object.fromEntries([...byBucket].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, per(v)]))
const busy = [...byBucket].filter(([k]) => k !== 'idle').reduce((s, [, v]) => s + v, 0)
const top = [...byFn].sort((a, b) => b[1] - a[1]).slice(0, topN).map(([k, v]) => [k, per(v)])
const src = [...bySrc].sort((a, b) => b[1] - a[1]).slice(0, topN).map(([k, v]) => [k, per(v)])
const scale = cpuMs > 0 ? cpuMs / (busy / 1000 / peers / rounds) : undefined
const scaled = scale === undefined ? undefined : Object.fromEntries([...byBucket].filter(([k]) => k !== 'idle').sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round(per(v) * scale * 10) / 10]))
console.log(JSON.stringify({ files: files.length, peers, rounds, totalMsPerPeerRound: per(totalUs), busyMsPerPeerRound: per(busy), buckets, ...(scaled !== undefined ? { scaledToCpuMs: cpuMs, scaled } : {}), top, bySrcCaller: src }, null, 2))
