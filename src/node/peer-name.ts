/**
 * Peer names. Tessera names a peer by the lowercase hex of its raw 32-byte
 * Ed25519 public key (RFC 8032 §5.1.5 encoding): the same bytes that verify its
 * ledger signatures. libp2p names the same peer by a PeerId, the identity
 * multihash of the protobuf-encoded key; the two convert losslessly for Ed25519,
 * so no address book is needed to go from a ledger author to a libp2p peer.
 *
 * Pure module (no node: imports): runs in Node and in the browser.
 */
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { InvalidPeerNameError } from './errors.ts'

const PEER_NAME = /^[0-9a-f]{64}$/

/** True if `s` is a well-formed peer name (64 lowercase hex characters). */
export function isPeerName (s: unknown): s is string {
  return typeof s === 'string' && PEER_NAME.test(s)
}

/** Throw InvalidPeerNameError unless `s` is a peer name. */
export function assertPeerName (s: unknown): asserts s is string {
  if (!isPeerName(s)) {
    const shown = typeof s === 'string' ? `'${s.slice(0, 80)}'` : typeof s
    throw new InvalidPeerNameError(`peer name must be 64 lowercase hex characters (a raw Ed25519 public key), got ${shown}`)
  }
}

export function bytesToHex (bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i++) s += bytes[i]!.toString(16).padStart(2, '0')
  return s
}

/** Decode lowercase or uppercase hex; throws InvalidPeerNameError on odd length or a non-hex digit. */
export function hexToBytes (hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new InvalidPeerNameError('not a hex string')
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}

/** The peer name of a raw 32-byte Ed25519 public key. */
export function peerNameFromPublicKey (raw: Uint8Array): string {
  if (!(raw instanceof Uint8Array) || raw.length !== 32) throw new InvalidPeerNameError(`an Ed25519 public key has 32 bytes, got ${raw instanceof Uint8Array ? raw.length : typeof raw}`)
  return bytesToHex(raw)
}

/** The libp2p PeerId of a peer name. */
export function peerIdFromPeerName (name: string): PeerId {
  assertPeerName(name)
  try {
    return peerIdFromPublicKey(publicKeyFromRaw(hexToBytes(name)))
  } catch (err) {
    throw new InvalidPeerNameError(`'${name}' is not a valid Ed25519 public key: ${(err as Error).message}`)
  }
}

/** The peer name of a libp2p PeerId, or undefined if it is not an Ed25519 peer. */
export function peerNameFromPeerId (peerId: PeerId): string | undefined {
  if (peerId.type !== 'Ed25519' || peerId.publicKey == null) return undefined
  return bytesToHex(peerId.publicKey.raw)
}
