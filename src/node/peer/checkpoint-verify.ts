/**
 * What a peer that did not compute a round's model itself checks before adopting it
 * (DESIGN.md "A round" 5: any peer can re-run the aggregation from the published group
 * sums; issue #5: and the outlier evidence the quorum co-signed).
 *
 * A committee member checks the checkpoint's `projections` by construction: it signs only
 * the body its own machine built from the sums it reconstructed. A non-member (or a peer
 * that learns the round from its ledger) fetches the group sums by the co-signed hash to
 * recompute the model anyway; with exclusion on (charter v3) the same recomputation gives
 * every group mean and the aggregate, hence the projections (`projectionsForCheckpoint`,
 * the members' own function): comparing them costs one dot product per group. A quorum that
 * co-signed other projections would, through the ledger's sticky exclusion rule, exclude
 * honest contributors (or spare an attacker) in every later round; refusing it is the only
 * local defence, since the ledger itself cannot check them (it does not hold the sums).
 */
import { TesseraError } from '../../util/errors.ts'
import { modelHash, projectionsForCheckpoint, recomputeFromBlob, ruleStateHash, type RecomputeOptions, type RuleSpec } from '../../gossip-fl/round/aggregate.ts'
import type { RuleState } from '../../gossip-fl/round/rules.ts'
import type { Hash } from '../../gossip-fl/round/messages.ts'
import { checkProjections } from '../../reputation/outlier-evidence.ts'
import { bytesEqual } from '../../gossip-fl/round/util.ts'

/**
 * A checkpoint whose co-signed projections (or model) are not what its published group sums
 * give. `signers`: the members whose signatures made it (the Peer charges each of them).
 */
export class CheckpointMismatchError extends TesseraError {
  readonly round: number
  readonly reason: string
  readonly signers: string[]
  constructor (round: number, reason: string, signers: readonly string[]) {
    super(`round ${round}: the co-signed checkpoint does not match its published group sums (${reason})`)
    this.name = 'CheckpointMismatchError'
    this.round = round
    this.reason = reason
    this.signers = [...signers]
  }
}

/** The parts of a checkpoint body (round machine or ledger) the check reads. */
export interface VerifiableBody {
  round: number
  /** members per plan group, hex peer ids; [] = not reconstructed */
  groups: ReadonlyArray<readonly string[]>
  projections?: readonly number[]
  modelHash: Uint8Array
  ruleStateHash?: Uint8Array
}

export interface VerifyInputs {
  body: VerifiableBody
  /** the group sums blob, already checked against the body's groupSumsHash */
  blob: Uint8Array
  prevModel: Float32Array
  ruleState: RuleState | undefined
  rule: RuleSpec
  opts: RecomputeOptions
  /** the charter enables persistent-outlier exclusion (projections required, else forbidden) */
  exclusion: boolean
  /** who signed the checkpoint (charged on a mismatch) */
  signers: readonly string[]
  hash: Hash
}

export interface Verified {
  model: Float32Array
  ruleState: RuleState
  /** model hash and (when given) rule state hash equal the recomputation */
  verified: boolean
  /** the projections were recomputed and matched (exclusion networks only) */
  projectionsChecked: boolean
}

/** The reason a body's projections differ from a recomputation, or null. */
export function projectionMismatch (body: Pick<VerifiableBody, 'groups' | 'projections'>, means: readonly Float32Array[], aggregate: Float32Array, exclusion: boolean): string | null {
  if (!exclusion) return body.projections === undefined ? null : 'projections-without-exclusion'
  if (body.projections === undefined) return 'projections-missing'
  try {
    checkProjections(body.groups, body.projections)
  } catch (err) {
    return `projections-malformed: ${(err as Error).message}`
  }
  const included: number[] = []
  body.groups.forEach((g, j) => { if (g.length > 0) included.push(j) })
  if (included.length !== means.length) return 'group-sums-do-not-match-groups'
  const expected = projectionsForCheckpoint({ means: [...means], aggregate }, body.groups.length, included)
  for (let j = 0; j < expected.length; j++) if (expected[j] !== body.projections[j]) return `projection-mismatch: group ${j}`
  return null
}

/**
 * Recompute the round from the published sums and check the co-signed model hash and
 * projections. Throws CheckpointMismatchError when either differs (the caller refuses the
 * checkpoint); a rule state hash that differs only clears `verified` (it is not co-signed in
 * the ledger's core; the round's info carries it).
 */
export function verifyFromSums (i: VerifyInputs): Verified {
  const re = recomputeFromBlob(i.prevModel, i.blob, i.rule, i.ruleState, i.opts)
  if (!bytesEqual(modelHash(re.model, i.hash), i.body.modelHash)) throw new CheckpointMismatchError(i.body.round, 'model-hash-mismatch', i.signers)
  const why = projectionMismatch(i.body, re.means, re.aggregate, i.exclusion)
  if (why !== null) throw new CheckpointMismatchError(i.body.round, why, i.signers)
  const verified = i.body.ruleStateHash === undefined || bytesEqual(ruleStateHash(re.ruleState, i.hash), i.body.ruleStateHash)
  return { model: re.model, ruleState: re.ruleState, verified, projectionsChecked: i.exclusion }
}
