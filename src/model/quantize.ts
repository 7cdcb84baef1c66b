/**
 * int8 quantization of a weight vector with one symmetric scale per tensor
 * (per-tensor symmetric linear quantization, as in TF Lite's int8 scheme without
 * zero point: q = round(w / s), s = max|w| / 127, w' = q * s). Pure. Used to test
 * that watermarks survive quantization.
 */
import { TrainingParamsError } from './errors.ts'
import type { Layout } from './spec.ts'

export interface Int8Weights {
  q: Int8Array
  /** One scale per tensor of the layout (or one for the whole vector). */
  scales: Float32Array
  /** Tensor boundaries: tensor k covers [offsets[k], offsets[k+1]). */
  offsets: Uint32Array
}

export function quantizeInt8(w: Float32Array, layout?: Layout): Int8Weights {
  const offsets = layout === undefined ? Uint32Array.of(0, w.length) : Uint32Array.from([...layout.tensors.map((t) => t.offset), layout.total])
  if (offsets[offsets.length - 1] !== w.length) throw new TrainingParamsError(`vector has ${w.length} values, layout ${offsets[offsets.length - 1]}`)
  const q = new Int8Array(w.length)
  const scales = new Float32Array(offsets.length - 1)
  for (let k = 0; k + 1 < offsets.length; k++) {
    let max = 0
    for (let i = offsets[k]!; i < offsets[k + 1]!; i++) {
      const a = Math.abs(w[i]!)
      if (!Number.isFinite(a)) throw new TrainingParamsError(`value ${i} is not finite`)
      if (a > max) max = a
    }
    const s = max === 0 ? 1 : max / 127
    scales[k] = s
    for (let i = offsets[k]!; i < offsets[k + 1]!; i++) q[i] = Math.max(-127, Math.min(127, Math.round(w[i]! / s)))
  }
  return { q, scales, offsets }
}

export function dequantizeInt8(x: Int8Weights): Float32Array {
  const { q, scales, offsets } = x
  if (offsets.length !== scales.length + 1 || offsets[offsets.length - 1] !== q.length) throw new TrainingParamsError('inconsistent quantized weights')
  const w = new Float32Array(q.length)
  for (let k = 0; k < scales.length; k++) {
    for (let i = offsets[k]!; i < offsets[k + 1]!; i++) w[i] = q[i]! * scales[k]!
  }
  return w
}
