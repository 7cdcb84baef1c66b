/**
 * Ed25519 signing and verification behind two small interfaces, so the pure
 * ledger logic never knows which implementation runs: node:crypto (OpenSSL) in
 * Node, WebCrypto in browsers, @noble/ed25519 anywhere as the portable fallback.
 *
 * Ed25519 verifiers disagree on edge cases (RFC 8032 §5.1.7 vs ZIP-215 vs
 * OpenSSL: cofactored or not, canonical encodings or not, small-order keys). A
 * replicated ledger must not: one peer accepting an entry another rejects
 * splits the network. So every Verifier here first applies one `signaturePolicy`
 * (canonical A and R, S < L, A and R not of small order), then the cofactorless
 * equation [S]B = R + [k]A that OpenSSL, BoringSSL and our noble-based
 * verifier all compute. On the inputs the policy lets through, the three agree;
 * test/ledger/signature.test.ts checks them against RFC 8032 §7.1 and edge cases.
 */
import { bytesEqual } from './bytes.ts'

export interface Verifier {
  /** Implementation name, e.g. 'node-crypto', 'webcrypto', 'noble'. */
  readonly name: string
  /** True iff `signature` is a valid Ed25519 signature of `message` by `publicKey` under the policy. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean | Promise<boolean>
}

export interface Signer {
  /** The 32-byte Ed25519 public key (the peer's libp2p identity key). */
  readonly publicKey: Uint8Array
  sign(message: Uint8Array): Uint8Array | Promise<Uint8Array>
}

// L = 2^252 + 27742317777372353535851937790883648493, little-endian (RFC 8032 §5.1).
const L_LE = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10
])

/** Encodings of the eight points of order dividing 8 (and the two "negative zero" x = 0 forms). */
const SMALL_ORDER_HEX = [
  '0100000000000000000000000000000000000000000000000000000000000000', // identity
  '0100000000000000000000000000000000000000000000000000000000000080', // identity, x = -0
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // order 2
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', // order 2, x = -0
  '0000000000000000000000000000000000000000000000000000000000000000', // order 4
  '0000000000000000000000000000000000000000000000000000000000000080', // order 4
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa', // order 8
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85' // order 8
]
const SMALL_ORDER: Uint8Array[] = SMALL_ORDER_HEX.map((h) => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16))))

/** y < p = 2^255 - 19 for a 32-byte little-endian point encoding (sign bit ignored). */
export function isCanonicalPointEncoding(b: Uint8Array): boolean {
  if ((b[31]! & 0x7f) !== 0x7f) return true
  for (let i = 30; i >= 1; i--) if (b[i] !== 0xff) return true
  return b[0]! < 0xed
}

export function isSmallOrderEncoding(b: Uint8Array): boolean {
  for (const s of SMALL_ORDER) if (bytesEqual(s, b)) return true
  return false
}

/** S < L for the 32-byte little-endian scalar S (RFC 8032 §5.1.7 step 1). */
export function isCanonicalScalar(s: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    if (s[i]! < L_LE[i]!) return true
    if (s[i]! > L_LE[i]!) return false
  }
  return false // equal to L
}

/**
 * The shared pre-check every Verifier applies before its equation: lengths,
 * canonical encodings of A and R, S < L, A and R not of small order (as
 * libsodium). Returns false for inputs every conforming implementation must
 * reject or on which implementations are known to differ.
 */
export function signaturePolicy(publicKey: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || !(signature instanceof Uint8Array)) return false
  if (publicKey.length !== 32 || signature.length !== 64) return false
  const r = signature.subarray(0, 32)
  const s = signature.subarray(32, 64)
  if (!isCanonicalScalar(s)) return false
  if (!isCanonicalPointEncoding(publicKey) || !isCanonicalPointEncoding(r)) return false
  if (isSmallOrderEncoding(publicKey) || isSmallOrderEncoding(r)) return false
  return true
}

/** Verify with whichever verifier, coercing exceptions (malformed keys) to false. */
export async function verifySignature(v: Verifier, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  try {
    return await v.verify(publicKey, message, signature)
  } catch {
    return false
  }
}

/** Wrap a libp2p Ed25519 private key (`@libp2p/crypto` keys: `.publicKey.raw`, `.sign()`) as a Signer without importing libp2p. */
export function signerFromLibp2pKey(key: { type?: string, publicKey: { raw: Uint8Array }, sign(data: Uint8Array): Uint8Array | Promise<Uint8Array> }): Signer {
  if (key.type !== undefined && key.type !== 'Ed25519') throw new TypeError(`ledger keys must be Ed25519, got ${key.type}`)
  if (key.publicKey.raw.length !== 32) throw new TypeError('Ed25519 public key must be 32 bytes')
  return { publicKey: key.publicKey.raw, sign: (m) => key.sign(m) }
}
