/**
 * Peer identifiers as reputation and committee selection see them: the lowercase
 * hex of a peer's 32-byte Ed25519 public key (64 characters). Anything else is a
 * typed error, never a silent coercion, so two peers can never disagree about
 * whether "AB…" and "ab…" are the same identity.
 */
import { TesseraError } from '../util/errors.ts'

/** A peer id is not 64 lowercase hex characters. */
export class InvalidPeerIdError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'InvalidPeerIdError'
  }
}

const PEER_ID_RE = /^[0-9a-f]{64}$/

/** True iff `id` is 64 lowercase hex characters. */
export function isPeerId(id: unknown): id is string {
  return typeof id === 'string' && PEER_ID_RE.test(id)
}

/** Throw InvalidPeerIdError unless `id` is a well-formed peer id; `where` names the input. */
export function assertPeerId(id: unknown, where: string): asserts id is string {
  if (!isPeerId(id)) {
    const shown = typeof id === 'string' ? `'${id.length > 80 ? id.slice(0, 80) + '…' : id}'` : typeof id
    throw new InvalidPeerIdError(`${where}: peer id must be 64 lowercase hex characters (an Ed25519 public key), got ${shown}`)
  }
}

/** The 32 key bytes of a validated peer id. */
export function peerIdBytes(id: string): Uint8Array {
  assertPeerId(id, 'peerIdBytes')
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) out[i] = parseInt(id.slice(2 * i, 2 * i + 2), 16)
  return out
}

/**
 * Code-unit order of two strings. Peer ids are ASCII hex, so this is byte order of
 * the hex and the same on every engine (unlike localeCompare).
 */
export function comparePeerIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
