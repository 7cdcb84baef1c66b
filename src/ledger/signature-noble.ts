/**
 * The portable Ed25519 implementation (@noble/ed25519, pure JS), for browsers
 * without WebCrypto Ed25519 and as a reference. Verification is written here
 * on noble's Point API rather than `ed.verify`, because noble verifies with the
 * cofactored equation [8][S]B = [8]R + [8][k]A while OpenSSL and BoringSSL use
 * the cofactorless [S]B = R + [k]A (RFC 8032 §5.1.7 allows either); a ledger
 * needs every peer to reach the same verdict, so all our verifiers use the
 * cofactorless one, after `signaturePolicy`.
 */
import * as ed from '@noble/ed25519'
import { sha512 } from '@noble/hashes/sha2.js'
import { concatBytes } from './bytes.ts'
import { signaturePolicy, type Signer, type Verifier } from './signature.ts'

ed.hashes.sha512 = sha512

const L = 2n ** 252n + 27742317777372353535851937790883648493n

function leToBigint(b: Uint8Array): bigint {
  let x = 0n
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]!)
  return x
}

export function nobleVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!signaturePolicy(publicKey, signature)) return false
  try {
    const A = ed.Point.fromBytes(publicKey, false)
    const rBytes = signature.subarray(0, 32)
    const R = ed.Point.fromBytes(rBytes, false)
    const s = leToBigint(signature.subarray(32, 64))
    const k = leToBigint(sha512(concatBytes(rBytes, publicKey, message))) % L
    const SB = s === 0n ? ed.Point.ZERO : ed.Point.BASE.multiply(s, false)
    const RkA = k === 0n ? R : R.add(A.multiply(k, false))
    return SB.equals(RkA)
  } catch {
    return false
  }
}

export function nobleVerifier(): Verifier {
  return { name: 'noble', verify: nobleVerify }
}

/** A signer from a 32-byte RFC 8032 secret seed (libp2p's Ed25519 `raw` private key is seed || public key). */
export function nobleSigner(seed: Uint8Array): Signer {
  if (seed.length !== 32) throw new TypeError('Ed25519 seed must be 32 bytes')
  const s = seed.slice()
  return { publicKey: ed.getPublicKey(s), sign: (m: Uint8Array) => ed.sign(m, s) }
}

export function noblePublicKey(seed: Uint8Array): Uint8Array {
  return ed.getPublicKey(seed)
}
