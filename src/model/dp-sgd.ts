/**
 * Record-level DP-SGD (Abadi et al. 2016, "Deep learning with differential
 * privacy", CCS, Alg. 1): per-example gradients clipped to L2 norm C, summed,
 * Gaussian noise N(0, sigma^2 C^2) added, divided by the (expected) batch size.
 *
 * Two ways to get the clipped sum:
 *
 * - ghost (dense models): for a dense layer z = a W + b, example i's gradient is
 *   grad_W,i = a_i^T delta_i and grad_b,i = delta_i, with delta_i = dloss_i/dz_i,
 *   so ||grad_i||^2 = sum_l (||a_l,i||^2 + 1) ||delta_l,i||^2 without ever forming
 *   per-example gradients (Goodfellow 2015, "Efficient per-example gradient
 *   computations", arXiv:1510.01799). With c_i = min(1, C / ||grad_i||), the
 *   clipped sum is the gradient of sum_i c_i loss_i (c constant): dW_l =
 *   a_l^T (c * delta_l), db_l = sum_i c_i delta_l,i. We backpropagate the deltas
 *   by hand (softmax cross-entropy, ReLU), once, and reuse them for both.
 * - microbatch (any model, used for the cnn): one backward pass per example.
 *
 * Both return tensors; callers run them inside tf.tidy.
 */
import * as tf from '@tensorflow/tfjs'
import type { ModelSpec } from './spec.ts'
import { denseForward, forward, perExampleLoss } from './network.ts'

export interface ClippedSum {
  /** Sum over the batch of clipped per-example gradients, one tensor per parameter. */
  sum: tf.Tensor[]
  /** Per-example gradient norms before clipping, [B]. */
  norms: tf.Tensor1D
  /** Per-example losses, [B]. */
  losses: tf.Tensor1D
}

/** Ghost-norm clipped gradient sum for softmax / mlp (dense layers + ReLU). */
export function ghostClippedGradSum(params: readonly tf.Tensor[], x: tf.Tensor, onehot: tf.Tensor2D, C: number): ClippedSum {
  const { logits, inputs, pre } = denseForward(params, x)
  const losses = perExampleLoss(logits, onehot)
  const L = inputs.length
  // delta of the last layer: d loss_i / d z_i = softmax(z_i) - onehot_i
  const deltas: tf.Tensor2D[] = new Array(L)
  deltas[L - 1] = tf.sub(tf.softmax(logits), onehot)
  for (let l = L - 1; l > 0; l--) {
    const back = tf.matMul(deltas[l]!, params[2 * l] as tf.Tensor2D, false, true)
    deltas[l - 1] = tf.mul(back, tf.step(pre[l - 1]!)) as tf.Tensor2D
  }
  let sq: tf.Tensor1D = tf.zeros([x.shape[0]!])
  for (let l = 0; l < L; l++) {
    const aSq = tf.add(tf.sum(tf.square(inputs[l]!), 1), 1)
    sq = tf.add(sq, tf.mul(aSq, tf.sum(tf.square(deltas[l]!), 1))) as tf.Tensor1D
  }
  const norms = tf.sqrt(sq) as tf.Tensor1D
  const c = clipFactors(norms, C)
  const sum: tf.Tensor[] = []
  for (let l = 0; l < L; l++) {
    const cd = tf.mul(deltas[l]!, c.expandDims(1)) as tf.Tensor2D
    sum.push(tf.matMul(inputs[l]!, cd, true, false), tf.sum(cd, 0))
  }
  return { sum, norms, losses }
}

/** Per-example (microbatches of 1) clipped gradient sum; works for every architecture. */
export function microbatchClippedGradSum(spec: ModelSpec, params: readonly tf.Tensor[], x: tf.Tensor, onehot: tf.Tensor2D, C: number): ClippedSum {
  const B = x.shape[0]!
  let sum: tf.Tensor[] = params.map((p) => tf.zerosLike(p))
  const norms: tf.Scalar[] = []
  const losses: tf.Scalar[] = []
  for (let i = 0; i < B; i++) {
    const next = tf.tidy(() => {
      const xi = x.slice(i, 1)
      const yi = onehot.slice(i, 1)
      const f = (...ps: tf.Tensor[]): tf.Scalar => tf.sum(perExampleLoss(forward(spec, ps, xi), yi)) as tf.Scalar
      const { value, grads } = tf.valueAndGrads(f)([...params])
      let sq: tf.Scalar = tf.scalar(0)
      for (const g of grads) sq = tf.add(sq, tf.sum(tf.square(g))) as tf.Scalar
      const norm = tf.sqrt(sq) as tf.Scalar
      const factor = clipFactors(norm.reshape([1]) as tf.Tensor1D, C).reshape([]) as tf.Scalar
      return { acc: grads.map((g, k) => tf.add(sum[k]!, tf.mul(g, factor))), norm, value }
    })
    sum.forEach((t) => t.dispose())
    sum = next.acc
    norms.push(next.norm)
    losses.push(next.value)
  }
  const out = { sum, norms: tf.stack(norms) as tf.Tensor1D, losses: tf.stack(losses) as tf.Tensor1D }
  norms.forEach((t) => t.dispose())
  losses.forEach((t) => t.dispose())
  return out
}

/**
 * c_i = min(1, C / ||g_i||), shrunk by a 1e-6 relative margin when clipping so
 * float32 rounding cannot leave a clipped contribution above C.
 */
function clipFactors(norms: tf.Tensor1D, C: number): tf.Tensor1D {
  return tf.minimum(1, tf.div(C * (1 - 1e-6), tf.maximum(norms, 1e-12))) as tf.Tensor1D
}
