/**
 * Replay a libp2p run (libp2p-node.ts) on the fast path: the same updates, the
 * groups the network formed, the same initial model and round parameters. What
 * a network cannot change is the arithmetic: every round's model hash must be
 * equal, bit for bit (docs/architecture/harness.md, "--network libp2p").
 * Pure (no I/O): the run's record comes in as data.
 */
import { InvalidParametersError } from '../../util/errors.ts'
import { fastSimulate } from './fast.ts'
import { modelHash } from '../round/aggregate.ts'
import type { resolveRoundParams } from '../round/params.ts'

export interface NetworkRecord {
  peerIds: string[]
  initialModel: Float32Array
  rounds: ReadonlyArray<{ round: number, groups: string[][], modelHash: string }>
  /** 'i/round' -> update, and the SHA-256 hex of the model it was trained from. */
  updates: ReadonlyMap<string, Float32Array>
  trainedFrom: ReadonlyMap<string, string>
}

export interface ReplayRound { round: number, network: string, replay: string, equal: boolean, trainedFromSameModel: boolean }

const hex = (b: Uint8Array): string => Array.from(b, x => x.toString(16).padStart(2, '0')).join('')

export async function replayOnFastPath(run: NetworkRecord, seed: string, params: Parameters<typeof resolveRoundParams>[0]): Promise<{ peerIdsEqual: boolean, rounds: ReplayRound[] }> {
  if (run.rounds.length === 0) throw new InvalidParametersError('replay: the run has no rounds')
  const out: ReplayRound[] = []
  const sameModel = new Map<number, boolean>()
  const res = await fastSimulate({
    peers: run.peerIds.length, rounds: run.rounds.length, seed, initialModel: run.initialModel, params,
    givenGroups: (r) => run.rounds[r - 1]!.groups,
    train: (i, model, r) => {
      const key = `${i}/${r}`
      const u = run.updates.get(key)
      if (u === undefined) throw new InvalidParametersError(`replay: no update of peer ${i} in round ${r}`)
      sameModel.set(r, (sameModel.get(r) ?? true) && run.trainedFrom.get(key) === hex(modelHash(model)))
      return Float32Array.from(u)
    },
    onRound: (rep) => {
      const net = run.rounds[rep.round - 1]!.modelHash
      const mine = hex(modelHash(rep.model))
      out.push({ round: rep.round, network: net, replay: mine, equal: net === mine, trainedFromSameModel: sameModel.get(rep.round) ?? false })
    }
  })
  return { peerIdsEqual: res.peerIds.join(',') === run.peerIds.join(','), rounds: out }
}
