import assert from 'node:assert/strict'
import * as tf from '@tensorflow/tfjs'
import { initBackend } from '../../src/model/backend.ts'
import { conv2dBackpropFilterNHWC, im2col } from '../../src/model/wasm-conv-grad.ts'
import { seededRng, gaussian } from '../../src/util/rng.ts'

function randn(n: number, seed: number): Float32Array {
  const r = seededRng(seed)
  return Float32Array.from({ length: n }, () => gaussian(r))
}

/** d/dW of sum(conv2d(x, W) * R) = Conv2DBackpropFilter(x, R), on the current backend. */
function filterGrad(xv: Float32Array, xs: number[], wv: Float32Array, ws: number[], stride: number, pad: 'valid' | 'same', rv: (n: number) => Float32Array): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(xv, xs as [number, number, number, number])
    const w = tf.tensor4d(wv, ws as [number, number, number, number])
    const y = tf.conv2d(x, w, stride, pad)
    const r = tf.tensor(rv(y.size), y.shape)
    return tf.grad((ww: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, ww as tf.Tensor4D, stride, pad), r)))(w).dataSync() as Float32Array
  })
}

describe('model/wasm-conv-grad: JS Conv2DBackpropFilter for the WASM backend', () => {
  const cases: Array<{ xs: number[], ws: number[], stride: number, pad: 'valid' | 'same' }> = [
    { xs: [2, 28, 28, 1], ws: [5, 5, 1, 8], stride: 1, pad: 'valid' },
    { xs: [3, 12, 12, 8], ws: [5, 5, 8, 16], stride: 1, pad: 'valid' },
    { xs: [2, 9, 11, 3], ws: [3, 3, 3, 4], stride: 2, pad: 'same' },
    { xs: [1, 7, 7, 2], ws: [4, 2, 2, 3], stride: 3, pad: 'same' }
  ]
  let previous: string
  before(() => { previous = tf.getBackend() })
  after(async () => { await initBackend({ prefer: previous === 'cpu' ? 'cpu' : 'wasm', quiet: true }) })

  it('matches the CPU backend\'s kernel to float32 rounding on conv shapes used by the cnn and on strided/same-padded ones', async () => {
    const info = await initBackend({ quiet: true })
    assert.equal(info.name, 'wasm', 'the WASM backend must load from node_modules')
    assert.notEqual(tf.getKernel('Conv2DBackpropFilter', 'wasm'), undefined)
    const results: Float32Array[][] = [[], []]
    for (const [k, backend] of (['wasm', 'cpu'] as const).entries()) {
      await initBackend({ prefer: backend, quiet: true })
      assert.equal(tf.getBackend(), backend)
      cases.forEach((c, i) => {
        const xn = c.xs.reduce((a, b) => a * b, 1)
        const wn = c.ws.reduce((a, b) => a * b, 1)
        results[k]!.push(filterGrad(randn(xn, 10 + i), c.xs, randn(wn, 20 + i), c.ws, c.stride, c.pad, (n) => randn(n, 30 + i)))
      })
    }
    // The pure-JS fallback path (used when the im2col matrix would be too large) on the same inputs.
    const js = cases.map((c, i) => {
      const xn = c.xs.reduce((a, b) => a * b, 1)
      const y = tf.tidy(() => tf.conv2d(tf.tensor4d(randn(xn, 10 + i), c.xs as [number, number, number, number]), tf.zeros(c.ws as [number, number, number, number]), c.stride, c.pad).shape)
      const info = tf.backend_util.computeConv2DInfo(c.xs as [number, number, number, number], c.ws as [number, number, number, number], c.stride, 1, c.pad)
      return conv2dBackpropFilterNHWC(randn(xn, 10 + i), c.xs, randn(y.reduce((a, b) => a * b, 1), 30 + i), y, c.ws, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left)
    })
    cases.forEach((c, i) => {
      const b = results[1]![i]!
      for (const [path, a] of [['wasm kernel', results[0]![i]!], ['pure JS', js[i]!]] as const) {
        assert.equal(a.length, b.length)
        let err = 0; let mag = 0
        for (let j = 0; j < a.length; j++) { err = Math.max(err, Math.abs(a[j]! - b[j]!)); mag = Math.max(mag, Math.abs(b[j]!)) }
        assert.ok(err <= 1e-5 * mag, `${path}, case ${JSON.stringify(c)}: max error ${err} vs magnitude ${mag}`)
      }
    })
  })

  it('initBackend refuses an unknown backend name with BackendError', async () => {
    await assert.rejects(initBackend({ prefer: 'webgpu' as 'cpu' }), { name: 'BackendError' })
  })

  it('the pure kernel and im2col compute a hand-checked 1-channel example', () => {
    // x = 3x3 ramp 1..9, 2x2 filter, valid, stride 1, dy = all ones (2x2):
    // dW[kh][kw] = sum of the 2x2 window of x starting at (kh, kw): [[12, 16], [24, 28]]
    const x = Float32Array.from({ length: 9 }, (_, i) => i + 1)
    const dw = conv2dBackpropFilterNHWC(x, [1, 3, 3, 1], new Float32Array(4).fill(1), [1, 2, 2, 1], [2, 2, 1, 1], 1, 1, 0, 0)
    assert.deepEqual(Array.from(dw), [12, 16, 24, 28])
    // im2col^T rows = filter taps (kh, kw), columns = output positions
    assert.deepEqual(Array.from(im2col(x, [1, 3, 3, 1], 2, 2, 2, 2, 1, 1, 0, 0)), [1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9])
    assert.throws(() => conv2dBackpropFilterNHWC(x, [1, 3, 3, 1], new Float32Array(4), [1, 2, 2, 2], [2, 2, 1, 1], 1, 1, 0, 0), { name: 'BackendError' })
  })
})
