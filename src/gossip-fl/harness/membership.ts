/**
 * Membership inference against a harness run's final model: the loss-threshold
 * attack (Yeom, Giacomelli, Fredrikson, Jha, "Privacy Risk in Machine Learning",
 * CSF 2018) through D's evaluateMembershipInference (AUC, best-threshold
 * advantage, Yeom's mean-training-loss threshold).
 *
 * Per-example cross-entropy losses of the dense models (softmax, MLP with ReLU
 * hidden layers, C's flat layout: kernel [in, out] then bias, layer by layer)
 * are computed here in plain float64 JS: exact, pure, and no TF.js graph per
 * example. The CNN is not supported (typed error).
 */
import { InvalidParametersError } from '../../util/errors.ts'
import { deriveLayout, type ModelSpec } from '../../model/spec.ts'
import type { Dataset } from '../../model/dataset.ts'
import { evaluateMembershipInference, type MembershipReport } from '../../model/privacy/membership.ts'

/** Logits of each of the first `count` examples of `data` under a dense model (row-major count x classes, float64). */
export function perExampleLogits(spec: ModelSpec, weights: Float32Array, data: Dataset, count = data.n): { logits: Float64Array, classes: number, n: number } {
  if (spec.arch === 'cnn') throw new InvalidParametersError('per-example losses: dense models only (softmax, mlp)')
  const layout = deriveLayout(spec)
  if (weights.length !== layout.total) throw new InvalidParametersError(`weights of length ${weights.length}, layout needs ${layout.total}`)
  const n = Math.min(count, data.n)
  const features = data.x.length / data.n
  const layers: Array<{ kernel: Float32Array, bias: Float32Array, inDim: number, outDim: number }> = []
  for (let l = 0; l < layout.tensors.length; l += 2) {
    const k = layout.tensors[l]!
    const b = layout.tensors[l + 1]!
    layers.push({ kernel: weights.subarray(k.offset, k.offset + k.size), bias: weights.subarray(b.offset, b.offset + b.size), inDim: k.shape[0]!, outDim: k.shape[1]! })
  }
  const classes = layers[layers.length - 1]!.outDim
  const out = new Float64Array(n * classes)
  for (let e = 0; e < n; e++) {
    let a: Float64Array = Float64Array.from(data.x.subarray(e * features, (e + 1) * features))
    layers.forEach((L, li) => {
      const z = new Float64Array(L.outDim)
      for (let o = 0; o < L.outDim; o++) z[o] = L.bias[o]!
      for (let i = 0; i < L.inDim; i++) {
        const ai = a[i]!
        if (ai === 0) continue
        const row = i * L.outDim
        for (let o = 0; o < L.outDim; o++) z[o] = z[o]! + ai * L.kernel[row + o]!
      }
      if (li + 1 < layers.length) for (let o = 0; o < z.length; o++) z[o] = Math.max(0, z[o]!)
      a = z
    })
    out.set(a, e * classes)
  }
  return { logits: out, classes, n }
}

/** Cross-entropy loss of each of the first `count` examples of `data`. */
export function perExampleLosses(spec: ModelSpec, weights: Float32Array, data: Dataset, count = data.n): Float64Array {
  const { logits, classes, n } = perExampleLogits(spec, weights, data, count)
  const out = new Float64Array(n)
  for (let e = 0; e < n; e++) {
    const a = logits.subarray(e * classes, (e + 1) * classes)
    let max = -Infinity
    for (const v of a) max = Math.max(max, v)
    let s = 0
    for (const v of a) s += Math.exp(v - max)
    out[e] = Math.log(s) + max - a[data.y[e]!]!
  }
  return out
}

/** Softmax probabilities of each of the first `count` examples (row-major count x classes). */
export function perExampleProbabilities(spec: ModelSpec, weights: Float32Array, data: Dataset, count = data.n): { probs: Float64Array, classes: number, n: number } {
  const { logits, classes, n } = perExampleLogits(spec, weights, data, count)
  const probs = new Float64Array(n * classes)
  for (let e = 0; e < n; e++) {
    let max = -Infinity
    for (let k = 0; k < classes; k++) max = Math.max(max, logits[e * classes + k]!)
    let s = 0
    for (let k = 0; k < classes; k++) { const v = Math.exp(logits[e * classes + k]! - max); probs[e * classes + k] = v; s += v }
    for (let k = 0; k < classes; k++) probs[e * classes + k] = probs[e * classes + k]! / s
  }
  return { probs, classes, n }
}

/** The loss-threshold attack: members (training examples of the peers) against non-members (held-out examples). */
export function membershipInference(spec: ModelSpec, weights: Float32Array, members: Dataset, nonMembers: Dataset, count: number): MembershipReport {
  return evaluateMembershipInference(perExampleLosses(spec, weights, members, count), perExampleLosses(spec, weights, nonMembers, count))
}
