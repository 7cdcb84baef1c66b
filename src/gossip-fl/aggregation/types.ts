/**
 * The common interface of aggregation rules (House style 6: rules are pluggable
 * strategies; DP and secure sharing wrap them).
 *
 * A rule is a pure function of (inputs, previous state, parameters). State is
 * plain data (strings and Float32Arrays), so any peer can recompute a round's
 * aggregate bit for bit from the published group means and the previous state.
 */

/** Names of the rules that keep no state between rounds. */
export type StatelessRuleName =
  | 'mean'
  | 'coordinate-median'
  | 'trimmed-mean'
  | 'krum'
  | 'multi-krum'
  | 'geometric-median'

export type RuleName = StatelessRuleName | 'centered-clipping'

/** State of a stateless rule: only its name, so a state from another rule is caught. */
export interface StatelessRuleState {
  readonly rule: StatelessRuleName
}

/**
 * State of centered clipping: the previous center v (the server momentum of
 * Karimireddy, He, Jaggi 2021). It equals the rule's previous output, so a peer
 * that has the previous round's aggregate has the state.
 */
export interface CenteredClippingState {
  readonly rule: 'centered-clipping'
  readonly center: Float32Array
}

export type RuleState = StatelessRuleState | CenteredClippingState

export interface AggregationResult {
  /** The aggregate, a new Float32Array of the inputs' length. */
  readonly aggregate: Float32Array
  /** The state to pass to the next round's call. */
  readonly state: RuleState
  /** Krum / Multi-Krum: indices of the selected inputs, best score first. */
  readonly selected?: readonly number[]
  /** Iterative rules (geometric median, centered clipping): iterations run. */
  readonly iterations?: number
}

export interface AggregationRule<P extends object> {
  readonly name: RuleName
  /** The paper the rule implements. */
  readonly citation: string
  readonly defaults: Readonly<P>
  /** Defaults, then merge, then validate; throws InvalidParametersError. */
  resolveParams(partial?: Partial<P>): Readonly<P>
  /**
   * Aggregate `inputs` (n vectors of equal length, finite entries). `params` is
   * resolved against the defaults on every call. Throws AggregationInputError,
   * RuleStateError or InvalidParametersError; never returns NaN.
   */
  aggregate(inputs: readonly Float32Array[], state: RuleState | undefined, params?: Partial<P>): AggregationResult
}
