/**
 * The persistent-outlier evidence as the ledger records it (issue #5: exclusion binding in
 * the live protocol). Every round checkpoint of a network whose charter enables exclusion
 * carries `projections`: per planned group (plan order), the group mean's projection on the
 * aggregate's direction, p_j = <mean_j, agg> / ||agg|| (src/gossip-fl/aggregation/distances.ts
 * `projectionsOnAggregate`, over the group means every member reconstructs bit for bit from
 * the group sums), as a FIXED-POINT INTEGER:
 *
 *     q_j = sign(p_j) * floor(|p_j| * 2^20 + 1/2)      (round half away from zero)
 *
 * clamped to [-(2^53 - 1), 2^53 - 1], and q_j = 0 for a group whose sum was not
 * reconstructed (empty in the checkpoint). Why integers: dag-cbor encodes every float as
 * an 8-byte IEEE double, canonical but NaN and -0 need extra rules; a safe integer has one
 * encoding and no NaN, and the members already agree on p_j to the bit, so on q_j too.
 * 2^20 (about 1e-6) is far below any update's scale (the clip norm C is 1 to 10) and keeps
 * |q| safe for |p| up to 2^33. Decoding: p = q / 2^20 (exact: a power of two).
 *
 * The history that src/reputation/outliers.ts tests is built from the checkpoints with
 * `checkpointEvidence`: the non-empty groups and their decoded projections. Pure, no I/O.
 */
import { InvalidParametersError, TesseraError } from '../util/errors.ts'
import { isPeerId } from './peer-id.ts'
import type { OutlierRound } from './outliers.ts'

/** q = round(p * PROJECTION_SCALE). */
export const PROJECTION_SCALE_BITS = 20
export const PROJECTION_SCALE = 2 ** PROJECTION_SCALE_BITS
/** Largest |q| (a safe integer: one dag-cbor encoding, exact in a double). */
export const MAX_PROJECTION_Q = Number.MAX_SAFE_INTEGER
/** Most groups one checkpoint's evidence may name (the round messages' LIMITS.maxGroups). */
export const MAX_EVIDENCE_GROUPS = 65_536

/** A checkpoint's projections are not a valid encoding (wrong length, not integers, out of range, non-zero for an empty group). */
export class InvalidProjectionsError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'InvalidProjectionsError'
  }
}

/** One projection to its integer encoding (round half away from zero, clamped). Throws on a non-finite value. */
export function encodeProjection(p: number): number {
  if (typeof p !== 'number' || !Number.isFinite(p)) throw new InvalidParametersError(`projection must be a finite number, got ${String(p)}`)
  const a = Math.floor(Math.abs(p) * PROJECTION_SCALE + 0.5)
  const q = Math.min(a, MAX_PROJECTION_Q)
  return p < 0 && q !== 0 ? -q : q
}

/** The integer encoding back to a projection (exact). */
export function decodeProjection(q: number): number {
  if (!Number.isSafeInteger(q)) throw new InvalidProjectionsError(`projection encoding must be a safe integer, got ${String(q)}`)
  return q / PROJECTION_SCALE
}

/**
 * A checkpoint's `projections` from the projections of its reconstructed groups:
 * `included[i]` is the plan index of `projections[i]`; the other groups of the plan's
 * `groupCount` get 0.
 */
export function checkpointProjections(groupCount: number, included: readonly number[], projections: ArrayLike<number>): number[] {
  if (!Number.isSafeInteger(groupCount) || groupCount < 0 || groupCount > MAX_EVIDENCE_GROUPS) throw new InvalidParametersError(`groupCount must be an integer in [0, ${MAX_EVIDENCE_GROUPS}]`)
  if (included.length !== projections.length) throw new InvalidParametersError(`${projections.length} projections for ${included.length} included groups`)
  const out = new Array<number>(groupCount).fill(0)
  included.forEach((j, i) => {
    if (!Number.isSafeInteger(j) || j < 0 || j >= groupCount) throw new InvalidParametersError(`included group ${String(j)} out of range`)
    out[j] = encodeProjection(projections[i]!)
  })
  return out
}

/**
 * Check the form of a checkpoint's projections against its groups (members per plan
 * position, [] = not reconstructed): one safe integer per group, 0 for an empty one.
 * Throws InvalidProjectionsError.
 */
export function checkProjections(groups: readonly (readonly string[])[], projections: unknown): number[] {
  if (!Array.isArray(groups) || groups.length > MAX_EVIDENCE_GROUPS) throw new InvalidProjectionsError(`groups must be an array of at most ${MAX_EVIDENCE_GROUPS}`)
  if (!Array.isArray(projections)) throw new InvalidProjectionsError('projections must be an array')
  if (projections.length !== groups.length) throw new InvalidProjectionsError(`${projections.length} projections for ${groups.length} groups`)
  projections.forEach((q, j) => {
    if (typeof q !== 'number' || !Number.isSafeInteger(q)) throw new InvalidProjectionsError(`projections[${j}] must be a safe integer`)
    if (groups[j]!.length === 0 && q !== 0) throw new InvalidProjectionsError(`projections[${j}] must be 0: group ${j} was not reconstructed`)
  })
  return projections as number[]
}

/**
 * One round's outlier evidence from a checkpoint: its non-empty groups and their decoded
 * projections (an empty group, not reconstructed, is no evidence and would bias the
 * round's median). Throws InvalidProjectionsError on a malformed encoding.
 */
export function checkpointEvidence(groups: readonly (readonly string[])[], projections: unknown): OutlierRound {
  const qs = checkProjections(groups, projections)
  const out: { groups: string[][], projections: number[] } = { groups: [], projections: [] }
  groups.forEach((g, j) => {
    if (g.length === 0) return
    for (const p of g) if (!isPeerId(p)) throw new InvalidProjectionsError(`groups[${j}] holds a malformed peer id`)
    out.groups.push([...g])
    out.projections.push(decodeProjection(qs[j]!))
  })
  return out
}
