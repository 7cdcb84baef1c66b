/**
 * Splitting one dataset among peers. Every split is a pure function of the
 * labels, the number of parts and an injected Rng, so every peer that uses the
 * same seed computes the same split and takes its own part; every index is used
 * exactly once across the parts.
 *
 * - iid: a uniform random permutation cut into n parts whose sizes differ by <= 1.
 * - dirichlet(alpha): label skew. For each class c, proportions p_c ~ Dir(alpha * 1_n)
 *   over the n parts, and the class's (shuffled) examples are cut accordingly.
 *   This is the Dirichlet label-skew model of Hsu, Qi, Brown 2019 ("Measuring the
 *   effects of non-identical data distribution for federated visual classification",
 *   arXiv:1909.06335) in the per-class allocation form of Yurochkin et al. 2019
 *   (arXiv:1905.12022) and Wang et al. 2020 (FedMA), which uses every example once.
 *   Small alpha -> each part holds few classes; alpha -> inf -> iid.
 * - shards: McMahan et al. 2017 ("Communication-efficient learning of deep networks
 *   from decentralized data", AISTATS, Sec. 3): sort by label, cut into
 *   n * shardsPerPart equal shards, give each part shardsPerPart random shards
 *   (MNIST: 200 shards of 300, 2 per client).
 */
import type { Rng } from '../util/rng.ts'
import { gaussian } from '../util/rng.ts'
import { PartitionError } from './errors.ts'
import { permutation, shuffleInPlace } from './shuffle.ts'

export type PartitionScheme = 'iid' | 'dirichlet' | 'shards'

export interface PartitionOptions {
  scheme: PartitionScheme
  /** Dirichlet concentration (dirichlet only), > 0. */
  alpha?: number
  /** Shards per part (shards only), >= 1. */
  shardsPerPart?: number
  /**
   * dirichlet only: redraw until every part has at least this many examples
   * (common practice, e.g. FedMA's code uses 10). Default 1. Bounded retries.
   */
  minSize?: number
}

export const MAX_PARTS = 100_000
const DIRICHLET_MAX_TRIES = 1000

/** Split `labels.length` examples into `parts` index lists. */
export function partition(labels: Uint8Array, classes: number, parts: number, opts: PartitionOptions, rng: Rng): Uint32Array[] {
  checkParts(labels.length, parts)
  switch (opts.scheme) {
    case 'iid': return iidPartition(labels.length, parts, rng)
    case 'dirichlet': return dirichletPartition(labels, classes, parts, opts.alpha ?? 0.5, rng, opts.minSize ?? 1)
    case 'shards': return shardPartition(labels, parts, opts.shardsPerPart ?? 2, rng)
    default: throw new PartitionError(`unknown scheme '${String((opts as { scheme: unknown }).scheme)}'`)
  }
}

export function iidPartition(n: number, parts: number, rng: Rng): Uint32Array[] {
  checkParts(n, parts)
  const perm = permutation(n, rng)
  const out: Uint32Array[] = []
  const base = Math.floor(n / parts)
  const extra = n % parts
  let off = 0
  for (let p = 0; p < parts; p++) {
    const size = base + (p < extra ? 1 : 0)
    out.push(perm.slice(off, off + size))
    off += size
  }
  return out
}

export function dirichletPartition(labels: Uint8Array, classes: number, parts: number, alpha: number, rng: Rng, minSize = 1): Uint32Array[] {
  checkParts(labels.length, parts)
  if (!Number.isFinite(alpha) || alpha <= 0 || alpha > 1e6) throw new PartitionError(`alpha must be in (0, 1e6], got ${String(alpha)}`)
  if (!Number.isInteger(minSize) || minSize < 0 || minSize * parts > labels.length) throw new PartitionError(`minSize ${String(minSize)} impossible for ${labels.length} examples in ${parts} parts`)
  const byClass = indicesByClass(labels, classes)
  for (let attempt = 0; attempt < DIRICHLET_MAX_TRIES; attempt++) {
    const lists: number[][] = Array.from({ length: parts }, () => [])
    for (const idx of byClass) {
      if (idx.length === 0) continue
      shuffleInPlace(idx, rng)
      const p = sampleDirichlet(rng, parts, alpha)
      // Cut points by cumulative proportion; rounding keeps every index once.
      let cum = 0
      let start = 0
      for (let k = 0; k < parts; k++) {
        cum += p[k]!
        const end = k === parts - 1 ? idx.length : Math.min(idx.length, Math.round(cum * idx.length))
        for (let j = start; j < end; j++) lists[k]!.push(idx[j]!)
        start = Math.max(start, end)
      }
    }
    if (lists.every((l) => l.length >= minSize)) return lists.map((l) => Uint32Array.from(l))
  }
  throw new PartitionError(`no Dirichlet(${alpha}) split with every part >= ${minSize} examples in ${DIRICHLET_MAX_TRIES} tries`)
}

export function shardPartition(labels: Uint8Array, parts: number, shardsPerPart: number, rng: Rng): Uint32Array[] {
  checkParts(labels.length, parts)
  if (!Number.isInteger(shardsPerPart) || shardsPerPart < 1) throw new PartitionError(`shardsPerPart must be a positive integer, got ${String(shardsPerPart)}`)
  const nShards = parts * shardsPerPart
  if (nShards > labels.length) throw new PartitionError(`${nShards} shards for ${labels.length} examples`)
  // Sort by label; ties in a random order so a shard is a random sample of its label(s).
  const order = Array.from(permutation(labels.length, rng))
  order.sort((a, b) => labels[a]! - labels[b]!)
  const shardOf = permutation(nShards, rng)
  const base = Math.floor(labels.length / nShards)
  const extra = labels.length % nShards
  const starts = new Array<number>(nShards + 1)
  starts[0] = 0
  for (let s = 0; s < nShards; s++) starts[s + 1] = starts[s]! + base + (s < extra ? 1 : 0)
  const out: Uint32Array[] = []
  for (let p = 0; p < parts; p++) {
    const mine: number[] = []
    for (let k = 0; k < shardsPerPart; k++) {
      const s = shardOf[p * shardsPerPart + k]!
      for (let j = starts[s]!; j < starts[s + 1]!; j++) mine.push(order[j]!)
    }
    out.push(Uint32Array.from(mine))
  }
  return out
}

/** Dir(alpha * 1_k) via normalised Gamma(alpha) draws. */
export function sampleDirichlet(rng: Rng, k: number, alpha: number): Float64Array {
  const g = new Float64Array(k)
  let sum = 0
  for (let i = 0; i < k; i++) {
    g[i] = sampleGamma(rng, alpha)
    sum += g[i]!
  }
  if (!(sum > 0)) {
    // All draws underflowed (tiny alpha): the limit is a point mass on one part.
    g.fill(0)
    g[Math.floor(rng.nextFloat() * k)] = 1
    return g
  }
  for (let i = 0; i < k; i++) g[i]! /= sum
  return g
}

/**
 * Gamma(shape, 1) by Marsaglia and Tsang 2000 ("A simple method for generating
 * gamma variables", ACM TOMS 26(3)); for shape < 1, Gamma(shape+1) * U^(1/shape).
 */
export function sampleGamma(rng: Rng, shape: number): number {
  if (shape < 1) {
    let u = 0
    while (u === 0) u = rng.nextFloat()
    return sampleGamma(rng, shape + 1) * Math.pow(u, 1 / shape)
  }
  const d = shape - 1 / 3
  const c = 1 / Math.sqrt(9 * d)
  // Acceptance rate is > 95% for every shape >= 1; the bound only stops a broken Rng.
  for (let i = 0; i < 10_000; i++) {
    const z = gaussian(rng)
    const v = Math.pow(1 + c * z, 3)
    if (v <= 0) continue
    const u = rng.nextFloat()
    if (Math.log(u) < 0.5 * z * z + d - d * v + d * Math.log(v)) return d * v
  }
  throw new PartitionError('gamma sampler did not accept in 10,000 draws')
}

function indicesByClass(labels: Uint8Array, classes: number): number[][] {
  const by: number[][] = Array.from({ length: classes }, () => [])
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!
    if (l >= classes) throw new PartitionError(`label ${l} at ${i} is not below classes = ${classes}`)
    by[l]!.push(i)
  }
  return by
}

function checkParts(n: number, parts: number): void {
  if (!Number.isInteger(parts) || parts < 1 || parts > MAX_PARTS) throw new PartitionError(`parts must be an integer in [1, ${MAX_PARTS}], got ${String(parts)}`)
  if (parts > n) throw new PartitionError(`${parts} parts for ${n} examples`)
}
