/**
 * The in-memory dataset every loader produces and every trainer consumes.
 * Pure: no I/O, runs in Node and in the browser.
 *
 * - `x`: row-major features, `n * prod(shape)` float32 values. Image loaders scale
 *   pixels to [0, 1] (byte / 255); user CSV data is scaled as the user asks.
 * - `y`: one class label per example, each in [0, classes).
 * - `shape`: the shape of one example, e.g. [28, 28, 1] for MNIST.
 */
import { DatasetError } from './errors.ts'

export interface Dataset {
  readonly x: Float32Array
  readonly y: Uint8Array
  readonly n: number
  readonly shape: readonly number[]
  readonly classes: number
}

/** Hard cap on the size of one example (features); far above any image model here. */
export const MAX_FEATURES = 1 << 20

/** Number of features of one example of the given shape. */
export function featureCount(shape: readonly number[]): number {
  if (!Array.isArray(shape) || shape.length === 0 || shape.length > 4) {
    throw new DatasetError(`example shape must have 1 to 4 dimensions, got ${JSON.stringify(shape)}`)
  }
  let f = 1
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 1) throw new DatasetError(`bad dimension ${String(d)} in shape ${JSON.stringify(shape)}`)
    f *= d
    if (f > MAX_FEATURES) throw new DatasetError(`example of shape ${JSON.stringify(shape)} exceeds ${MAX_FEATURES} features`)
  }
  return f
}

/**
 * Validate the parts and return a Dataset. Checks lengths, label range, and that
 * every feature is finite (NaN/Infinity would poison training silently).
 */
export function makeDataset(x: Float32Array, y: Uint8Array, shape: readonly number[], classes: number): Dataset {
  if (!(x instanceof Float32Array)) throw new DatasetError('x must be a Float32Array')
  if (!(y instanceof Uint8Array)) throw new DatasetError('y must be a Uint8Array')
  if (!Number.isInteger(classes) || classes < 2 || classes > 256) throw new DatasetError(`classes must be an integer in [2, 256], got ${String(classes)}`)
  const f = featureCount(shape)
  const n = y.length
  if (x.length !== n * f) throw new DatasetError(`x has ${x.length} values, expected n*features = ${n}*${f} = ${n * f}`)
  for (let i = 0; i < n; i++) {
    if (y[i]! >= classes) throw new DatasetError(`label ${y[i]} of example ${i} is not below classes = ${classes}`)
  }
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]!)) throw new DatasetError(`feature ${i % f} of example ${Math.floor(i / f)} is not finite`)
  }
  return { x, y, n, shape: Object.freeze([...shape]), classes }
}

/** The examples at `indices`, copied, in that order. */
export function subset(data: Dataset, indices: ArrayLike<number>): Dataset {
  const f = featureCount(data.shape)
  const x = new Float32Array(indices.length * f)
  const y = new Uint8Array(indices.length)
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!
    if (!Number.isInteger(i) || i < 0 || i >= data.n) throw new DatasetError(`index ${String(i)} out of range [0, ${data.n})`)
    x.set(data.x.subarray(i * f, (i + 1) * f), k * f)
    y[k] = data.y[i]!
  }
  return { x, y, n: indices.length, shape: data.shape, classes: data.classes }
}

/** The first `count` examples (a view, no copy). */
export function head(data: Dataset, count: number): Dataset {
  const m = Math.max(0, Math.min(data.n, Math.floor(count)))
  const f = featureCount(data.shape)
  return { x: data.x.subarray(0, m * f), y: data.y.subarray(0, m), n: m, shape: data.shape, classes: data.classes }
}

/** Examples per class: counts[c] = number of examples with label c. */
export function classCounts(data: Pick<Dataset, 'y' | 'classes'>): number[] {
  const counts = new Array<number>(data.classes).fill(0)
  for (const l of data.y) counts[l] = (counts[l] ?? 0) + 1
  return counts
}
