/**
 * Typed errors of the networking layer (src/node). Pure module: both transports
 * (in-memory and libp2p) throw exactly these, so the round protocol handles
 * network failures the same way in simulation and on real sockets. Tests and
 * callers match on `err.name` (House style 5).
 */
import { TesseraError } from '../util/errors.ts'

/** Which side enforced a size cap: our own cap, or the remote peer's. */
export type CapSide = 'local' | 'remote'

/** A frame or message exceeds the cap of its protocol or topic. */
export class FrameTooLargeError extends TesseraError {
  readonly limit: number
  readonly size: number | undefined
  readonly side: CapSide
  constructor (message: string, limit: number, size: number | undefined, side: CapSide) {
    super(message)
    this.name = 'FrameTooLargeError'
    this.limit = limit
    this.size = size
    this.side = side
  }
}

/** Bytes on a stream do not form a valid frame (bad varint, truncated, bad status, bad error body). */
export class MalformedFrameError extends TesseraError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'MalformedFrameError'
  }
}

/** A request did not complete before its deadline. */
export class RpcTimeoutError extends TesseraError {
  readonly timeoutMs: number
  constructor (message: string, timeoutMs: number) {
    super(message)
    this.name = 'RpcTimeoutError'
    this.timeoutMs = timeoutMs
  }
}

/** The caller's AbortSignal cancelled a request. */
export class RpcAbortedError extends TesseraError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'RpcAbortedError'
  }
}

/** The remote handler failed; `remoteName` is the name of the error it threw there. */
export class RemoteError extends TesseraError {
  readonly remoteName: string
  readonly remoteMessage: string
  constructor (remoteName: string, remoteMessage: string) {
    super(`remote handler failed: ${remoteName}: ${remoteMessage}`)
    this.name = 'RemoteError'
    this.remoteName = remoteName
    this.remoteMessage = remoteMessage
  }
}

/** No route to the peer: unknown, not dialable, disconnected. */
export class PeerUnreachableError extends TesseraError {
  readonly peer: string
  constructor (peer: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'PeerUnreachableError'
    this.peer = peer
  }
}

/** The peer is reachable but has no handler for the protocol. */
export class ProtocolNotSupportedError extends TesseraError {
  readonly protocol: string
  constructor (protocol: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ProtocolNotSupportedError'
    this.protocol = protocol
  }
}

/** The stream failed under a request (reset, closed with no response). */
export class RpcStreamError extends TesseraError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'RpcStreamError'
  }
}

/** The transport is not started (or already stopped). */
export class TransportNotStartedError extends TesseraError {
  constructor (message = 'transport is not started') {
    super(message)
    this.name = 'TransportNotStartedError'
  }
}

/** A handler is already registered for that protocol, or a subscription for that topic. */
export class AlreadyRegisteredError extends TesseraError {
  constructor (message: string) {
    super(message)
    this.name = 'AlreadyRegisteredError'
  }
}

/** A peer name is not 64 lowercase hex characters (a raw Ed25519 public key). */
export class InvalidPeerNameError extends TesseraError {
  constructor (message: string) {
    super(message)
    this.name = 'InvalidPeerNameError'
  }
}

/** The key file is readable by group or others; Tessera refuses to use it. */
export class InsecureKeyFileError extends TesseraError {
  readonly path: string
  readonly mode: number
  constructor (path: string, mode: number) {
    super(`key file ${path} has mode ${(mode & 0o777).toString(8).padStart(3, '0')}; it must not be readable by group or others (chmod 600)`)
    this.name = 'InsecureKeyFileError'
    this.path = path
    this.mode = mode
  }
}

/** The key file exists but does not hold a valid Ed25519 private key. */
export class InvalidKeyFileError extends TesseraError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'InvalidKeyFileError'
  }
}

/**
 * A Noise handshake handed the X25519 code a key that is not 32 bytes (RFC 7748 §5: keys are
 * exactly 32 bytes). The handshake fails with this error and the connection is dropped.
 */
export class InvalidX25519KeyError extends TesseraError {
  readonly length: number
  constructor (message: string, length: number) {
    super(message)
    this.name = 'InvalidX25519KeyError'
    this.length = length
  }
}
