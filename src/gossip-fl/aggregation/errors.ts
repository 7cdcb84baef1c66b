/**
 * Typed errors of the aggregation rules (House style 5: tests assert on `err.name`).
 *
 * Parameter problems use the shared `InvalidParametersError` from src/util/errors.ts;
 * the classes here cover the inputs themselves and the rule state.
 */
import { TesseraError } from '../../util/errors.ts'

/**
 * The input vectors cannot be aggregated: empty list, vectors of different lengths,
 * non-finite entries (NaN, ±Infinity), too many inputs, or too few for the rule
 * (e.g. Krum needs n >= 2f + 3). Non-finite entries are rejected rather than
 * skipped: a group mean is reconstructed from fixed-point field elements and can
 * never be NaN, so a NaN here is a bug or an attack upstream, and silently dropping
 * coordinates would make peers' aggregates depend on how each one treats NaN.
 */
export class AggregationInputError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'AggregationInputError'
  }
}

/** The rule state passed in does not belong to the rule, or is malformed. */
export class RuleStateError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'RuleStateError'
  }
}

/** No aggregation rule (or attack) is registered under that name. */
export class UnknownStrategyError extends TesseraError {
  constructor(kind: string, name: string, known: readonly string[]) {
    super(`unknown ${kind} '${name}' (known: ${known.join(', ')})`)
    this.name = 'UnknownStrategyError'
  }
}
