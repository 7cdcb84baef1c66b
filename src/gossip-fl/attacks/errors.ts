/**
 * Typed errors of the attack library (House style 5). Parameter problems use the
 * shared InvalidParametersError; unknown attack names the aggregation folder's
 * UnknownStrategyError.
 */
import { TesseraError } from '../../util/errors.ts'

/** The attack's input is unusable: bad honest updates, missing `own` or `previous` vectors, bad count. */
export class AttackInputError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'AttackInputError'
  }
}
