/**
 * The backdoor data of scaled model replacement (Bagdasaryan, Veit, Hua, Estrin,
 * Shmatikov, "How To Backdoor Federated Learning", AISTATS 2020, section 4): the
 * attacker trains on a mix of its clean data and triggered copies relabelled to
 * a target class, so the model keeps its main-task accuracy while mapping every
 * triggered input to the target. The trigger here is the pixel-pattern backdoor
 * of BadNets (Gu, Dolan-Gavitt, Garg, arXiv:1708.06733, 2017): a small square of
 * maximum-intensity pixels in the bottom-right corner of each image.
 *
 * "Backdoor accuracy" (the paper's metric) = the fraction of triggered test
 * inputs whose true class is not the target that the model classifies as the
 * target: `backdoorTestSet` builds exactly that set, so plain accuracy on it is
 * the backdoor accuracy.
 *
 * Pure: typed arrays in, new typed arrays out (no TF.js, no I/O).
 */
import { InvalidParametersError } from '../../util/errors.ts'
import { childRng } from '../../util/rng.ts'

export interface TriggerParams {
  /** Side of the square trigger, in pixels. */
  readonly size: number
  /** Value written into the trigger pixels (MNIST features lie in [0, 1]). */
  readonly value: number
  /** The class every triggered input should be mapped to. */
  readonly target: number
}

export const DEFAULT_TRIGGER: Readonly<TriggerParams> = Object.freeze({ size: 4, value: 1, target: 0 })

/** The image side lengths (height, width) of a flat example of `shape` ([h, w] or [h, w, c]). */
function imageDims(shape: readonly number[]): { h: number, w: number, c: number } {
  if (shape.length < 2 || shape.length > 3 || shape.some(d => !Number.isInteger(d) || d < 1)) {
    throw new InvalidParametersError(`backdoor trigger needs an image shape [h, w] or [h, w, c], got ${JSON.stringify(shape)}`)
  }
  return { h: shape[0]!, w: shape[1]!, c: shape[2] ?? 1 }
}

export function resolveTrigger(p: Partial<TriggerParams> = {}, classes = 10): TriggerParams {
  const t = { ...DEFAULT_TRIGGER, ...p }
  if (!Number.isInteger(t.size) || t.size < 1 || t.size > 64) throw new InvalidParametersError(`trigger size must be an integer in [1, 64], got ${String(t.size)}`)
  if (!Number.isFinite(t.value)) throw new InvalidParametersError(`trigger value must be finite, got ${String(t.value)}`)
  if (!Number.isInteger(t.target) || t.target < 0 || t.target >= classes) throw new InvalidParametersError(`trigger target must be a class in [0, ${classes - 1}], got ${String(t.target)}`)
  return t
}

/** Write the trigger into example `e` of the flat feature array `x` (in place). */
export function stampTrigger(x: Float32Array, e: number, shape: readonly number[], p: TriggerParams): void {
  const { h, w, c } = imageDims(shape)
  if (p.size > h || p.size > w) throw new InvalidParametersError(`trigger of ${p.size} pixels does not fit a ${h}x${w} image`)
  const f = h * w * c
  if (!Number.isInteger(e) || e < 0 || (e + 1) * f > x.length) throw new InvalidParametersError(`example ${e} is outside the feature array`)
  const base = e * f
  for (let i = h - p.size; i < h; i++) {
    for (let j = w - p.size; j < w; j++) {
      for (let k = 0; k < c; k++) x[base + (i * w + j) * c + k] = p.value
    }
  }
}

export interface LabelledImages {
  x: Float32Array
  y: Uint8Array
  shape: readonly number[]
}

/**
 * The attacker's training data: its clean examples followed by a triggered,
 * target-labelled copy of a `fraction` of them (chosen by a seeded draw), as in
 * Bagdasaryan et al.'s mix of clean and backdoor inputs per batch.
 */
export function poisonWithBackdoor(data: LabelledImages, fraction: number, p: TriggerParams, seed: string): { x: Float32Array, y: Uint8Array } {
  if (!(fraction >= 0 && fraction <= 1)) throw new InvalidParametersError(`backdoor fraction must be in [0, 1], got ${String(fraction)}`)
  const { h, w, c } = imageDims(data.shape)
  const f = h * w * c
  const n = data.y.length
  if (data.x.length !== n * f) throw new InvalidParametersError(`x has ${data.x.length} values, expected ${n}*${f}`)
  const rng = childRng(seed, 'backdoor')
  const picked: number[] = []
  for (let i = 0; i < n; i++) if (rng.nextFloat() < fraction) picked.push(i)
  const x = new Float32Array((n + picked.length) * f)
  const y = new Uint8Array(n + picked.length)
  x.set(data.x)
  y.set(data.y)
  picked.forEach((i, k) => {
    x.set(data.x.subarray(i * f, (i + 1) * f), (n + k) * f)
    stampTrigger(x, n + k, data.shape, p)
    y[n + k] = p.target
  })
  return { x, y }
}

/** Triggered copies of the examples whose label is not the target, all labelled with the target. */
export function backdoorTestSet(data: LabelledImages, p: TriggerParams): { x: Float32Array, y: Uint8Array } {
  const { h, w, c } = imageDims(data.shape)
  const f = h * w * c
  const keep: number[] = []
  for (let i = 0; i < data.y.length; i++) if (data.y[i] !== p.target) keep.push(i)
  const x = new Float32Array(keep.length * f)
  keep.forEach((i, k) => {
    x.set(data.x.subarray(i * f, (i + 1) * f), k * f)
    stampTrigger(x, k, data.shape, p)
  })
  return { x, y: new Uint8Array(keep.length).fill(p.target) }
}
