/**
 * Aggregation throughput: every registered rule over 21 vectors of 1,000,000
 * float32 entries (Tessera's group means of a large round; 21 = G groups), median
 * wall time of RUNS runs after one warm-up. For the coordinate-wise median it also
 * times a naive reference in the same run (gather each coordinate into an Array
 * and Array.prototype.sort it) and reports the speed-up and that both agree.
 *
 *   npx tsx bench/aggregation.ts [--n 21] [--d 1000000] [--runs 5]
 *
 * Prints one JSON object on stdout.
 */
import { loadavg } from 'node:os'
import { parseFlags, numberFlag } from '../src/util/args.ts'
import { seededRng, gaussian } from '../src/util/rng.ts'
import { getRule, ruleNames } from '../src/gossip-fl/aggregation/index.ts'
import type { RuleState } from '../src/gossip-fl/aggregation/index.ts'

const { values } = parseFlags(process.argv.slice(2), {
  n: { type: 'string' },
  d: { type: 'string' },
  runs: { type: 'string' }
})
const n = numberFlag(values, 'n', 21)
const d = numberFlag(values, 'd', 1_000_000)
const runs = Math.max(5, numberFlag(values, 'runs', 5))

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/**
 * Wall time is the figure of merit; process CPU time (user + system) is printed
 * next to it because on a shared machine wall time also counts waiting for a core.
 */
function time(fn: () => unknown): { medianMs: number, cpuMedianMs: number, runsMs: number[] } {
  fn() // warm-up: JIT and first-touch allocation
  const t: number[] = []
  const c: number[] = []
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    fn()
    t.push(performance.now() - t0)
    const dc = process.cpuUsage(c0)
    c.push((dc.user + dc.system) / 1000)
  }
  return { medianMs: Number(median(t).toFixed(2)), cpuMedianMs: Number(median(c).toFixed(2)), runsMs: t.map((x) => Number(x.toFixed(2))) }
}

// Honest-looking inputs: a shared direction plus per-input Gaussian noise.
const rng = seededRng('bench/aggregation')
const base = new Float32Array(d)
for (let j = 0; j < d; j++) base[j] = gaussian(rng) * 0.01
const inputs: Float32Array[] = []
for (let i = 0; i < n; i++) {
  const v = new Float32Array(d)
  for (let j = 0; j < d; j++) v[j] = base[j] + gaussian(rng) * 0.001
  inputs.push(v)
}

function naiveMedian(xs: readonly Float32Array[]): Float32Array {
  const m = xs.length
  const out = new Float32Array(d)
  for (let j = 0; j < d; j++) {
    const col: number[] = []
    for (let i = 0; i < m; i++) col.push(xs[i][j])
    col.sort((a, b) => a - b)
    out[j] = m % 2 === 1 ? col[(m - 1) / 2] : (col[m / 2 - 1] + col[m / 2]) / 2
  }
  return out
}

const results: Record<string, unknown> = {}
for (const name of ruleNames()) {
  const rule = getRule(name)
  // Centered clipping is timed as a later round: started from a previous center.
  const state: RuleState | undefined = name === 'centered-clipping' ? { rule: 'centered-clipping', center: base.slice() } : undefined
  results[name] = time(() => rule.aggregate(inputs, state))
}

const fast = getRule('coordinate-median').aggregate(inputs, undefined).aggregate
const naive = naiveMedian(inputs)
let mismatches = 0
for (let j = 0; j < d; j++) if (fast[j] !== naive[j]) mismatches++
const naiveTiming = time(() => naiveMedian(inputs))
const fastTiming = results['coordinate-median'] as { medianMs: number, cpuMedianMs: number }
const fastMs = fastTiming.medianMs
results['coordinate-median-naive-reference'] = naiveTiming
const out = {
  bench: 'aggregation',
  n,
  d,
  runs,
  node: process.version,
  loadAverage1m: Number(loadavg()[0].toFixed(2)),
  results,
  coordinateMedian: {
    medianMs: fastMs,
    naiveMedianMs: naiveTiming.medianMs,
    cpuMedianMs: fastTiming.cpuMedianMs,
    naiveCpuMedianMs: naiveTiming.cpuMedianMs,
    speedupVsNaive: Number((naiveTiming.medianMs / fastMs).toFixed(2)),
    goalMs: 300,
    meetsGoal: fastMs <= 300,
    mismatchesVsNaive: mismatches
  }
}
console.log(JSON.stringify(out, null, 2))
