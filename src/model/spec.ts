/**
 * Model specs and the weight layout derived from them. Pure (no TF.js): the
 * network charter carries a ModelSpec; from it every peer derives the same
 * layout (tensor names, shapes, offsets in the flat weight vector) and the same
 * layout hash, and so can check any received weight vector before using it.
 *
 * Architectures (ReLU activations, softmax output, 'valid' convolutions):
 *   softmax  dense(classes)                                        784 -> 7,850 params
 *   mlp      dense(h) for h in hidden (default [128]), dense(classes)   784-128-10 -> 101,770
 *   cnn      conv5x5(8)-maxpool2-conv5x5(16)-maxpool2-dense(classes)   28x28x1 -> 5,994
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { ModelSpecError } from './errors.ts'
import type { Rng } from '../util/rng.ts'

export type Arch = 'softmax' | 'mlp' | 'cnn'

export interface ModelSpec {
  arch: Arch
  /** Shape of one example, e.g. [28, 28, 1]. */
  inputShape: number[]
  classes: number
  /** mlp only: hidden layer widths (default [128]). */
  hidden?: number[]
}

export interface TensorSlot {
  /** `<layer>/<kernel|bias>`, e.g. 'dense0/kernel'. */
  name: string
  shape: number[]
  /** Start of this tensor in the flat vector (in float32 elements). */
  offset: number
  /** Number of elements (product of shape). */
  size: number
}

export interface Layout {
  tensors: TensorSlot[]
  /** Total number of parameters = length of the flat vector. */
  total: number
  /** Hex SHA-256 of the canonical spec + layout (see layoutHash). */
  hash: string
}

export const CNN_FILTERS = [8, 16] as const
export const CNN_KERNEL = 5
const MAX_PARAMS = 50_000_000
const MAX_WIDTH = 65_536

export const MNIST_INPUT = [28, 28, 1]

/** Convenience: the spec of one of the three architectures on 28x28x1, 10 classes. */
export function mnistSpec(arch: Arch): ModelSpec {
  return arch === 'mlp' ? { arch, inputShape: [...MNIST_INPUT], classes: 10, hidden: [128] } : { arch, inputShape: [...MNIST_INPUT], classes: 10 }
}

/** Defaults, merge, validate (House style 7). Returns a normalised copy. */
export function normalizeSpec(spec: ModelSpec): ModelSpec {
  if (spec === null || typeof spec !== 'object') throw new ModelSpecError('spec must be an object')
  const { arch, inputShape, classes } = spec
  if (arch !== 'softmax' && arch !== 'mlp' && arch !== 'cnn') throw new ModelSpecError(`unknown arch '${String(arch)}'`)
  if (!Array.isArray(inputShape) || inputShape.length < 1 || inputShape.length > 3 || !inputShape.every((d) => Number.isSafeInteger(d) && d >= 1 && d <= MAX_WIDTH)) {
    throw new ModelSpecError(`inputShape must be 1-3 positive integers, got ${JSON.stringify(inputShape)}`)
  }
  if (!Number.isInteger(classes) || classes < 2 || classes > 256) throw new ModelSpecError(`classes must be an integer in [2, 256], got ${String(classes)}`)
  const out: ModelSpec = { arch, inputShape: [...inputShape], classes }
  if (arch === 'mlp') {
    const hidden = spec.hidden ?? [128]
    if (!Array.isArray(hidden) || hidden.length < 1 || hidden.length > 8 || !hidden.every((h) => Number.isSafeInteger(h) && h >= 1 && h <= MAX_WIDTH)) {
      throw new ModelSpecError(`hidden must be 1-8 positive integers, got ${JSON.stringify(hidden)}`)
    }
    out.hidden = [...hidden]
  } else if (spec.hidden !== undefined) {
    throw new ModelSpecError(`hidden only applies to arch 'mlp'`)
  }
  if (arch === 'cnn' && inputShape.length !== 3) throw new ModelSpecError(`cnn needs inputShape [height, width, channels], got ${JSON.stringify(inputShape)}`)
  return out
}

/** Spatial size after the cnn's two conv(valid 5x5) + maxpool(2) stages. */
export function cnnFeatureShape(inputShape: readonly number[]): [number, number, number] {
  let [h, w] = inputShape as [number, number]
  for (let s = 0; s < CNN_FILTERS.length; s++) {
    h = Math.floor((h - CNN_KERNEL + 1) / 2)
    w = Math.floor((w - CNN_KERNEL + 1) / 2)
    if (h < 1 || w < 1) throw new ModelSpecError(`cnn input ${JSON.stringify(inputShape)} is too small for two 5x5 conv + 2x2 pool stages`)
  }
  return [h, w, CNN_FILTERS[CNN_FILTERS.length - 1]]
}

/** The ordered tensor list of a spec (the order of the flat vector). */
export function deriveLayout(specIn: ModelSpec): Layout {
  const spec = normalizeSpec(specIn)
  const shapes: Array<[string, number[]]> = []
  const features = spec.inputShape.reduce((a, b) => a * b, 1)
  if (spec.arch === 'softmax') {
    shapes.push(['dense0/kernel', [features, spec.classes]], ['dense0/bias', [spec.classes]])
  } else if (spec.arch === 'mlp') {
    const widths = [features, ...spec.hidden!, spec.classes]
    for (let l = 0; l + 1 < widths.length; l++) {
      shapes.push([`dense${l}/kernel`, [widths[l]!, widths[l + 1]!]], [`dense${l}/bias`, [widths[l + 1]!]])
    }
  } else {
    let cin = spec.inputShape[2]!
    CNN_FILTERS.forEach((f, l) => {
      shapes.push([`conv${l}/kernel`, [CNN_KERNEL, CNN_KERNEL, cin, f]], [`conv${l}/bias`, [f]])
      cin = f
    })
    const [h, w, c] = cnnFeatureShape(spec.inputShape)
    shapes.push(['dense0/kernel', [h * w * c, spec.classes]], ['dense0/bias', [spec.classes]])
  }
  const tensors: TensorSlot[] = []
  let offset = 0
  for (const [name, shape] of shapes) {
    const size = shape.reduce((a, b) => a * b, 1)
    tensors.push({ name, shape, offset, size })
    offset += size
    if (offset > MAX_PARAMS) throw new ModelSpecError(`model has more than ${MAX_PARAMS} parameters`)
  }
  return { tensors, total: offset, hash: layoutHash(spec, tensors) }
}

/**
 * SHA-256 over a canonical JSON text of the normalised spec and its tensor list
 * (names and shapes in order), domain-separated by a version tag. Two peers agree
 * on the hash iff they would read a flat vector the same way.
 */
function layoutHash(spec: ModelSpec, tensors: readonly TensorSlot[]): string {
  const canonical = JSON.stringify({
    v: 'tessera-layout/1',
    spec: { arch: spec.arch, inputShape: spec.inputShape, classes: spec.classes, hidden: spec.hidden ?? null },
    tensors: tensors.map((t) => [t.name, t.shape])
  })
  return bytesToHex(sha256(new TextEncoder().encode(canonical)))
}

/**
 * Initial weights, pure and seeded: Glorot/Xavier uniform kernels (Glorot and
 * Bengio 2010, the Keras default; fan_in/fan_out include the receptive field for
 * convolutions), zero biases.
 */
export function initialWeights(spec: ModelSpec, rng: Rng): Float32Array {
  const layout = deriveLayout(spec)
  const w = new Float32Array(layout.total)
  for (const t of layout.tensors) {
    if (t.name.endsWith('/bias')) continue
    const receptive = t.shape.length === 4 ? t.shape[0]! * t.shape[1]! : 1
    const fanIn = receptive * t.shape[t.shape.length - 2]!
    const fanOut = receptive * t.shape[t.shape.length - 1]!
    const limit = Math.sqrt(6 / (fanIn + fanOut))
    for (let i = 0; i < t.size; i++) w[t.offset + i] = (2 * rng.nextFloat() - 1) * limit
  }
  return w
}
