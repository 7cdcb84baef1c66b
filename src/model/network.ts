/**
 * The three architectures as functional TF.js forward passes over a parameter
 * list in layout order (spec.ts). Functional rather than tf.layers so that the
 * DP-SGD code can see each dense layer's input and pre-activation, and so that a
 * model is nothing but (spec, flat weights). `toLayersModel` builds the
 * equivalent tf.LayersModel for export/serving; a test checks they agree.
 */
import * as tf from '@tensorflow/tfjs'
import { CNN_FILTERS, CNN_KERNEL, deriveLayout, normalizeSpec, type Layout, type ModelSpec } from './spec.ts'
import { unflatten } from './weights.ts'
import { DatasetError } from './errors.ts'
import type { Dataset } from './dataset.ts'

/** Logits [B, classes] for inputs x [B, ...inputShape] (or [B, features] for dense models). */
export function forward(spec: ModelSpec, params: readonly tf.Tensor[], x: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    if (spec.arch === 'cnn') {
      let h = x.reshape([-1, ...spec.inputShape]) as tf.Tensor4D
      for (let l = 0; l < CNN_FILTERS.length; l++) {
        h = tf.relu(tf.add(tf.conv2d(h, params[2 * l] as tf.Tensor4D, 1, 'valid'), params[2 * l + 1]!)) as tf.Tensor4D
        h = tf.maxPool(h, 2, 2, 'valid')
      }
      const flat = h.reshape([h.shape[0], -1]) as tf.Tensor2D
      const o = 2 * CNN_FILTERS.length
      return tf.add(tf.matMul(flat, params[o] as tf.Tensor2D), params[o + 1]!) as tf.Tensor2D
    }
    return denseForward(params, x).logits
  })
}

/**
 * Dense forward that also returns, per layer l, its input a_l [B, in] and
 * pre-activation z_l [B, out] (the last z is the logits). Not tidied: callers
 * run it inside their own tf.tidy.
 */
export function denseForward(params: readonly tf.Tensor[], x: tf.Tensor): { logits: tf.Tensor2D, inputs: tf.Tensor2D[], pre: tf.Tensor2D[] } {
  const layers = params.length / 2
  let a = x.reshape([x.shape[0]!, -1]) as tf.Tensor2D
  const inputs: tf.Tensor2D[] = []
  const pre: tf.Tensor2D[] = []
  for (let l = 0; l < layers; l++) {
    inputs.push(a)
    const z = tf.add(tf.matMul(a, params[2 * l] as tf.Tensor2D), params[2 * l + 1]!) as tf.Tensor2D
    pre.push(z)
    a = l + 1 < layers ? tf.relu(z) : z
  }
  return { logits: a, inputs, pre }
}

/** Per-example softmax cross-entropy, loss_i = logsumexp(z_i) - z_i[y_i]; shape [B]. */
export function perExampleLoss(logits: tf.Tensor2D, onehot: tf.Tensor2D): tf.Tensor1D {
  return tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(logits, onehot), 1)) as tf.Tensor1D
}

/** Parameter tensors (not variables) from a flat vector. */
export function paramTensors(layout: Layout, weights: Float32Array): tf.Tensor[] {
  return unflatten(weights, layout).map((v, i) => tf.tensor(v, layout.tensors[i]!.shape, 'float32'))
}

/** Check that a dataset fits a spec (feature count, and exact shape for cnn; classes). */
export function checkDataFits(spec: ModelSpec, data: Dataset): void {
  const want = spec.inputShape.reduce((a, b) => a * b, 1)
  const have = data.shape.reduce((a, b) => a * b, 1)
  if (want !== have) throw new DatasetError(`data examples have ${have} features (${JSON.stringify(data.shape)}), model expects ${want} (${JSON.stringify(spec.inputShape)})`)
  if (data.classes > spec.classes) throw new DatasetError(`data has ${data.classes} classes, model ${spec.classes}`)
}

/** An equivalent tf.LayersModel (for export with model.save / serving), weights set. */
export function toLayersModel(specIn: ModelSpec, weights: Float32Array): tf.LayersModel {
  const spec = normalizeSpec(specIn)
  const layout = deriveLayout(spec)
  const m = tf.sequential()
  if (spec.arch === 'cnn') {
    m.add(tf.layers.conv2d({ inputShape: spec.inputShape, filters: CNN_FILTERS[0], kernelSize: CNN_KERNEL, activation: 'relu', padding: 'valid' }))
    m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }))
    m.add(tf.layers.conv2d({ filters: CNN_FILTERS[1], kernelSize: CNN_KERNEL, activation: 'relu', padding: 'valid' }))
    m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }))
    m.add(tf.layers.flatten())
    m.add(tf.layers.dense({ units: spec.classes }))
  } else {
    m.add(tf.layers.flatten({ inputShape: spec.inputShape }))
    for (const h of spec.arch === 'mlp' ? spec.hidden! : []) m.add(tf.layers.dense({ units: h, activation: 'relu' }))
    m.add(tf.layers.dense({ units: spec.classes }))
  }
  const ts = paramTensors(layout, weights)
  m.setWeights(ts)
  ts.forEach((t) => t.dispose())
  return m
}
