/**
 * Local training and evaluation: (spec, flat weights, data, options) -> new flat
 * weights + metrics. A fresh set of variables and a fresh optimizer per call
 * (local optimizer state does not persist across rounds, as in FedAvg), all
 * disposed before returning; per-step work runs in tf.tidy, so repeated calls
 * do not leak tensors (test/model/train.test.ts checks tf.memory()).
 *
 * Batches: without DP, a seeded shuffle per epoch cut into batches. With DP-SGD,
 * Poisson sampling (each example independently with rate q = batchSize / n, the
 * sampling that the RDP analysis of the subsampled Gaussian mechanism assumes,
 * Mironov, Talwar, Zhang 2019), round(n / batchSize) steps per epoch, noise
 * divided by the expected batch size.
 */
import * as tf from '@tensorflow/tfjs'
import type { Rng } from '../util/rng.ts'
import { seededRng } from '../util/rng.ts'
import type { Dataset } from './dataset.ts'
import { featureCount } from './dataset.ts'
import { TrainingParamsError } from './errors.ts'
import { deriveLayout, normalizeSpec, type Layout, type ModelSpec } from './spec.ts'
import { verifyWeights } from './weights.ts'
import { checkDataFits, forward, perExampleLoss } from './network.ts'
import { ghostClippedGradSum, microbatchClippedGradSum, type ClippedSum } from './dp-sgd.ts'
import { gaussianFill } from './update.ts'
import { permutation } from './shuffle.ts'

export type OptimizerName = 'sgd' | 'momentum' | 'adam'

export interface DpSgdOptions {
  /** Per-example clip norm C. */
  clip: number
  /** Noise multiplier sigma (noise std = sigma * C on the summed gradient). */
  noiseMultiplier: number
  /** 'auto' (default): ghost for dense models, microbatch for cnn. */
  method?: 'auto' | 'ghost' | 'microbatch'
}

export interface TrainOptions {
  epochs?: number
  batchSize?: number
  lr?: number
  optimizer?: OptimizerName
  /** Momentum coefficient for 'momentum' (default 0.9). */
  momentum?: number
  /** Seed of the batch order / sampling / DP noise (string, number or bytes), or an Rng. */
  seed?: string | number | Uint8Array
  rng?: Rng
  /** Stop after this many steps in all (e.g. a fixed local budget per round). */
  maxSteps?: number
  dp?: DpSgdOptions
  /** Called after each step (e.g. for a progress line); keep it cheap. */
  onStep?: (step: number, stepsPerEpoch: number, epoch: number) => void
  /** yield to the event loop after every this many steps (default 1; 0 never yields) */
  yieldEvery?: number
  /** Called after each epoch (e.g. to evaluate and print progress). */
  onEpoch?: (epoch: number, info: { loss: number, seconds: number, weights: () => Float32Array }) => void | Promise<void>
}

export interface TrainMetrics {
  /** Mean training loss over the last epoch. */
  loss: number
  epochLosses: number[]
  epochs: number
  steps: number
  examples: number
  seconds: number
  examplesPerSecond: number
  backend: string
  dp?: { clip: number, noiseMultiplier: number, samplingRate: number, steps: number, method: 'ghost' | 'microbatch', clippedFraction: number, meanNorm: number }
}

export interface TrainResult {
  weights: Float32Array
  metrics: TrainMetrics
}

const DEFAULTS = { epochs: 1, batchSize: 32, lr: 0.01, optimizer: 'sgd' as OptimizerName, momentum: 0.9 }

function validate(o: TrainOptions): Required<Pick<TrainOptions, 'epochs' | 'batchSize' | 'lr' | 'optimizer' | 'momentum'>> {
  const m = { ...DEFAULTS, ...o }
  if (!Number.isInteger(m.epochs) || m.epochs < 1 || m.epochs > 10_000) throw new TrainingParamsError(`epochs must be an integer in [1, 10000], got ${String(m.epochs)}`)
  if (!Number.isInteger(m.batchSize) || m.batchSize < 1 || m.batchSize > 65_536) throw new TrainingParamsError(`batchSize must be an integer in [1, 65536], got ${String(m.batchSize)}`)
  if (!Number.isFinite(m.lr) || m.lr <= 0 || m.lr > 100) throw new TrainingParamsError(`lr must be in (0, 100], got ${String(m.lr)}`)
  if (!['sgd', 'momentum', 'adam'].includes(m.optimizer)) throw new TrainingParamsError(`unknown optimizer '${String(m.optimizer)}'`)
  if (!Number.isFinite(m.momentum) || m.momentum < 0 || m.momentum >= 1) throw new TrainingParamsError(`momentum must be in [0, 1), got ${String(m.momentum)}`)
  if (o.maxSteps !== undefined && (!Number.isInteger(o.maxSteps) || o.maxSteps < 1)) throw new TrainingParamsError(`maxSteps must be a positive integer, got ${String(o.maxSteps)}`)
  if (o.yieldEvery !== undefined && (!Number.isInteger(o.yieldEvery) || o.yieldEvery < 0)) throw new TrainingParamsError(`yieldEvery must be an integer >= 0, got ${String(o.yieldEvery)}`)
  if (o.dp !== undefined) {
    const { clip, noiseMultiplier, method } = o.dp
    if (!Number.isFinite(clip) || clip <= 0) throw new TrainingParamsError(`dp.clip must be a positive number, got ${String(clip)}`)
    if (!Number.isFinite(noiseMultiplier) || noiseMultiplier < 0) throw new TrainingParamsError(`dp.noiseMultiplier must be >= 0, got ${String(noiseMultiplier)}`)
    if (method !== undefined && !['auto', 'ghost', 'microbatch'].includes(method)) throw new TrainingParamsError(`unknown dp.method '${String(method)}'`)
  }
  return m
}

function makeOptimizer(name: OptimizerName, lr: number, momentum: number): tf.Optimizer {
  if (name === 'adam') return tf.train.adam(lr)
  if (name === 'momentum') return tf.train.momentum(lr, momentum)
  return tf.train.sgd(lr)
}

let varCounter = 0

/** Copy examples `idx` into a batch: x [b, ...inputShape] and one-hot labels. */
function batchTensors(spec: ModelSpec, data: Dataset, idx: ArrayLike<number>): { x: tf.Tensor, onehot: tf.Tensor2D } {
  const f = featureCount(data.shape)
  const xb = new Float32Array(idx.length * f)
  const yb = new Int32Array(idx.length)
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k]!
    xb.set(data.x.subarray(i * f, (i + 1) * f), k * f)
    yb[k] = data.y[i]!
  }
  const x = tf.tensor(xb, [idx.length, ...spec.inputShape], 'float32')
  const onehot = tf.tidy(() => tf.oneHot(tf.tensor1d(yb, 'int32'), spec.classes).toFloat() as tf.Tensor2D)
  return { x, onehot }
}

/** Poisson sample: each of n indices with probability q (geometric gaps, O(qn)). */
function poissonSample(n: number, q: number, rng: Rng): number[] {
  if (q >= 1) return Array.from({ length: n }, (_, i) => i)
  const out: number[] = []
  const logq = Math.log1p(-q)
  let i = -1
  for (;;) {
    let u = rng.nextFloat()
    if (u === 0) u = Number.MIN_VALUE
    i += 1 + Math.floor(Math.log(u) / logq)
    if (i >= n) return out
    out.push(i)
  }
}

function readWeights(vars: readonly tf.Variable[], layout: Layout): Float32Array {
  const out = new Float32Array(layout.total)
  vars.forEach((v, k) => out.set(v.dataSync() as Float32Array, layout.tensors[k]!.offset))
  return out
}

export async function trainLocal(specIn: ModelSpec, weights: Float32Array, data: Dataset, options: TrainOptions = {}): Promise<TrainResult> {
  const spec = normalizeSpec(specIn)
  const layout = deriveLayout(spec)
  verifyWeights(weights, layout)
  checkDataFits(spec, data)
  const o = validate(options)
  if (data.n === 0) throw new TrainingParamsError('no training examples')
  const rng = options.rng ?? seededRng(options.seed ?? 0)
  const dp = options.dp
  const method = dp === undefined ? undefined : (dp.method === undefined || dp.method === 'auto') ? (spec.arch === 'cnn' ? 'microbatch' : 'ghost') : dp.method
  if (method === 'ghost' && spec.arch === 'cnn') throw new TrainingParamsError('ghost clipping supports dense models only; use method microbatch for cnn')

  const id = ++varCounter
  const vars = layout.tensors.map((t) => {
    const init = tf.tensor(weights.subarray(t.offset, t.offset + t.size), t.shape, 'float32')
    const v = tf.variable(init, true, `tessera/${id}/${t.name}`)
    init.dispose()
    return v
  })
  const opt = makeOptimizer(o.optimizer, o.lr, o.momentum)
  const stepsPerEpoch = dp === undefined ? Math.ceil(data.n / o.batchSize) : Math.max(1, Math.round(data.n / o.batchSize))
  const q = Math.min(1, o.batchSize / data.n)
  const noise = dp === undefined ? undefined : new Float32Array(layout.total)
  let steps = 0
  let examples = 0
  let clipped = 0
  let normSum = 0
  let normCount = 0
  const epochLosses: number[] = []
  const t0 = performance.now()
  const yieldEvery = options.yieldEvery ?? 1
  try {
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      const te = performance.now()
      const perm = dp === undefined ? permutation(data.n, rng) : undefined
      let lossSum = 0
      let lossCount = 0
      let stop = false
      for (let s = 0; s < stepsPerEpoch; s++) {
        if (options.maxSteps !== undefined && steps >= options.maxSteps) { stop = true; break }
        const idx = perm !== undefined ? perm.subarray(s * o.batchSize, Math.min(data.n, (s + 1) * o.batchSize)) : poissonSample(data.n, q, rng)
        if (dp === undefined) {
          const { x, onehot } = batchTensors(spec, data, idx)
          const loss = opt.minimize(() => tf.mean(perExampleLoss(forward(spec, vars, x), onehot)) as tf.Scalar, true, vars)!
          lossSum += loss.dataSync()[0]! * idx.length
          loss.dispose(); x.dispose(); onehot.dispose()
        } else {
          gaussianFill(noise!, dp.noiseMultiplier * dp.clip, rng)
          const expectedB = q * data.n
          const stats = tf.tidy(() => {
            let cs: ClippedSum | undefined
            if (idx.length > 0) {
              const { x, onehot } = batchTensors(spec, data, idx)
              cs = method === 'ghost' ? ghostClippedGradSum(vars, x, onehot, dp.clip) : microbatchClippedGradSum(spec, vars, x, onehot, dp.clip)
            }
            const grads: tf.NamedTensorMap = {}
            layout.tensors.forEach((t, k) => {
              const nz = tf.tensor(noise!.subarray(t.offset, t.offset + t.size), t.shape, 'float32')
              grads[vars[k]!.name] = tf.div(cs === undefined ? nz : tf.add(cs.sum[k]!, nz), expectedB)
            })
            opt.applyGradients(grads)
            if (cs === undefined) return { loss: 0, norms: new Float32Array(0) }
            return { loss: tf.sum(cs.losses).dataSync()[0]!, norms: cs.norms.dataSync() as Float32Array }
          })
          lossSum += stats.loss
          for (const nm of stats.norms) { normSum += nm; normCount++; if (nm > dp.clip) clipped++ }
        }
        lossCount += idx.length
        examples += idx.length
        steps++
        options.onStep?.(s + 1, stepsPerEpoch, epoch)
        // Give the event loop a turn: a peer trains while its round runs, and a
        // training loop that never yields blocks every socket read and timer of the
        // process for seconds (8-9 s per round measured with 8 peers on 2 cores),
        // which made committee members miss each other's masks and shares.
        if (yieldEvery > 0 && steps % yieldEvery === 0) await yieldToEventLoop()
      }
      // A step limit that ends an epoch early still reports the loss of the steps it
      // ran (the last epoch's loss was NaN whenever maxSteps cut it short).
      if (stop && lossCount === 0) break
      epochLosses.push(lossCount === 0 ? NaN : lossSum / lossCount)
      if (options.onEpoch !== undefined) await options.onEpoch(epoch, { loss: epochLosses[epoch]!, seconds: (performance.now() - te) / 1000, weights: () => readWeights(vars, layout) })
      if (stop) break
    }
    const out = readWeights(vars, layout)
    const seconds = (performance.now() - t0) / 1000
    const metrics: TrainMetrics = {
      loss: epochLosses[epochLosses.length - 1] ?? NaN,
      epochLosses,
      epochs: epochLosses.length,
      steps,
      examples,
      seconds,
      examplesPerSecond: examples / Math.max(seconds, 1e-9),
      backend: tf.getBackend()
    }
    if (dp !== undefined) {
      metrics.dp = { clip: dp.clip, noiseMultiplier: dp.noiseMultiplier, samplingRate: q, steps, method: method!, clippedFraction: normCount === 0 ? 0 : clipped / normCount, meanNorm: normCount === 0 ? 0 : normSum / normCount }
    }
    return { weights: out, metrics }
  } finally {
    opt.dispose()
    // TF.js 4.22: MomentumOptimizer.dispose() overrides SGDOptimizer.dispose()
    // without calling it, so the -lr scalar `c` of SGD leaks one tensor per call.
    const c = (opt as unknown as { c?: tf.Tensor }).c
    if (c !== undefined && !c.isDisposed) c.dispose()
    vars.forEach((v) => v.dispose())
  }
}

export interface EvalResult { accuracy: number, loss: number, n: number }

/** Accuracy and mean cross-entropy of (spec, weights) on data, in batches. */
export async function evaluate(specIn: ModelSpec, weights: Float32Array, data: Dataset, opts: { batchSize?: number } = {}): Promise<EvalResult> {
  const spec = normalizeSpec(specIn)
  const layout = deriveLayout(spec)
  verifyWeights(weights, layout)
  checkDataFits(spec, data)
  const bs = opts.batchSize ?? 1000
  if (!Number.isInteger(bs) || bs < 1) throw new TrainingParamsError(`batchSize must be a positive integer, got ${String(bs)}`)
  const params = layout.tensors.map((t) => tf.tensor(weights.subarray(t.offset, t.offset + t.size), t.shape, 'float32'))
  let correct = 0
  let lossSum = 0
  try {
    for (let start = 0; start < data.n; start += bs) {
      const idx = Array.from({ length: Math.min(bs, data.n - start) }, (_, k) => start + k)
      const [c, l] = tf.tidy(() => {
        const { x, onehot } = batchTensors(spec, data, idx)
        const logits = forward(spec, params, x)
        const pred = tf.argMax(logits, 1)
        const truth = tf.argMax(onehot, 1)
        return [tf.sum(tf.cast(tf.equal(pred, truth), 'int32')).dataSync()[0]!, tf.sum(perExampleLoss(logits, onehot)).dataSync()[0]!]
      })
      correct += c!
      lossSum += l!
    }
  } finally {
    params.forEach((p) => p.dispose())
  }
  return { accuracy: data.n === 0 ? NaN : correct / data.n, loss: data.n === 0 ? NaN : lossSum / data.n, n: data.n }
}

/** Class predictions of (spec, weights) for data (e.g. for watermark trigger sets). */
export async function predict(specIn: ModelSpec, weights: Float32Array, data: Dataset): Promise<Uint8Array> {
  const spec = normalizeSpec(specIn)
  const layout = deriveLayout(spec)
  verifyWeights(weights, layout)
  checkDataFits(spec, data)
  const params = layout.tensors.map((t) => tf.tensor(weights.subarray(t.offset, t.offset + t.size), t.shape, 'float32'))
  const out = new Uint8Array(data.n)
  try {
    for (let start = 0; start < data.n; start += 1000) {
      const idx = Array.from({ length: Math.min(1000, data.n - start) }, (_, k) => start + k)
      const p = tf.tidy(() => {
        const { x } = batchTensors(spec, data, idx)
        return tf.argMax(forward(spec, params, x), 1).dataSync()
      })
      out.set(p, start)
    }
  } finally {
    params.forEach((p) => p.dispose())
  }
  return out
}

/** One turn of the event loop (setImmediate in Node; a macrotask in the browser). */
async function yieldToEventLoop (): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown }
  await new Promise<void>(resolve => { if (typeof g.setImmediate === 'function') g.setImmediate(resolve); else setTimeout(resolve, 0) })
}
