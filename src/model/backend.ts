/**
 * One place that chooses the TF.js backend. Preference: WASM with SIMD (XNNPACK
 * kernels; several times faster than the pure-JS CPU backend on dense layers),
 * else the CPU backend with a printed message.
 *
 * The WASM binaries are loaded from node_modules (no network): in Node we resolve
 * @tensorflow/tfjs-backend-wasm's dist/ directory and pass it to setWasmPaths.
 * In a browser the page must pass `wasmPaths` (a URL prefix where it serves the
 * three .wasm files); otherwise TF.js would fetch them from a CDN, so we refuse.
 */
import * as tf from '@tensorflow/tfjs'
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm'
import { BackendError } from './errors.ts'
import { registerWasmConv2DBackpropFilter } from './wasm-conv-grad.ts'

export interface BackendOptions {
  /** 'wasm' (default) or 'cpu'. */
  prefer?: 'wasm' | 'cpu'
  /** URL/path prefix of the .wasm files (required in the browser). */
  wasmPaths?: string
  /** Do not print the fallback message. */
  quiet?: boolean
}

export interface BackendInfo {
  name: 'wasm' | 'cpu'
  simd: boolean
  threads: boolean
  /** Why WASM was not used, when it was not. */
  fallbackReason?: string
}

let wasmPathsSet = false

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string'

async function nodeWasmDir(): Promise<string> {
  const { createRequire } = await import('node:module')
  const path = await import('node:path')
  const fs = await import('node:fs')
  const require = createRequire(import.meta.url)
  const main = require.resolve('@tensorflow/tfjs-backend-wasm')
  const dir = path.dirname(main)
  if (!fs.existsSync(path.join(dir, 'tfjs-backend-wasm-simd.wasm'))) throw new BackendError(`no tfjs-backend-wasm-simd.wasm in ${dir}`)
  return dir + path.sep
}

/** Select and initialise the backend; safe to call repeatedly (switches if asked). */
export async function initBackend(opts: BackendOptions = {}): Promise<BackendInfo> {
  const prefer = opts.prefer ?? 'wasm'
  if (prefer !== 'wasm' && prefer !== 'cpu') throw new BackendError(`unknown backend '${String(prefer)}' (expected wasm or cpu)`)
  let fallbackReason: string | undefined
  if (prefer === 'wasm') {
    try {
      if (!wasmPathsSet) {
        const prefix = opts.wasmPaths ?? (isNode ? await nodeWasmDir() : undefined)
        if (prefix === undefined) throw new BackendError('wasmPaths is required in the browser (no CDN fetches)')
        setWasmPaths(prefix)
        wasmPathsSet = true
      }
      registerWasmConv2DBackpropFilter()
      if (await tf.setBackend('wasm')) {
        await tf.ready()
        return { name: 'wasm', simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT'), threads: tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') }
      }
      fallbackReason = 'tf.setBackend("wasm") returned false'
    } catch (err) {
      fallbackReason = (err as Error).message
    }
    if (opts.quiet !== true) console.error(`tessera: WASM backend unavailable (${fallbackReason}); using the CPU backend`)
  }
  if (!(await tf.setBackend('cpu'))) throw new BackendError('neither the WASM nor the CPU backend could be initialised')
  await tf.ready()
  // The CPU backend prints a banner recommending tfjs-node on its first write in
  // Node; we chose CPU deliberately (and said why above), so silence it.
  const cpu = tf.backend() as unknown as { firstUse?: boolean }
  if (typeof cpu.firstUse === 'boolean') cpu.firstUse = false
  return { name: 'cpu', simd: false, threads: false, ...(fallbackReason === undefined ? {} : { fallbackReason }) }
}
