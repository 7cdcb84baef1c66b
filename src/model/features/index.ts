/**
 * Fixed, data-independent feature maps applied to a whole Dataset before
 * training (issue #5, privacy goal). None of them looks at any training record
 * other than the one it transforms, so they cost no privacy budget: DP-SGD on
 * f(x) is DP with respect to x for any fixed f (post-processing of the input
 * map is not even needed: each record is replaced by a function of itself).
 *
 *   none      identity
 *   scatter   2-D scattering, J = 2, L = 8, order 1, per-example group
 *             normalisation: 17 channels x 8 x 8 = 1,088 features (scattering.ts)
 *   scatter2  the same with order 2: 81 channels x 8 x 8 = 5,184 features
 *   pool2     2 x 2 average pooling: 14 x 14 = 196 features
 *
 * Results are memoised per (dataset object, name) in a WeakMap, so a matrix of
 * runs over the same loaded data transforms it once.
 */
import { InvalidParametersError } from '../../util/errors.ts'
import { makeDataset, featureCount, type Dataset } from '../dataset.ts'
import { scatteringBank, scatterImages, type ScatteringOptions } from './scattering.ts'

export const FEATURE_NAMES = ['none', 'scatter', 'scatter2', 'pool2'] as const
export type FeatureName = typeof FEATURE_NAMES[number]

export function isFeatureName(s: unknown): s is FeatureName {
  return typeof s === 'string' && (FEATURE_NAMES as readonly string[]).includes(s)
}

const SCATTER: Record<'scatter' | 'scatter2', ScatteringOptions> = {
  scatter: { J: 2, L: 8, order: 1, normalize: 'group' },
  scatter2: { J: 2, L: 8, order: 2, normalize: 'group' }
}

const cache = new WeakMap<Dataset, Map<FeatureName, Dataset>>()

function squareSide(data: Dataset): number {
  const s = data.shape
  const ok = (s.length === 2 || (s.length === 3 && s[2] === 1)) && s[0] === s[1]
  if (!ok) throw new InvalidParametersError(`features: need square single-channel images ([H, H] or [H, H, 1]), got shape ${JSON.stringify(s)}`)
  return s[0]!
}

function pool2(data: Dataset): Dataset {
  const h = squareSide(data)
  if (h % 2 !== 0) throw new InvalidParametersError(`features pool2: image side must be even, got ${h}`)
  const o = h / 2
  const x = new Float32Array(data.n * o * o)
  for (let i = 0; i < data.n; i++) {
    const src = i * h * h
    const dst = i * o * o
    for (let a = 0; a < o; a++) {
      for (let b = 0; b < o; b++) {
        const p = src + 2 * a * h + 2 * b
        x[dst + a * o + b] = (data.x[p]! + data.x[p + 1]! + data.x[p + h]! + data.x[p + h + 1]!) / 4
      }
    }
  }
  return makeDataset(x, Uint8Array.from(data.y), [o, o, 1], data.classes)
}

function scatter(data: Dataset, name: 'scatter' | 'scatter2'): Dataset {
  const h = squareSide(data)
  const bank = scatteringBank(h, SCATTER[name])
  const x = scatterImages(bank, data.x.subarray(0, data.n * featureCount(data.shape)), data.n)
  return makeDataset(x, Uint8Array.from(data.y), bank.outShape, data.classes)
}

/** The dataset mapped by feature map `name` (memoised; 'none' returns `data` itself). */
export function applyFeatures(name: string, data: Dataset): Dataset {
  if (!isFeatureName(name)) throw new InvalidParametersError(`features must be one of ${FEATURE_NAMES.join(', ')}, got '${String(name)}'`)
  if (name === 'none') return data
  if (data === null || typeof data !== 'object' || !(data.x instanceof Float32Array)) throw new InvalidParametersError('features: data must be a Dataset')
  let m = cache.get(data)
  if (m === undefined) { m = new Map(); cache.set(data, m) }
  const hit = m.get(name)
  if (hit !== undefined) return hit
  const out = name === 'pool2' ? pool2(data) : scatter(data, name)
  m.set(name, out)
  return out
}
