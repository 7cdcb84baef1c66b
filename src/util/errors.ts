/**
 * Base class of every error Tessera throws on purpose. Subclasses set `name`, so
 * callers and tests can tell errors apart by `err.name` across module and realm
 * boundaries (instanceof fails across bundles; a name does not).
 */
export class TesseraError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'TesseraError'
  }
}

/** A parameter object failed validation (House style 7: defaults, merge, validate). */
export class InvalidParametersError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'InvalidParametersError'
  }
}
