/**
 * Step 5 of DESIGN.md "A round", and its public verification: from the published
 * group sums, the robust rule over the group MEANS gives the aggregate, and
 * model r = model r-1 + serverLr * aggregate. Everything here is a pure function
 * of published data, so any peer re-runs it and checks the checkpoint's model hash
 * bit for bit (`recomputeFromBlob`).
 *
 * Group sums are published as exact field vectors (with the fixed-point bits and
 * the group sizes) in one canonical dag-cbor blob; the checkpoint carries its
 * SHA-256 (`groupSumsHash`).
 */
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from '@noble/hashes/sha2.js'
import { P, HALF } from '../../secret-sharing/field.ts'
import { ruleByName, type RuleState } from './rules.ts'
import { bytesAsVector, vectorToBytes, LIMITS, LITTLE_ENDIAN, type Hash } from './messages.ts'
import { MessageDecodeError, MessageTooLargeError } from './errors.ts'
import { InvalidParametersError } from '../../util/errors.ts'
import { projectionsOnAggregate } from '../aggregation/distances.ts'
import { checkpointProjections, checkProjections } from '../../reputation/outlier-evidence.ts'

export interface GroupSums {
  round: number
  retry: number
  /** fixed-point bits: real value = centered field value / 2^bits */
  bits: number
  sizes: number[]
  sums: Uint32Array[]
}

export interface RuleSpec {
  name: string
  params?: Record<string, unknown>
}

export interface RecomputeOptions {
  serverLr: number
  /** Group means with a larger L2 norm are scaled down to it (see round.md "modular wrap"). */
  meanNormBound: number
}

export function encodeGroupSums(g: GroupSums): Uint8Array {
  // Views, not copies, on little-endian platforms: dag-cbor copies them into the blob.
  const view = (s: Uint32Array): Uint8Array => LITTLE_ENDIAN ? new Uint8Array(s.buffer, s.byteOffset, s.byteLength) : vectorToBytes(s)
  return dagCbor.encode({ round: g.round, retry: g.retry, bits: g.bits, groups: g.sums.map((s, i) => ({ size: g.sizes[i]!, sum: view(s) })) })
}

/** Decode a published group-sums blob; typed errors on anything malformed or over the caps. */
export function decodeGroupSums(b: Uint8Array): GroupSums {
  if (!(b instanceof Uint8Array)) throw new MessageDecodeError('group sums must be bytes')
  const cap = 64 * LIMITS.maxVectorBytes
  if (b.length > cap) throw new MessageTooLargeError(`group sums blob of ${b.length} bytes exceeds ${cap}`)
  let o: Record<string, unknown>
  try {
    o = dagCbor.decode(b) as Record<string, unknown>
  } catch (err) {
    throw new MessageDecodeError(`group sums: not dag-cbor: ${(err as Error).message}`, { cause: err })
  }
  const bad = (m: string): never => { throw new MessageDecodeError(`group sums: ${m}`) }
  if (o === null || typeof o !== 'object' || !Array.isArray(o.groups)) bad('missing groups')
  const isInt = (v: unknown, max: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max
  if (!isInt(o.round, LIMITS.maxRound) || !isInt(o.retry, LIMITS.maxRetry) || !isInt(o.bits, 30)) bad('bad header')
  const sizes: number[] = []
  const sums: Uint32Array[] = []
  let dim = -1
  for (const e of o.groups as unknown[]) {
    const g = e as Record<string, unknown>
    if (g === null || typeof g !== 'object' || !isInt(g.size, LIMITS.maxContributors) || g.size < 1 || !(g.sum instanceof Uint8Array)) bad('bad group entry')
    const v = bytesAsVector(g.sum as Uint8Array) // a view of the decoder's own copy
    if (dim >= 0 && v.length !== dim) bad('group sums of different lengths')
    dim = v.length
    sizes.push(g.size as number)
    sums.push(v)
  }
  return { round: o.round as number, retry: o.retry as number, bits: o.bits as number, sizes, sums }
}

/** `hash` (default: pure-JS SHA-256) lets a host pass a native SHA-256 (same digest, faster). */
export function groupSumsHash(blob: Uint8Array, hash: Hash = sha256): Uint8Array {
  return hash(blob)
}

/** SHA-256 of the model's little-endian float32 bytes. */
export function modelHash(model: Float32Array, hash: Hash = sha256): Uint8Array {
  if (LITTLE_ENDIAN) return hash(new Uint8Array(model.buffer, model.byteOffset, model.byteLength))
  const b = new Uint8Array(model.length * 4)
  const dv = new DataView(b.buffer)
  for (let i = 0; i < model.length; i++) dv.setFloat32(i * 4, model[i]!, true)
  return hash(b)
}

/** SHA-256 of a canonical encoding of a rule state (its name and any Float32Array fields as bytes). */
export function ruleStateHash(state: RuleState | undefined, hash: Hash = sha256): Uint8Array {
  if (state === undefined) return hash(new Uint8Array(0))
  const o: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(state)) {
    if (v instanceof Float32Array) o[k] = new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength))
    else o[k] = v
  }
  return hash(dagCbor.encode(o))
}

/**
 * groupMean(decodeFixed(sum, scale), size, bound) in one pass, without the float64
 * intermediate (an 800 KB allocation per group for the MLP): the same operations in
 * the same order (centered value / scale, exact for scale = 2^bits; / size; rounded
 * to float32), so the result is bit for bit the same.
 */
export function groupMeanFromField(sum: Uint32Array, scale: number, size: number, bound: number): Float32Array {
  const mean = new Float32Array(sum.length)
  const norm = Math.sqrt(fieldMeanKernel(sum, scale, size, mean))
  if (norm > bound) scaleKernel(mean, bound / norm)
  return mean
}

// The loops of the recomputation (issue #4), each the whole body of a small function, primed
// once at load (`prime` below): V8 compiles each once with complete type feedback, instead of
// compiling the callers on stack replacement mid-vector and bailing out after the loop on
// every call (measured with --trace-deopt in the 10-peer round: groupMeanFromField, fromMeans,
// centeredClipping), with the baseline tier boxing every float (heap numbers) meanwhile.
// Same operations in the same order as the former inline loops: the same bits.

/** mean[i] = fround(centered(sum[i]) / scale / size); returns the float64 sum of mean[i]^2 in index order. */
function fieldMeanKernel(sum: Uint32Array, scale: number, size: number, mean: Float32Array): number {
  let sq = 0
  for (let i = 0; i < sum.length; i++) {
    const v = sum[i]!
    // Math.fround is the float32 store, without reading it back from memory.
    const m = Math.fround(((v > HALF ? v - P : v) / scale) / size)
    mean[i] = m
    sq += m * m
  }
  return sq
}

/** v[i] = v[i] * f (float64 product, rounded to float32 when stored). */
function scaleKernel(v: Float32Array, f: number): void {
  for (let i = 0; i < v.length; i++) v[i] = v[i]! * f
}

/** sum of (a[i] - b[i])^2 in float64, index order. */
function squaredDistanceKernel(a: Float32Array, b: Float32Array): number {
  let s = 0
  for (let i = 0; i < a.length; i++) { const d = a[i]! - b[i]!; s += d * d }
  return s
}

/** out[i] = prev[i] + lr * x[i] (float64, rounded to float32 when stored). */
function axpyKernel(out: Float32Array, prev: Float32Array, lr: number, x: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] = prev[i]! + lr * x[i]!
}

/** Group mean as float32, scaled down to `bound` if its norm exceeds it. */
export function groupMean(sum: Float64Array, size: number, bound: number): Float32Array {
  const mean = new Float32Array(sum.length)
  let sq = 0
  for (let i = 0; i < sum.length; i++) {
    mean[i] = sum[i]! / size
    sq += mean[i]! * mean[i]!
  }
  const norm = Math.sqrt(sq)
  if (norm > bound) {
    const f = bound / norm
    for (let i = 0; i < mean.length; i++) mean[i] = mean[i]! * f
  }
  return mean
}

export interface Recomputed {
  model: Float32Array
  aggregate: Float32Array
  /** The group means the rule aggregated (input order): the outlier evidence's inputs. */
  means: Float32Array[]
  ruleState: RuleState
  /** Indices (into the inputs) of group means far from the aggregate: reputation evidence. */
  far: number[]
}

/** A group mean is "far" when its distance to the aggregate exceeds this many times the median distance. */
export const FAR_FACTOR = 2

/**
 * Groups whose mean lies far from the robust aggregate (DESIGN.md "Reputation":
 * evidence against members of groups far from the aggregate; random regrouping
 * each round lets it single out a persistent attacker). Deterministic: distances
 * in float64 in input order, median of the sorted distances; none with < 3 groups.
 */
export function farGroupIndices(means: readonly Float32Array[], aggregate: Float32Array, factor = FAR_FACTOR): number[] {
  if (means.length < 3) return []
  const dist: number[] = []
  for (const m of means) dist.push(Math.sqrt(squaredDistanceKernel(m, aggregate)))
  const sorted = [...dist].sort((a, b) => a - b)
  const n = sorted.length
  const med = n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2
  const out: number[] = []
  dist.forEach((d, i) => { if (d > factor * med && d > 0) out.push(i) })
  return out
}

/**
 * model r from model r-1 and the decoded group sums: the charter's rule over the
 * group means, then model = prev + serverLr * aggregate, in float32.
 */
export function recomputeModel(prevModel: Float32Array, groupSums: readonly Float64Array[], groupSizes: readonly number[], rule: RuleSpec, ruleState: RuleState | undefined, opts: RecomputeOptions): Recomputed {
  if (groupSums.length === 0) throw new InvalidParametersError('recomputeModel needs at least one group sum')
  if (groupSums.length !== groupSizes.length) throw new InvalidParametersError('groupSums and groupSizes differ in length')
  for (const s of groupSums) if (s.length !== prevModel.length) throw new InvalidParametersError(`group sum of length ${s.length} for a model of ${prevModel.length}`)
  return fromMeans(prevModel, groupSums.map((s, i) => groupMean(s, groupSizes[i]!, opts.meanNormBound)), rule, ruleState, opts)
}

/**
 * recomputeModel from the exact field sums (fixed point with `scale` = 2^bits):
 * the same result bit for bit as recomputeModel over decodeFixed(sums), one pass
 * per group and no float64 copies (what the members' machines and every verifier run).
 */
export function recomputeModelFromField(prevModel: Float32Array, groupSums: readonly Uint32Array[], scale: number, groupSizes: readonly number[], rule: RuleSpec, ruleState: RuleState | undefined, opts: RecomputeOptions): Recomputed {
  if (groupSums.length === 0) throw new InvalidParametersError('recomputeModel needs at least one group sum')
  if (groupSums.length !== groupSizes.length) throw new InvalidParametersError('groupSums and groupSizes differ in length')
  for (const s of groupSums) if (s.length !== prevModel.length) throw new InvalidParametersError(`group sum of length ${s.length} for a model of ${prevModel.length}`)
  return fromMeans(prevModel, groupSums.map((s, i) => groupMeanFromField(s, scale, groupSizes[i]!, opts.meanNormBound)), rule, ruleState, opts)
}

function fromMeans(prevModel: Float32Array, means: Float32Array[], rule: RuleSpec, ruleState: RuleState | undefined, opts: RecomputeOptions): Recomputed {
  const r = ruleByName(rule.name).aggregate(means, ruleState, rule.params ?? {})
  const model = new Float32Array(prevModel.length)
  axpyKernel(model, prevModel, opts.serverLr, r.aggregate)
  return { model, aggregate: r.aggregate, means, ruleState: r.state, far: farGroupIndices(means, r.aggregate) }
}

/** The same from a published blob (exact field vectors), as any verifier runs it. */
export function recomputeFromBlob(prevModel: Float32Array, blob: Uint8Array, rule: RuleSpec, ruleState: RuleState | undefined, opts: RecomputeOptions): Recomputed {
  const g = decodeGroupSums(blob)
  return recomputeModelFromField(prevModel, g.sums, 2 ** g.bits, g.sizes, rule, ruleState, opts)
}

/**
 * The checkpoint's `projections` (src/reputation/outlier-evidence.ts): each reconstructed
 * group mean's projection on the aggregate's direction, fixed point, at its plan position
 * `included[i]`; 0 for the plan's other groups. Every member computes it from the same
 * means and aggregate (float64 sums in index order, one IEEE sqrt and divide): same bits.
 */
export function projectionsForCheckpoint(r: Pick<Recomputed, 'means' | 'aggregate'>, groupCount: number, included: readonly number[]): number[] {
  return checkpointProjections(groupCount, included, projectionsOnAggregate(r.means, r.aggregate))
}

/**
 * What a verifier holding the published group sums checks about a checkpoint's outlier
 * evidence: recompute the round from the blob and compare the projections (and the model
 * hash, which fixes the aggregate they project on). `groups`: the checkpoint's groups in
 * plan order ([] = not reconstructed; the blob holds the others' sums in that order).
 * Returns null when they match, else the reason. Throws only on a malformed blob.
 */
export function checkCheckpointProjections(
  body: { groups: ReadonlyArray<{ members: readonly string[] }>, projections?: readonly number[], modelHash: Uint8Array },
  blob: Uint8Array, prevModel: Float32Array, rule: RuleSpec, ruleState: RuleState | undefined, opts: RecomputeOptions, hash: Hash = sha256
): string | null {
  if (body.projections === undefined) return 'projections-missing'
  try {
    checkProjections(body.groups.map(g => g.members), body.projections)
  } catch (err) {
    return `projections-malformed: ${(err as Error).message}`
  }
  const included: number[] = []
  body.groups.forEach((g, j) => { if (g.members.length > 0) included.push(j) })
  const sums = decodeGroupSums(blob)
  if (sums.sizes.length !== included.length || included.some((j, i) => body.groups[j]!.members.length !== sums.sizes[i])) return 'group-sums-do-not-match-groups'
  const re = recomputeModelFromField(prevModel, sums.sums, 2 ** sums.bits, sums.sizes, rule, ruleState, opts)
  const mh = modelHash(re.model, hash)
  if (mh.length !== body.modelHash.length || mh.some((b, i) => b !== body.modelHash[i])) return 'model-hash-mismatch'
  const expected = projectionsForCheckpoint(re, body.groups.length, included)
  for (let j = 0; j < expected.length; j++) if (expected[j] !== body.projections[j]) return `projection-mismatch: group ${j}`
  return null
}

/** Run each kernel once on a small input so every operation has type feedback before V8 optimizes it. */
function prime(): void {
  const n = 67
  const sum = new Uint32Array(n)
  for (let i = 0; i < n; i++) sum[i] = i % 2 === 0 ? i * 7919 : P - 1 - i * 7919
  const a = new Float32Array(n)
  const b = new Float32Array(n)
  for (let pass = 0; pass < 2; pass++) {
    fieldMeanKernel(sum, 65536, 3, a)
    scaleKernel(a, 0.5)
    b.set(a)
    squaredDistanceKernel(a, b)
    axpyKernel(b, a, 0.5, a)
  }
}
prime()
