/**
 * Typed errors of the secret-sharing core. Tests and callers tell them apart by
 * `err.name` (see src/util/errors.ts).
 */
import { TesseraError } from '../util/errors.ts'

/** A value that should be a field element is not an integer in [0, p). */
export class FieldElementError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'FieldElementError'
  }
}

/**
 * A fixed-point value, a sum or a squared norm would leave the range in which the
 * field represents it exactly. Thrown instead of wrapping silently mod p.
 */
export class FieldOverflowError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'FieldOverflowError'
  }
}

/** No fixed-point scale satisfies the requested (norm bound, summands, dimension). */
export class FixedPointParametersError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'FixedPointParametersError'
  }
}

/** Bad sharing parameters: t < 1, t > m, m too large, non-integers. */
export class ShareParametersError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'ShareParametersError'
  }
}

/** Malformed shares: wrong lengths, x = 0, duplicate x, too few shares. */
export class ShareFormatError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'ShareFormatError'
  }
}

/** Points that must lie on one low-degree polynomial do not. */
export class InconsistentSharesError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'InconsistentSharesError'
  }
}

/** More holders are wrong than the redundancy can correct (floor((k - t) / 2)). */
export class TooManyFaultsError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'TooManyFaultsError'
  }
}

/** A printable form of any value for error messages; never throws (hostile objects). */
export function show(v: unknown): string {
  try {
    return typeof v === 'object' && v !== null ? Object.prototype.toString.call(v) : String(v)
  } catch {
    return '<unprintable>'
  }
}
