/**
 * Data specs: which dataset a peer trains on and which part of it.
 *
 *   <dataset>[:<key>=<value>(,<key>=<value>)*]
 *
 *   dataset   mnist | fashion-mnist | csv
 *   partition i/n      this peer's part, 0-based: i in [0, n)   (default: whole set)
 *   scheme    iid | dirichlet | shards                           (default iid)
 *   alpha     Dirichlet concentration > 0                        (default 0.5)
 *   shards    shards per peer (scheme=shards)                    (default 2)
 *   seed      split seed, any string without ',' or '='         (default 0)
 *   split     train | test                                       (default train)
 *   path      file path (csv only; may not contain ',')
 *   label     label column (csv only): index, 'first', 'last' or header name
 *   scale     feature divisor (csv only)                         (default 1)
 *
 * Examples: `mnist:partition=3/8` (part 3 of 8, iid, seed 0),
 * `mnist:partition=0/25,scheme=dirichlet,alpha=0.5,seed=7`,
 * `csv:path=/data/iris.csv,label=last,partition=1/4`.
 * Pure; unknown keys, repeated keys and bad values are PartitionErrors.
 */
import { PartitionError } from './errors.ts'
import type { PartitionScheme } from './partition.ts'
import { MAX_PARTS } from './partition.ts'

export type DatasetName = 'mnist' | 'fashion-mnist' | 'csv'

export interface DataSpec {
  dataset: DatasetName
  split: 'train' | 'test'
  /** Absent = the whole dataset. */
  partition?: { index: number, count: number }
  scheme: PartitionScheme
  alpha: number
  shardsPerPart: number
  seed: string
  csv?: { path: string, label: string | number, scale: number }
}

const DATASETS: readonly DatasetName[] = ['mnist', 'fashion-mnist', 'csv']
const KEYS = ['partition', 'scheme', 'alpha', 'shards', 'seed', 'split', 'path', 'label', 'scale'] as const
const MAX_SPEC_LENGTH = 4096

export function parseDataSpec(spec: string): DataSpec {
  if (typeof spec !== 'string' || spec.length === 0) throw new PartitionError('empty data spec')
  if (spec.length > MAX_SPEC_LENGTH) throw new PartitionError(`data spec longer than ${MAX_SPEC_LENGTH} characters`)
  const colon = spec.indexOf(':')
  const name = (colon < 0 ? spec : spec.slice(0, colon)).trim()
  if (!(DATASETS as readonly string[]).includes(name)) throw new PartitionError(`unknown dataset '${name}' (expected ${DATASETS.join(', ')})`)
  const kv = new Map<string, string>()
  if (colon >= 0) {
    const rest = spec.slice(colon + 1)
    if (rest.trim() === '') throw new PartitionError(`nothing after ':' in '${spec}'`)
    for (const part of rest.split(',')) {
      const eq = part.indexOf('=')
      if (eq <= 0) throw new PartitionError(`'${part}' is not key=value`)
      const k = part.slice(0, eq).trim()
      const v = part.slice(eq + 1).trim()
      if (!(KEYS as readonly string[]).includes(k)) throw new PartitionError(`unknown key '${k}' (expected ${KEYS.join(', ')})`)
      if (kv.has(k)) throw new PartitionError(`key '${k}' given twice`)
      if (v === '') throw new PartitionError(`empty value for '${k}'`)
      kv.set(k, v)
    }
  }
  const out: DataSpec = {
    dataset: name as DatasetName,
    split: 'train',
    scheme: 'iid',
    alpha: 0.5,
    shardsPerPart: 2,
    seed: '0'
  }
  const p = kv.get('partition')
  if (p !== undefined) {
    const m = /^(\d{1,6})\/(\d{1,6})$/.exec(p)
    if (m === null) throw new PartitionError(`partition must be i/n, got '${p}'`)
    const index = Number(m[1])
    const count = Number(m[2])
    if (count < 1 || count > MAX_PARTS) throw new PartitionError(`partition count must be in [1, ${MAX_PARTS}], got ${count}`)
    if (index >= count) throw new PartitionError(`partition index ${index} must be below ${count} (indices are 0-based)`)
    out.partition = { index, count }
  }
  const scheme = kv.get('scheme')
  if (scheme !== undefined) {
    if (scheme !== 'iid' && scheme !== 'dirichlet' && scheme !== 'shards') throw new PartitionError(`unknown scheme '${scheme}'`)
    out.scheme = scheme
  }
  const alpha = kv.get('alpha')
  if (alpha !== undefined) {
    const a = Number(alpha)
    if (!Number.isFinite(a) || a <= 0 || a > 1e6) throw new PartitionError(`alpha must be a number in (0, 1e6], got '${alpha}'`)
    if (out.scheme !== 'dirichlet') throw new PartitionError('alpha only applies to scheme=dirichlet')
    out.alpha = a
  }
  const shards = kv.get('shards')
  if (shards !== undefined) {
    const s = Number(shards)
    if (!Number.isInteger(s) || s < 1 || s > 10_000) throw new PartitionError(`shards must be an integer in [1, 10000], got '${shards}'`)
    if (out.scheme !== 'shards') throw new PartitionError('shards only applies to scheme=shards')
    out.shardsPerPart = s
  }
  const seed = kv.get('seed')
  if (seed !== undefined) out.seed = seed
  const split = kv.get('split')
  if (split !== undefined) {
    if (split !== 'train' && split !== 'test') throw new PartitionError(`split must be train or test, got '${split}'`)
    out.split = split
  }
  const path = kv.get('path')
  const label = kv.get('label')
  const scale = kv.get('scale')
  if (out.dataset === 'csv') {
    if (path === undefined) throw new PartitionError('csv needs path=<file>')
    const sc = scale === undefined ? 1 : Number(scale)
    if (!Number.isFinite(sc) || sc <= 0) throw new PartitionError(`scale must be a positive number, got '${String(scale)}'`)
    const lab = label === undefined ? 0 : /^\d+$/.test(label) ? Number(label) : label
    out.csv = { path, label: lab, scale: sc }
    if (split !== undefined) throw new PartitionError('split does not apply to csv (one file = one set)')
  } else if (path !== undefined || label !== undefined || scale !== undefined) {
    throw new PartitionError('path, label and scale only apply to csv')
  }
  return out
}

/** The canonical string of a spec (parseDataSpec(formatDataSpec(s)) equals s). */
export function formatDataSpec(s: DataSpec): string {
  const kv: string[] = []
  if (s.csv !== undefined) {
    kv.push(`path=${s.csv.path}`, `label=${s.csv.label}`)
    if (s.csv.scale !== 1) kv.push(`scale=${s.csv.scale}`)
  }
  if (s.partition !== undefined) kv.push(`partition=${s.partition.index}/${s.partition.count}`)
  if (s.scheme !== 'iid') kv.push(`scheme=${s.scheme}`)
  if (s.scheme === 'dirichlet') kv.push(`alpha=${s.alpha}`)
  if (s.scheme === 'shards') kv.push(`shards=${s.shardsPerPart}`)
  if (s.seed !== '0') kv.push(`seed=${s.seed}`)
  if (s.dataset !== 'csv' && s.split !== 'train') kv.push(`split=${s.split}`)
  return kv.length === 0 ? s.dataset : `${s.dataset}:${kv.join(',')}`
}
