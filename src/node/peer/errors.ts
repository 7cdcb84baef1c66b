/** Typed errors of the Peer service (House style 5: tests assert on `err.name`). */
import { TesseraError } from '../../util/errors.ts'

/** The data directory holds no ledger genesis and none was given. */
export class NoGenesisError extends TesseraError {
  constructor (message: string) {
    super(message)
    this.name = 'NoGenesisError'
  }
}

/** The peer is not started, or was stopped. */
export class PeerNotRunningError extends TesseraError {
  constructor (message = 'the peer is not running') {
    super(message)
    this.name = 'PeerNotRunningError'
  }
}

/** A co-signing or status request that does not decode or does not match this peer's view. */
export class PeerProtocolError extends TesseraError {
  constructor (message: string) {
    super(message)
    this.name = 'PeerProtocolError'
  }
}

/** The charter names a model or a setting this peer cannot run. */
export class UnsupportedCharterError extends TesseraError {
  constructor (message: string) {
    super(message)
    this.name = 'UnsupportedCharterError'
  }
}

/** A direct round request that is not a round message of its family: refused, never acknowledged. */
export class MalformedRoundMessageError extends TesseraError {
  constructor (message: string) {
    super(message)
    this.name = 'MalformedRoundMessageError'
  }
}
