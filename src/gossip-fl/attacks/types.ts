/**
 * The common interface of the attack library (for the researchers' harness,
 * DESIGN.md "researchers who study decentralized Byzantine tolerance").
 *
 * An attack is a pure function: given what the attackers know this round, its
 * parameters and an injected Rng, it returns the Byzantine updates. Attacks are
 * omniscient where their paper assumes it (ALIE, IPM, min-max/min-sum read the
 * honest updates), which is the worst case a defence must survive.
 */
import type { Rng } from '../../util/rng.ts'

export type AttackName =
  | 'sign-flip'
  | 'gaussian'
  | 'alie'
  | 'ipm'
  | 'min-max'
  | 'min-sum'
  | 'model-replacement'
  | 'free-riding'

export interface AttackInput {
  /** Honest updates of the round (at least one; all the same length). */
  readonly honest: readonly Float32Array[]
  /** Number of Byzantine updates to produce (0 allowed). */
  readonly count: number
  /**
   * The attackers' own updates, attacker k using own[k mod own.length]: honestly
   * trained ones for sign flip with base 'own', backdoor-trained ones for model
   * replacement.
   */
  readonly own?: readonly Float32Array[]
  /** A stale update (e.g. the previous round's aggregate), for free riding in 'stale' mode. */
  readonly previous?: Float32Array
}

/**
 * Every attack respects Tessera's norm check, which refuses an update whose
 * norm exceeds the charter's C: the output is clipped to `normBound`, or, with
 * `useFullBudget`, rescaled to exactly `normBound` (the strongest attack that
 * still passes: DESIGN.md's reference attackers "use the whole norm budget").
 */
export interface NormBudgetParams {
  /** C, or null for no bound. */
  readonly normBound: number | null
  /** Rescale every output to norm exactly C (requires normBound). A zero vector stays zero. */
  readonly useFullBudget: boolean
}

export interface Attack<P extends NormBudgetParams> {
  readonly name: AttackName
  /** The paper the attack implements. */
  readonly citation: string
  readonly defaults: Readonly<P>
  /** Defaults, then merge, then validate; throws InvalidParametersError. */
  resolveParams(partial?: Partial<P>): Readonly<P>
  /** The `input.count` Byzantine updates (new arrays; inputs are not mutated). */
  craft(input: AttackInput, params: Partial<P> | undefined, rng: Rng): Float32Array[]
}
