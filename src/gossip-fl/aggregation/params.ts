/**
 * Parameters of rules and attacks: defaults, then merge, then validate with a
 * typed error (House style 7). Unknown keys are refused rather than ignored, so a
 * typo in a charter or an experiment file ("trimFracton") fails loudly instead of
 * silently running with the default.
 */
import { InvalidParametersError } from '../../util/errors.ts'

/** Merge `partial` over `defaults`, refuse unknown keys, validate, freeze. */
export function resolveParams<P extends object>(
  what: string,
  defaults: Readonly<P>,
  partial: unknown,
  validate: (p: P) => void
): Readonly<P> {
  const given = partial ?? {}
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw new InvalidParametersError(`${what}: parameters must be an object`)
  }
  const merged: Record<string, unknown> = { ...defaults }
  for (const [key, value] of Object.entries(given as Record<string, unknown>)) {
    if (!Object.prototype.hasOwnProperty.call(defaults, key)) {
      throw new InvalidParametersError(`${what}: unknown parameter '${key}' (known: ${Object.keys(defaults).join(', ')})`)
    }
    if (value !== undefined) merged[key] = value
  }
  validate(merged as P)
  return Object.freeze(merged as P)
}

/** A finite number within [min, max] (bounds optional; `exclusiveMin` makes min strict). */
export function checkNumber(
  what: string,
  value: unknown,
  opts: { min?: number, max?: number, exclusiveMin?: boolean } = {}
): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidParametersError(`${what} must be a finite number, got ${String(value)}`)
  }
  if (opts.min !== undefined) {
    if (opts.exclusiveMin === true ? value <= opts.min : value < opts.min) {
      throw new InvalidParametersError(`${what} must be ${opts.exclusiveMin === true ? '>' : '>='} ${opts.min}, got ${value}`)
    }
  }
  if (opts.max !== undefined && value > opts.max) {
    throw new InvalidParametersError(`${what} must be <= ${opts.max}, got ${value}`)
  }
}

/** An integer within [min, max]. */
export function checkInteger(what: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new InvalidParametersError(`${what} must be an integer, got ${String(value)}`)
  }
  if (value < min || value > max) {
    throw new InvalidParametersError(`${what} must be in [${min}, ${max}], got ${value}`)
  }
}

/** One of a fixed set of strings. */
export function checkOneOf<T extends string>(what: string, value: unknown, allowed: readonly T[]): asserts value is T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidParametersError(`${what} must be one of ${allowed.join(', ')}, got ${String(value)}`)
  }
}

/** A boolean. */
export function checkBoolean(what: string, value: unknown): asserts value is boolean {
  if (typeof value !== 'boolean') throw new InvalidParametersError(`${what} must be a boolean, got ${String(value)}`)
}
