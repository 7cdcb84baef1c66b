/**
 * Typed errors of ledger sync and model transfer (House style 5: callers and
 * tests match on `err.name`). Pure module.
 */
import { TesseraError } from '../../util/errors.ts'

/** A sync or model-fetch message (request, response or announcement) is malformed or breaks a cap. */
export class SyncProtocolError extends TesseraError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'SyncProtocolError'
  }
}

/** The local ledger holds no genesis and no peer offered the network's genesis. */
export class GenesisUnavailableError extends TesseraError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'GenesisUnavailableError'
  }
}

/** The service was used before start() or after stop(). */
export class SyncNotStartedError extends TesseraError {
  constructor (message = 'the sync service is not started') {
    super(message)
    this.name = 'SyncNotStartedError'
  }
}

/** Bytes received for a model do not hash to the requested model hash. */
export class ModelHashMismatchError extends TesseraError {
  readonly expected: string
  readonly actual: string
  readonly peer: string | undefined
  constructor (expected: string, actual: string, peer?: string) {
    super(`model bytes hash to ${actual}, expected ${expected}${peer === undefined ? '' : ` (served by ${peer})`}`)
    this.name = 'ModelHashMismatchError'
    this.expected = expected
    this.actual = actual
    this.peer = peer
  }
}

/** No peer (or the local store) holds the model with that hash. */
export class ModelNotFoundError extends TesseraError {
  readonly hash: string
  /** peers tried, with why each failed */
  readonly attempts: Array<{ peer: string, error: string }>
  constructor (hash: string, attempts: Array<{ peer: string, error: string }> = []) {
    super(`model ${hash} is not available${attempts.length > 0 ? `; tried ${attempts.map((a) => `${a.peer.slice(0, 8)}: ${a.error}`).join('; ')}` : ''}`)
    this.name = 'ModelNotFoundError'
    this.hash = hash
    this.attempts = attempts
  }
}

/** A model is larger than the configured cap (refused before any byte is stored). */
export class ModelTooLargeError extends TesseraError {
  readonly size: number
  readonly limit: number
  constructor (size: number, limit: number) {
    super(`model of ${size} bytes exceeds the cap of ${limit} bytes`)
    this.name = 'ModelTooLargeError'
    this.size = size
    this.limit = limit
  }
}

/** The model store failed (closed, database error, damaged blob). */
export class ModelStoreError extends TesseraError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ModelStoreError'
  }
}
