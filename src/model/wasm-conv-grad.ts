/**
 * The TF.js WASM backend (4.22) registers Conv2D and Conv2DBackpropInput but no
 * Conv2DBackpropFilter, so the gradient of a convolution's filter fails there.
 * This registers a JavaScript implementation for the 'wasm' backend:
 *
 *   dW[kh, kw, ci, co] = sum_{b, oh, ow} x[b, oh*sh + kh - padTop, ow*sw + kw - padLeft, ci] * dy[b, oh, ow, co]
 *
 * computed as im2col then one matrix product: patches^T [K = KH*KW*Ci, R = B*OH*OW]
 * is built in JS, and dW = patches^T . dy [R, Co] runs through the WASM backend's
 * own BatchMatMul kernel (XNNPACK, SIMD). When the patch matrix would be too
 * large (> 2^25 floats) or BatchMatMul is unavailable, a pure-JS path builds the
 * patch rows one at a time and does a rank-1 update per row (float64
 * accumulation, zero inputs skipped). NHWC only, dilation 1 (TF.js's own conv
 * gradient refuses dilation > 1 too). Both paths are checked against the CPU
 * backend in test/model/wasm-conv-grad.test.ts.
 */
import * as tf from '@tensorflow/tfjs'
import { BackendError } from './errors.ts'

interface WasmLikeBackend {
  readSync(dataId: object): unknown
  makeOutput(shape: number[], dtype: 'float32', memoryOffset?: number, values?: Float32Array): tf.TensorInfo
  disposeData(dataId: object): boolean
}

/** Largest im2col matrix (floats) sent to the WASM matmul; beyond it, the JS path. */
export const IM2COL_MAX_FLOATS = 1 << 25

/**
 * The transposed im2col matrix [KH*KW*Ci, B*OH*OW] of x for the given conv
 * geometry (pure). Transposed so the product with dy needs no transpose (the
 * WASM BatchMatMul's transposeA path is slower).
 */
export function im2col(
  x: Float32Array, xShape: readonly number[], outH: number, outW: number,
  KH: number, KW: number, strideH: number, strideW: number, padTop: number, padLeft: number
): Float32Array {
  const [B, H, W, Ci] = xShape as [number, number, number, number]
  const K = KH * KW * Ci
  const R = B * outH * outW
  const out = new Float32Array(R * K)
  let r = 0
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++) {
        let k = 0
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * strideH + kh - padTop
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * strideW + kw - padLeft
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
              const base = ((b * H + ih) * W + iw) * Ci
              for (let ci = 0; ci < Ci; ci++) out[(k + ci) * R + r] = x[base + ci]!
            }
            k += Ci
          }
        }
        r++
      }
    }
  }
  return out
}

/** The kernel body, exported for the CPU cross-check; pure over typed arrays. */
export function conv2dBackpropFilterNHWC(
  x: Float32Array, xShape: readonly number[], dy: Float32Array, dyShape: readonly number[],
  filterShape: readonly number[], strideH: number, strideW: number, padTop: number, padLeft: number
): Float32Array {
  const [B, H, W, Ci] = xShape as [number, number, number, number]
  const [B2, OH, OW, Co] = dyShape as [number, number, number, number]
  const [KH, KW, Ci2, Co2] = filterShape as [number, number, number, number]
  if (B !== B2 || Ci !== Ci2 || Co !== Co2) throw new BackendError(`Conv2DBackpropFilter: shapes x ${JSON.stringify(xShape)} dy ${JSON.stringify(dyShape)} filter ${JSON.stringify(filterShape)} disagree`)
  const K = KH * KW * Ci
  const acc = new Float64Array(K * Co)
  const patch = new Float32Array(K)
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        // im2col row for output position (b, oh, ow)
        let k = 0
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * strideH + kh - padTop
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * strideW + kw - padLeft
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
              patch.fill(0, k, k + Ci)
            } else {
              const base = ((b * H + ih) * W + iw) * Ci
              for (let ci = 0; ci < Ci; ci++) patch[k + ci] = x[base + ci]!
            }
            k += Ci
          }
        }
        // rank-1 update acc += patch^T dy_row
        const dyBase = ((b * OH + oh) * OW + ow) * Co
        for (let kk = 0; kk < K; kk++) {
          const v = patch[kk]!
          if (v === 0) continue
          const o = kk * Co
          for (let co = 0; co < Co; co++) acc[o + co]! += v * dy[dyBase + co]!
        }
      }
    }
  }
  return Float32Array.from(acc)
}

let registered = false

/** Register the kernel for 'wasm' if TF.js has none (idempotent). */
export function registerWasmConv2DBackpropFilter(): void {
  if (registered || tf.getKernel('Conv2DBackpropFilter', 'wasm') !== undefined) {
    registered = true
    return
  }
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: tf.TensorInfo, dy: tf.TensorInfo }
      const a = attrs as unknown as { strides: [number, number] | number, pad: 'valid' | 'same' | number, dataFormat?: 'NHWC' | 'NCHW', dimRoundingMode?: 'floor' | 'round' | 'ceil', filterShape: [number, number, number, number] }
      if (a.dataFormat === 'NCHW') throw new BackendError('Conv2DBackpropFilter (wasm, JS kernel): only NHWC is supported')
      const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast')
      const be = backend as unknown as WasmLikeBackend
      const xv = be.readSync(x.dataId) as Float32Array
      const dyv = be.readSync(dy.dataId) as Float32Array
      const [KH, KW, Ci, Co] = a.filterShape
      const R = dy.shape[0]! * dy.shape[1]! * dy.shape[2]!
      const matmul = tf.getKernel('BatchMatMul', 'wasm')
      if (matmul !== undefined && R * KH * KW * Ci <= IM2COL_MAX_FLOATS && dy.shape[3] === Co) {
        const cols = im2col(xv, x.shape, dy.shape[1]!, dy.shape[2]!, KH, KW, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left)
        const pa = be.makeOutput([1, KH * KW * Ci, R], 'float32', undefined, cols)
        const pb = be.makeOutput([1, R, Co], 'float32', undefined, dyv)
        try {
          const out = matmul.kernelFunc({ inputs: { a: pa, b: pb }, backend, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo
          return { dataId: out.dataId, shape: [...a.filterShape], dtype: 'float32' }
        } finally {
          be.disposeData(pa.dataId)
          be.disposeData(pb.dataId)
        }
      }
      const dw = conv2dBackpropFilterNHWC(xv, x.shape, dyv, dy.shape, a.filterShape, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left)
      return be.makeOutput([...a.filterShape], 'float32', undefined, dw)
    }
  })
  registered = true
}
