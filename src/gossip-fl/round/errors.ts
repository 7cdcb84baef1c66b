/**
 * Typed errors of the round state machine. A hostile or stale message never
 * escapes the machine as a throw: it is turned into one of these internally,
 * dropped, and reported as a `misbehaviour` output (see machine.ts). Callers and
 * tests tell them apart by `err.name`.
 */
import { TesseraError } from '../../util/errors.ts'

/** Bytes that are not a well-formed round message (bad CBOR, wrong shape, over a size cap). */
export class MessageDecodeError extends TesseraError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'MessageDecodeError'
  }
}

/** A message bigger than its family's explicit size cap; refused before decoding. */
export class MessageTooLargeError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'MessageTooLargeError'
  }
}

/** A message for another round or retry than the one the machine runs. */
export class WrongRoundError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'WrongRoundError'
  }
}

/** A second message of a kind a sender may send once (per retry, per recipient). */
export class DuplicateMessageError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'DuplicateMessageError'
  }
}

/** A sender sent a message its role does not allow (share from a non-contributor, partial sum from a non-member...). */
export class UnauthorizedSenderError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'UnauthorizedSenderError'
  }
}

/** A message whose signature does not verify under its claimed sender's key. */
export class BadSignatureError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'BadSignatureError'
  }
}

/** Well-formed, but its content contradicts the protocol (wrong length, commitment mismatch, bad plan...). */
export class ProtocolViolationError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'ProtocolViolationError'
  }
}

/** The machine was driven wrongly by its host (train result of wrong length, input after done...). */
export class RoundStateError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'RoundStateError'
  }
}
