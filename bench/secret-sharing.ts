/**
 * Secret-sharing throughput (src/secret-sharing): share a vector of n = 1,000,000
 * field elements to m = 10 holders with threshold t = 6, reconstruct from 6; plus
 * fixed-point encode/decode, the per-holder norm point, the consistency projection
 * and error-correcting reconstruction. Median wall time of RUNS runs after one
 * warm-up. A plain scalar reference (26-bit prime, `%` per operation, per-coordinate
 * loops, one rng.nextU32() per coefficient) is timed in the same run and the ratio
 * reported; both are checked to reconstruct their secret.
 *
 *   npx tsx bench/secret-sharing.ts [--n 1000000] [--m 10] [--t 6] [--runs 5]
 *
 * Prints one JSON object on stdout. Goals (2-core machine): share <= 150 ms,
 * reconstruct <= 50 ms.
 *
 * `roundKernels` (issue #4): the round's shape (d = 101,770 = the MLP, t = 2) for the
 * kernels of src/secret-sharing/kernels.ts against the former inline loops, timed in the
 * same run with the process CPU time (median of RUNS after a warm-up), results compared.
 */
import { parseFlags, numberFlag } from '../src/util/args.ts'
import { seededRng, cryptoRng, type Rng } from '../src/util/rng.ts'
import { addMod2, mulRows, madRows, joinRows } from '../src/secret-sharing/kernels.ts'
import {
  share, reconstruct, randomFieldElements, fixedPoint, normSquarePoint, project, randomProjection,
  robustReconstruct, type Share,
} from '../src/secret-sharing/index.ts'

const { values } = parseFlags(process.argv.slice(2), {
  n: { type: 'string' },
  m: { type: 'string' },
  t: { type: 'string' },
  runs: { type: 'string' },
})
const n = numberFlag(values, 'n', 1_000_000)
const m = numberFlag(values, 'm', 10)
const t = numberFlag(values, 't', 6)
const runs = Math.max(5, numberFlag(values, 'runs', 5))

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

function time(fn: () => unknown): { medianMs: number, runsMs: number[] } {
  fn() // warm-up: JIT and first-touch allocation
  const ts: number[] = []
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now()
    fn()
    ts.push(performance.now() - t0)
  }
  return { medianMs: Number(median(ts).toFixed(2)), runsMs: ts.map((x) => Number(x.toFixed(2))) }
}

// ---- the scalar reference: straightforward modular arithmetic over a 26-bit prime ----
// Products of two elements stay below 2^52, so `(a * b) % q` is exact in float64.
const Q26 = 67108859 // the largest prime below 2^26

function refRand(rng: Rng): number {
  for (;;) {
    const w = rng.nextU32() >>> 6
    if (w < Q26) return w
  }
}

function refInv(a: number): number {
  let r = 1; let b = a; let e = Q26 - 2
  while (e > 0) { if (e & 1) r = (r * b) % Q26; b = (b * b) % Q26; e = Math.floor(e / 2) }
  return r
}

function refShare(secret: Uint32Array, mm: number, tt: number, rng: Rng): Uint32Array[] {
  const out = Array.from({ length: mm }, () => new Uint32Array(secret.length))
  const coef = new Array<number>(tt)
  for (let i = 0; i < secret.length; i++) {
    coef[0] = secret[i]!
    for (let k = 1; k < tt; k++) coef[k] = refRand(rng)
    for (let j = 0; j < mm; j++) {
      const x = j + 1
      let acc = 0
      for (let k = tt - 1; k >= 0; k--) acc = (acc * x + coef[k]!) % Q26
      out[j]![i] = acc
    }
  }
  return out
}

function refReconstruct(shares: Share[], tt: number): Uint32Array {
  const used = shares.slice(0, tt)
  const w = used.map((s, j) => {
    let num = 1; let den = 1
    used.forEach((o, l) => { if (l !== j) { num = (num * o.x) % Q26; den = (den * ((o.x - s.x + Q26) % Q26)) % Q26 } })
    return (num * refInv(den)) % Q26
  })
  const n0 = used[0]!.y.length
  const out = new Uint32Array(n0)
  for (let i = 0; i < n0; i++) {
    let acc = 0
    for (let j = 0; j < tt; j++) acc = (acc + w[j]! * used[j]!.y[i]!) % Q26
    out[i] = acc
  }
  return out
}

// ---- inputs ----
const secret = randomFieldElements(seededRng('bench/secret-sharing/secret'), new Uint32Array(n))
const refSecret = Uint32Array.from(secret, (v) => v % Q26)
const holders = [1, 3, 4, 6, 8, 9].slice(0, t).concat(Array.from({ length: Math.max(0, t - 6) }, (_, k) => 10 + k))
const pickShares = (ys: Uint32Array[]): Share[] => holders.map((j) => ({ x: j + 1, y: ys[j]! }))

const seeded = seededRng('bench/secret-sharing/share')
const crypto = cryptoRng()

const fastShares = share(secret, m, t, seeded)
const refShares = refShare(refSecret, m, t, seeded)
const fastOk = equal(reconstruct(pickShares(fastShares), t), secret)
const refOk = equal(refReconstruct(pickShares(refShares), t), refSecret)

function equal(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const shareSeeded = time(() => share(secret, m, t, seeded))
const shareCrypto = time(() => share(secret, m, t, crypto))
const rec = time(() => reconstruct(pickShares(fastShares), t))
const refShareT = time(() => refShare(refSecret, m, t, seeded))
const refRec = time(() => refReconstruct(pickShares(refShares), t))

// fixed point on a float vector of norm 1 (B = 1, N = 10^4, default headroom)
const fp = fixedPoint({ normBound: 1, dim: n, maxSummands: 10_000, rounding: 'stochastic' })
const x = new Float32Array(n)
{
  const r = seededRng('bench/secret-sharing/x')
  let s = 0
  for (let i = 0; i < n; i++) { x[i] = r.nextFloat() - 0.5; s += x[i]! * x[i]! }
  const k = 0.999 / Math.sqrt(s)
  for (let i = 0; i < n; i++) x[i]! *= k
}
const q = fp.encode(x, seeded)
const encode = time(() => fp.encode(x, seeded))
const decode = time(() => fp.decode(q))
const normPoint = time(() => normSquarePoint(fastShares[0]!))
const proj = randomProjection(n, seeded)
const projectT = time(() => project(fastShares[0]!, proj))
// all m shares, two of them corrupted in one coordinate: blame and recover
const allShares: Share[] = fastShares.map((y, j) => ({ x: j + 1, y }))
const tampered = allShares.map((s, j) => (j === 2 || j === 7 ? { x: s.x, y: Uint32Array.from(s.y, (v, i) => (i === 12345 ? (v + 1) % 2147483647 : v)) } : s))
const robustRes = robustReconstruct(tampered, t, seeded)
const robustOk = equal(robustRes.secret, secret) && robustRes.blamed.join(',') === '3,8'
const robust = time(() => robustReconstruct(tampered, t, seeded))

const perSec = (ms: number): number => Math.round(n / (ms / 1000))

// ---- issue #4: the round's kernels against the former inline loops (d = 101,770, t = 2) ----
function cpuTime(fn: () => unknown): number {
  for (let w = 0; w < 20; w++) fn()
  const xs: number[] = []
  for (let r = 0; r < Math.max(runs, 15); r++) {
    const c0 = process.cpuUsage()
    fn()
    const c = process.cpuUsage(c0)
    xs.push((c.user + c.system) / 1000)
  }
  return Number(median(xs).toFixed(3))
}
const D = 101_770
const P31 = 2147483647
const ya = randomFieldElements(seeded, new Uint32Array(D))
const yb = randomFieldElements(seeded, new Uint32Array(D))
/** The former sumSharesInto loop (a branch per element, mispredicted half the time on shares). */
function formerAdd(out: Uint32Array, a: Uint32Array, b: Uint32Array): void {
  for (let i = 0; i < out.length; i++) { const s = a[i]! + b[i]!; out[i] = s >= P31 ? s - P31 : s }
}
/** The former reconstruction from 2 shares: rows of 4096 (mulRows, madRows, joinRows). */
function formerCombine2(out: Uint32Array, a: Uint32Array, b: Uint32Array, w0: number, w1: number): void {
  const lo = new Float64Array(4096)
  const hi = new Float64Array(4096)
  for (let b0 = 0; b0 < out.length; b0 += 4096) {
    const len = Math.min(4096, out.length - b0)
    mulRows(a, b0, len, w0 & 0xffff, w0 >>> 16, lo, hi)
    madRows(b, b0, len, w1 & 0xffff, w1 >>> 16, lo, hi)
    joinRows(out, b0, len, lo, hi)
  }
}
const addNew = new Uint32Array(D)
const addOld = new Uint32Array(D)
const addNewMs = cpuTime(() => addMod2(addNew, ya, yb, D))
const addOldMs = cpuTime(() => formerAdd(addOld, ya, yb))
const pair: Share[] = [{ x: 1, y: ya }, { x: 2, y: yb }]
const recOld = new Uint32Array(D)
const recNewMs = cpuTime(() => reconstruct(pair, 2))
// Lagrange weights at 0 for x = 1, 2: 2 and -1; a fresh output per call, as reconstruct
const recOldMs = cpuTime(() => formerCombine2(new Uint32Array(D), ya, yb, 2, P31 - 1))
formerCombine2(recOld, ya, yb, 2, P31 - 1)
const roundKernels = {
  d: D,
  sumSharesIntoCpuMs: { new: addNewMs, former: addOldMs, speedup: Number((addOldMs / addNewMs).toFixed(2)), same: equal(addNew, addOld) },
  reconstructT2CpuMs: { new: recNewMs, former: recOldMs, speedup: Number((recOldMs / recNewMs).toFixed(2)), same: equal(reconstruct(pair, 2), recOld) },
}

const result = {
  bench: 'secret-sharing',
  node: process.version,
  params: { n, m, t, runs, field: 'p = 2^31 - 1', referenceField: `q = ${Q26} (26-bit)` },
  correct: { fast: fastOk, reference: refOk, robust: robustOk },
  share: { seededRngMs: shareSeeded, cryptoRngMs: shareCrypto, referenceMs: refShareT, speedupSeeded: Number((refShareT.medianMs / shareSeeded.medianMs).toFixed(2)), speedupCrypto: Number((refShareT.medianMs / shareCrypto.medianMs).toFixed(2)) },
  reconstruct: { ms: rec, referenceMs: refRec, speedup: Number((refRec.medianMs / rec.medianMs).toFixed(2)) },
  fixedPoint: { scale: fp.scale, encodeStochasticMs: encode, decodeMs: decode, encodePerSec: perSec(encode.medianMs), decodePerSec: perSec(decode.medianMs) },
  normSquarePoint: { ms: normPoint, perSec: perSec(normPoint.medianMs) },
  projection: { ms: projectT, perSec: perSec(projectT.medianMs) },
  robustReconstruct: { holders: m, corrupted: 2, ms: robust },
  roundKernels,
  goals: { shareMs: 150, reconstructMs: 50 },
  met: { shareSeeded: shareSeeded.medianMs <= 150, shareCrypto: shareCrypto.medianMs <= 150, reconstruct: rec.medianMs <= 50 },
}
console.log(JSON.stringify(result, null, 2))
