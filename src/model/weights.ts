/**
 * Flat weight vectors. A model's weights travel (shares, aggregates, ledger
 * hashes) as one Float32Array in the order of the layout derived from the
 * network's model spec (spec.ts). Pure over Float32Array.
 */
import { LayoutMismatchError } from './errors.ts'
import { deriveLayout, type Layout, type ModelSpec } from './spec.ts'

/** Concatenate per-tensor arrays (in layout order) into one vector. */
export function flatten(tensors: readonly Float32Array[], layout: Layout): Float32Array {
  if (tensors.length !== layout.tensors.length) throw new LayoutMismatchError(`${tensors.length} tensors, layout has ${layout.tensors.length}`)
  const out = new Float32Array(layout.total)
  layout.tensors.forEach((slot, i) => {
    const t = tensors[i]!
    if (!(t instanceof Float32Array) || t.length !== slot.size) throw new LayoutMismatchError(`tensor ${slot.name}: ${t?.length} values, expected ${slot.size} for shape ${JSON.stringify(slot.shape)}`)
    out.set(t, slot.offset)
  })
  return out
}

/** Split a vector into per-tensor views (no copy), in layout order. */
export function unflatten(vector: Float32Array, layout: Layout): Float32Array[] {
  checkLength(vector, layout)
  return layout.tensors.map((slot) => vector.subarray(slot.offset, slot.offset + slot.size))
}

/**
 * Check a received weight vector against the network's model spec: the sender's
 * claimed layout hash must equal ours, the length must match, every value must
 * be finite. Throws LayoutMismatchError; returns the layout on success.
 */
export function verifyWeights(vector: Float32Array, spec: ModelSpec | Layout, claimedHash?: string): Layout {
  const layout = 'tensors' in spec ? spec : deriveLayout(spec)
  if (claimedHash !== undefined && claimedHash !== layout.hash) throw new LayoutMismatchError(`layout hash ${String(claimedHash).slice(0, 16)}... does not match the model spec's ${layout.hash.slice(0, 16)}...`)
  checkLength(vector, layout)
  for (let i = 0; i < vector.length; i++) {
    if (!Number.isFinite(vector[i]!)) throw new LayoutMismatchError(`value ${i} (${tensorAt(layout, i)}) is not finite`)
  }
  return layout
}

/** Name of the tensor holding flat index i (for messages). */
export function tensorAt(layout: Layout, i: number): string {
  for (const t of layout.tensors) if (i >= t.offset && i < t.offset + t.size) return t.name
  return 'outside the layout'
}

function checkLength(vector: Float32Array, layout: Layout): void {
  if (!(vector instanceof Float32Array)) throw new LayoutMismatchError('weights must be a Float32Array')
  if (vector.length !== layout.total) throw new LayoutMismatchError(`vector has ${vector.length} values, the layout has ${layout.total}`)
}
