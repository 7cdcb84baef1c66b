/**
 * Update clipping and Gaussian noise (the Gaussian mechanism of DP-FedAvg,
 * McMahan, Ramage, Talwar, Zhang 2018, "Learning differentially private recurrent
 * language models", Alg. 1: clip each update to L2 norm C, add N(0, sigma^2 C^2)).
 * Pure over Float32Array; the Rng is injected. Norms accumulate in float64.
 */
import type { Rng } from '../util/rng.ts'
import { TrainingParamsError } from './errors.ts'

export function l2Norm(v: Float32Array): number {
  let s = 0
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!
  return Math.sqrt(s)
}

/** a - b, e.g. the update new weights - old weights. */
export function difference(a: Float32Array, b: Float32Array): Float32Array {
  if (a.length !== b.length) throw new TrainingParamsError(`length ${a.length} != ${b.length}`)
  const out = new Float32Array(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i]! - b[i]!
  return out
}

/** a + scale * b. */
export function addScaled(a: Float32Array, b: Float32Array, scale = 1): Float32Array {
  if (a.length !== b.length) throw new TrainingParamsError(`length ${a.length} != ${b.length}`)
  const out = new Float32Array(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + scale * b[i]!
  return out
}

export interface Clipped {
  /** The clipped copy: v * min(1, C / ||v||). */
  vector: Float32Array
  /** ||v|| before clipping. */
  norm: number
  /** The factor applied, min(1, C / ||v||). */
  factor: number
}

/**
 * Scale v so that its L2 norm is at most C. The factor is shrunk by one float32
 * ulp margin so that float32 rounding of the product can never leave the result
 * above C (a norm check downstream compares against C exactly).
 */
export function clipL2(v: Float32Array, C: number): Clipped {
  if (!(C > 0) || !Number.isFinite(C)) throw new TrainingParamsError(`clip norm must be a positive finite number, got ${String(C)}`)
  const norm = l2Norm(v)
  if (!Number.isFinite(norm)) throw new TrainingParamsError('vector has a non-finite norm')
  const factor = norm > C ? (C / norm) * (1 - 1e-6) : 1
  const vector = factor === 1 ? Float32Array.from(v) : new Float32Array(v.length)
  if (factor !== 1) for (let i = 0; i < v.length; i++) vector[i] = v[i]! * factor
  return { vector, norm, factor }
}

/** Fill `out` with N(0, std^2) draws (Box-Muller, both outputs used). */
export function gaussianFill(out: Float32Array, std: number, rng: Rng): Float32Array {
  if (!(std >= 0) || !Number.isFinite(std)) throw new TrainingParamsError(`std must be a finite number >= 0, got ${String(std)}`)
  const chunk = new Uint32Array(4096)
  let pos = chunk.length
  const uniform = (): number => {
    if (pos + 2 > chunk.length) { rng.fillU32(chunk); pos = 0 }
    // 53-bit uniform in (0, 1]: never 0, so log() is finite.
    const hi = chunk[pos++]! >>> 5
    const lo = chunk[pos++]! >>> 6
    return (hi * 67108864 + lo + 1) / 9007199254740992
  }
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform())) * std
    const t = 2 * Math.PI * uniform()
    out[i] = r * Math.cos(t)
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(t)
  }
  return out
}

/** v + N(0, (sigma * C)^2 I): the Gaussian mechanism with noise multiplier sigma. */
export function addGaussianNoise(v: Float32Array, sigma: number, C: number, rng: Rng): Float32Array {
  if (!(sigma >= 0) || !Number.isFinite(sigma)) throw new TrainingParamsError(`noise multiplier must be finite and >= 0, got ${String(sigma)}`)
  if (!(C > 0) || !Number.isFinite(C)) throw new TrainingParamsError(`clip norm must be a positive finite number, got ${String(C)}`)
  const noise = gaussianFill(new Float32Array(v.length), sigma * C, rng)
  for (let i = 0; i < v.length; i++) noise[i] = noise[i]! + v[i]!
  return noise
}

/** clip then noise: what a contributor sends (before fixed-point encoding). */
export function privatizeUpdate(update: Float32Array, C: number, sigma: number, rng: Rng): { vector: Float32Array, norm: number, factor: number } {
  const c = clipL2(update, C)
  return { vector: addGaussianNoise(c.vector, sigma, C, rng), norm: c.norm, factor: c.factor }
}
