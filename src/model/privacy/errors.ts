/**
 * Typed errors of the privacy accountant. Every public function validates its
 * inputs at the edge (House style 7) and throws one of these, never a bare
 * Error, a NaN result or a hang.
 */
import { InvalidParametersError } from '../../util/errors.ts'

/** A privacy parameter (q, noise multiplier, delta, order, steps, ...) is out of range or not a finite number. */
export class InvalidPrivacyParameterError extends InvalidParametersError {
  constructor(message: string) {
    super(message)
    this.name = 'InvalidPrivacyParameterError'
  }
}

/** A privacy ledger was asked to record something inconsistent (a round twice, a mechanism of another unit). */
export class PrivacyLedgerError extends InvalidParametersError {
  constructor(message: string) {
    super(message)
    this.name = 'PrivacyLedgerError'
  }
}

/** @internal Validation helpers shared by the accountant's modules. */
export function requireFinite(name: string, x: unknown): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) {
    throw new InvalidPrivacyParameterError(`${name} must be a finite number, got ${String(x)}`)
  }
  return x
}

/** @internal */
export function requireInRange(name: string, x: unknown, lo: number, hi: number, opts: { loOpen?: boolean, hiOpen?: boolean } = {}): number {
  const v = requireFinite(name, x)
  const loOk = opts.loOpen === true ? v > lo : v >= lo
  const hiOk = opts.hiOpen === true ? v < hi : v <= hi
  if (!loOk || !hiOk) {
    const l = opts.loOpen === true ? '(' : '['
    const h = opts.hiOpen === true ? ')' : ']'
    throw new InvalidPrivacyParameterError(`${name} must be in ${l}${lo}, ${hi}${h}, got ${v}`)
  }
  return v
}

/** @internal */
export function requireNonNegativeInteger(name: string, x: unknown, max = Number.MAX_SAFE_INTEGER): number {
  const v = requireFinite(name, x)
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new InvalidPrivacyParameterError(`${name} must be an integer in [0, ${max}], got ${v}`)
  }
  return v
}
