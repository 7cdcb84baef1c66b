/**
 * Per-peer record-level DP-SGD plans for federated runs (issue #5, privacy goal).
 *
 * Each peer runs DP-SGD on its own shard: Poisson sampling at q_i = B_i / n_i,
 * per-example clip, Gaussian noise z C on the batch sum (Abadi et al. 2016, Alg. 1),
 * accounted per peer with the RDP of the sampled Gaussian mechanism. The guarantee
 * is per peer, so a run's epsilon is the largest over its peers.
 *
 * With one batch size for every peer, q_i = B / n_i and the smallest shard spends its
 * budget first. With a batch proportional to the shard, B_i = round(q n_i), every
 * peer has (nearly) the same q and the same epsilon, and large shards average their
 * clipped gradients over more examples, so their relative noise z C / B_i shrinks.
 *
 * Noise of the mean: each of n peers adds N(0, z^2 C^2) to its own batch sum, so the
 * mean of the n batch means has per-coordinate std z C / (B sqrt n) for equal B,
 * against z C / (n B) for central DP-SGD over the pooled lot of n B at the same z:
 * sqrt(n) more noise at the same q and steps (independent noise does not pool).
 */
import { InvalidPrivacyParameterError, requireInRange } from './errors.ts'
import { computeDpSgdPrivacy } from './dpsgd.ts'
import { maxStepsForEpsilon } from './budget.ts'

/** Largest shard list accepted (a peer count). */
export const MAX_PEERS = 100_000

function shardList(shardSizes: readonly number[]): number[] {
  if (!Array.isArray(shardSizes) || shardSizes.length === 0 || shardSizes.length > MAX_PEERS) {
    throw new InvalidPrivacyParameterError(`shardSizes must be a non-empty array of at most ${MAX_PEERS} sizes`)
  }
  return shardSizes.map((n, i) => {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new InvalidPrivacyParameterError(`shard ${i} size must be an integer >= 1, got ${String(n)}`)
    return n
  })
}

/** B_i = round(q n_i), at least 1 and at most n_i: the batch giving (nearly) sampling rate q on a shard of n_i records. */
export function peerBatchSize(samplingRate: number, shardSize: number): number {
  const q = requireInRange('sampling rate', samplingRate, 0, 1, { loOpen: true })
  if (typeof shardSize !== 'number' || !Number.isSafeInteger(shardSize) || shardSize < 1) throw new InvalidPrivacyParameterError(`shard size must be an integer >= 1, got ${String(shardSize)}`)
  return Math.max(1, Math.min(shardSize, Math.round(q * shardSize)))
}

export interface PeerEpsilonParams {
  /** Records per peer n_i. */
  readonly shardSizes: readonly number[]
  /** Expected batch B_i per peer (same length), 1 <= B_i <= n_i. */
  readonly batchSizes: readonly number[]
  readonly noiseMultiplier: number
  /** DP-SGD steps each peer takes (the same for all). */
  readonly steps: number
  readonly delta: number
}

/** epsilon_i at delta for every peer after `steps` DP-SGD steps at q_i = B_i / n_i. */
export function dpSgdPeerEpsilons(p: PeerEpsilonParams): number[] {
  if (p === null || typeof p !== 'object') throw new InvalidPrivacyParameterError('peer epsilon parameters must be an object')
  const n = shardList(p.shardSizes)
  if (!Array.isArray(p.batchSizes) || p.batchSizes.length !== n.length) throw new InvalidPrivacyParameterError('batchSizes must have one entry per shard')
  if (typeof p.steps !== 'number' || !Number.isSafeInteger(p.steps) || p.steps < 1) throw new InvalidPrivacyParameterError(`steps must be an integer >= 1, got ${String(p.steps)}`)
  // Peers with equal (n_i, B_i) have equal epsilon: compute each pair once.
  const memo = new Map<string, number>()
  return n.map((ni, i) => {
    const b = p.batchSizes[i]!
    const key = `${ni}/${b}`
    let e = memo.get(key)
    if (e === undefined) {
      e = computeDpSgdPrivacy({ examples: ni, batchSize: b, noiseMultiplier: p.noiseMultiplier, epochs: p.steps * b / ni, delta: p.delta }).epsilon
      memo.set(key, e)
    }
    return e
  })
}

export interface PeerPlanParams {
  readonly shardSizes: readonly number[]
  /** Either one sampling rate q for all peers (B_i = round(q n_i)) ... */
  readonly samplingRate?: number
  /** ... or one batch size for all peers (q_i = B / n_i; capped at n_i). */
  readonly batchSize?: number
  readonly noiseMultiplier: number
  /** Target epsilon per peer (every peer at or below it). */
  readonly epsilon: number
  readonly delta: number
  /** Local steps per round: the plan's step count is a multiple of it. */
  readonly localSteps: number
}

export interface PeerPlan {
  readonly batchSizes: number[]
  readonly rounds: number
  /** rounds * localSteps. */
  readonly steps: number
  readonly epsilons: number[]
  readonly maxEpsilon: number
}

/**
 * The longest run (whole rounds of `localSteps`) in which every peer's epsilon stays
 * <= target: the step budget of the largest q_i (maxStepsForEpsilon), rounded down to
 * whole rounds, then every peer's epsilon recomputed with computeDpSgdPrivacy (the
 * harness's figure). Throws if not even one round fits.
 */
export function planPeerDpSgd(p: PeerPlanParams): PeerPlan {
  if (p === null || typeof p !== 'object') throw new InvalidPrivacyParameterError('peer plan parameters must be an object')
  const n = shardList(p.shardSizes)
  if ((p.samplingRate === undefined) === (p.batchSize === undefined)) throw new InvalidPrivacyParameterError('give exactly one of samplingRate and batchSize')
  if (typeof p.localSteps !== 'number' || !Number.isSafeInteger(p.localSteps) || p.localSteps < 1) throw new InvalidPrivacyParameterError(`localSteps must be an integer >= 1, got ${String(p.localSteps)}`)
  let batchSizes: number[]
  if (p.samplingRate !== undefined) {
    batchSizes = n.map(ni => peerBatchSize(p.samplingRate!, ni))
  } else {
    const b = p.batchSize
    if (typeof b !== 'number' || !Number.isSafeInteger(b) || b < 1) throw new InvalidPrivacyParameterError(`batchSize must be an integer >= 1, got ${String(b)}`)
    batchSizes = n.map(ni => Math.min(ni, b))
  }
  const qMax = Math.max(...n.map((ni, i) => batchSizes[i]! / ni))
  const budget = maxStepsForEpsilon({ samplingRate: qMax, noiseMultiplier: p.noiseMultiplier, epsilon: p.epsilon, delta: p.delta })
  const rounds = Math.floor(budget.steps / p.localSteps)
  if (rounds < 1) throw new InvalidPrivacyParameterError(`epsilon ${p.epsilon} allows ${budget.steps} steps at q = ${qMax}, fewer than one round of ${p.localSteps}`)
  const steps = rounds * p.localSteps
  const epsilons = dpSgdPeerEpsilons({ shardSizes: n, batchSizes, noiseMultiplier: p.noiseMultiplier, steps, delta: p.delta })
  return { batchSizes, rounds, steps, epsilons, maxEpsilon: Math.max(...epsilons) }
}
