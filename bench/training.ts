/**
 * Local-training throughput: examples per second of one local epoch (a peer's
 * share of MNIST) for each model on the WASM (SIMD) backend and on the pure-JS
 * CPU backend, in the same run, with the WASM/CPU ratio. Also DP-SGD (ghost
 * norms) for the dense models. Median of RUNS (>= 5) epochs after one warm-up.
 *
 *   npx tsx bench/training.ts [--examples 2400] [--cnn-examples 128] [--runs 5] [--batch 32]
 *
 * 2,400 examples = MNIST's 60,000 over 25 peers. The cnn uses fewer examples by
 * default because TF.js's CPU Conv2DBackpropFilter kernel is very slow (a few
 * examples per second), and a rate does not depend on the epoch length.
 * Prints one JSON object on stdout.
 */
import { cpus } from 'node:os'
import { parseFlags, numberFlag } from '../src/util/args.ts'
import { initBackend } from '../src/model/backend.ts'
import { loadMnist } from '../src/model/data-node.ts'
import { head } from '../src/model/dataset.ts'
import { initialWeights, mnistSpec, type Arch } from '../src/model/spec.ts'
import { trainLocal, type TrainOptions } from '../src/model/train.ts'
import { seededRng } from '../src/util/rng.ts'

const { values } = parseFlags(process.argv.slice(2), {
  examples: { type: 'string' }, 'cnn-examples': { type: 'string' }, runs: { type: 'string' }, batch: { type: 'string' }
})
const examples = numberFlag(values, 'examples', 2400)
const cnnExamples = numberFlag(values, 'cnn-examples', 128)
const runs = Math.max(5, numberFlag(values, 'runs', 5))
const batchSize = numberFlag(values, 'batch', 32)

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

interface Case { name: string, arch: Arch, n: number, opts: TrainOptions }
const cases: Case[] = [
  { name: 'softmax', arch: 'softmax', n: examples, opts: {} },
  { name: 'mlp', arch: 'mlp', n: examples, opts: {} },
  { name: 'cnn', arch: 'cnn', n: cnnExamples, opts: {} },
  { name: 'softmax+dpsgd(ghost)', arch: 'softmax', n: examples, opts: { dp: { clip: 1, noiseMultiplier: 1 } } },
  { name: 'mlp+dpsgd(ghost)', arch: 'mlp', n: examples, opts: { dp: { clip: 1, noiseMultiplier: 1 } } }
]

const train = await loadMnist('train')
const out: Record<string, Record<string, unknown>> = {}
for (const backend of ['wasm', 'cpu'] as const) {
  const info = await initBackend({ prefer: backend })
  if (info.name !== backend) throw new Error(`could not select the ${backend} backend`)
  for (const c of cases) {
    const spec = mnistSpec(c.arch)
    const w = initialWeights(spec, seededRng(1))
    const data = head(train, c.n)
    const opts: TrainOptions = { batchSize, lr: 0.01, optimizer: 'sgd', seed: 1, ...c.opts }
    await trainLocal(spec, w, head(train, Math.min(c.n, 4 * batchSize)), opts) // warm-up
    const rates: number[] = []
    for (let r = 0; r < runs; r++) rates.push((await trainLocal(spec, w, data, opts)).metrics.examplesPerSecond)
    const row = out[c.name] ?? (out[c.name] = { examplesPerEpoch: c.n })
    row[`${backend}ExamplesPerSecond`] = Number(median(rates).toFixed(1))
    row[`${backend}Runs`] = rates.map((x) => Number(x.toFixed(1)))
    console.error(`${backend} ${c.name}: ${median(rates).toFixed(1)} ex/s`)
  }
}
for (const row of Object.values(out)) row.wasmOverCpu = Number(((row.wasmExamplesPerSecond as number) / (row.cpuExamplesPerSecond as number)).toFixed(2))

console.log(JSON.stringify({
  bench: 'training', batchSize, runs, optimizer: 'sgd',
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
  results: out
}, null, 2))
