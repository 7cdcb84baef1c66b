/**
 * From the round's outputs to E's ledger bodies (src/ledger/entry.ts), so the
 * node can sign, chain and append them. Peer ids (hex) become public-key bytes.
 * What the machine cannot know (CIDs of ledger entries, author chain heads) is
 * passed in by the node, which holds the ledger.
 */
import type { CID } from 'multiformats/cid'
import { peerIdBytes } from '../../reputation/peer-id.ts'
import type { ContributionBody, PlanBody, ReceiptBody, CheckpointCore, Head } from '../../ledger/entry.ts'
import type { CheckpointBody, PlanGroup } from './messages.ts'

export function contributionBody(round: number, retry: number, commitments: Uint8Array[]): ContributionBody {
  return { round, retry, commitments }
}

/** `acks`: CIDs of the contribution entries of the contributors the receipt lists, in its order. */
export function receiptBody(round: number, retry: number, acks: CID[]): ReceiptBody {
  return { round, retry, acks }
}

export function planBody(round: number, retry: number, groups: readonly PlanGroup[]): PlanBody {
  return { round, retry, groups: groups.map(g => g.members.map(peerIdBytes)) }
}

/**
 * E's checkpoint core for a round checkpoint body. `prev`: CID of checkpoint r-1
 * (or the genesis); `heads`: the author chain heads the checkpoint covers.
 * Groups keep the plan's positions (empty = not reconstructed), as E's LedgerState
 * requires; blame and refusals become key lists; `projections` (outlier evidence)
 * is copied when the body has it.
 */
export function checkpointCore(body: CheckpointBody, prev: CID, heads: Head[]): CheckpointCore {
  const core: CheckpointCore = {
    round: body.round,
    retry: body.retry,
    prev,
    modelHash: body.modelHash,
    groups: body.groups.map(g => g.members.map(peerIdBytes)),
    groupSumsHash: body.groupSumsHash,
    blame: body.blamed.map(b => peerIdBytes(b.peer)),
    refused: body.refused.map(r => peerIdBytes(r.peer)),
    farGroups: [...body.farGroups],
    heads
  }
  // The outlier evidence, when the network records it (charter v3 with exclusion): the key is absent otherwise.
  if (body.projections !== undefined) core.projections = [...body.projections]
  return core
}
