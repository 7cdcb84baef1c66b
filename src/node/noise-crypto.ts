/**
 * Node crypto for the Noise handshake (@chainsafe/libp2p-noise's
 * `ICryptoInterface`), the same X25519 / HKDF-SHA-256 / ChaCha20-Poly1305 as
 * the module's `defaultCrypto` with cheaper key handling.
 *
 * The default builds two node:crypto key objects from DER (PKCS#8, SPKI) for
 * every Diffie-Hellman, and a Noise XX handshake does three per side
 * (Noise spec §7.5, "ee", "es", "se"). With OpenSSL 3 importing a PKCS#8 key
 * costs ~0.3-0.9 ms, an SPKI key ~0.1-0.2 ms: most of the CPU of a handshake,
 * and in round 1 of a benchmark every contributor handshakes with the same m
 * committee members at once (bench/round-dial.ts). Here:
 *
 *   - key pairs are generated as key objects and exported as JWK (raw bytes);
 *   - the key object of each private key we generated (the static key, each
 *     ephemeral) and of each remote public key is kept in a WeakMap keyed by
 *     the byte array Noise passes back (the handshake state holds the same
 *     Uint8Array for `e`, `s`, `re`), so a key is imported at most once and
 *     forgotten with its handshake;
 *   - anything not found is imported from JWK (~15x cheaper than DER);
 *   - HKDF is node's RFC 5869 HKDF (salt = chaining key, empty info, 96 bytes),
 *     which is Noise's HKDF(ck, ikm) with three outputs (Noise spec §4.3).
 *
 * Node-only (node:crypto); the browser keeps the module's default.
 * `quietNoise` (below) wraps the module's connection encrypter.
 */
import crypto, { type KeyObject } from 'node:crypto'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { noise, type ICryptoInterface } from '@chainsafe/libp2p-noise'
import { InvalidX25519KeyError } from './errors.ts'
// Noise's own Uint8ArrayList type (it may be another copy of the package than ours).
type Bytes = Parameters<ICryptoInterface['generateX25519SharedKey']>[0]

const privateKeys = new WeakMap<Uint8Array, KeyObject>()
const publicKeys = new WeakMap<Uint8Array, KeyObject>()
const EMPTY = new Uint8Array(0)

const b64 = (u: Uint8Array): string => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64url')
const bytes = (x: Bytes): Uint8Array => x instanceof Uint8Array ? x : x.subarray()

function keyPair (): { publicKey: Uint8Array, privateKey: Uint8Array } {
  const { privateKey: priv, publicKey: pub } = crypto.generateKeyPairSync('x25519')
  const jwk = priv.export({ format: 'jwk' })
  const privateKey = new Uint8Array(Buffer.from(jwk.d!, 'base64url'))
  const publicKey = new Uint8Array(Buffer.from(jwk.x!, 'base64url'))
  privateKeys.set(privateKey, priv)
  publicKeys.set(publicKey, pub)
  return { publicKey, privateKey }
}

/** The cached key object of `key`, else `make(raw 32 bytes)`, cached when Noise passed a Uint8Array. */
function keyObject (cache: WeakMap<Uint8Array, KeyObject>, key: Bytes, what: string, make: (raw: Uint8Array) => KeyObject): KeyObject {
  if (key instanceof Uint8Array) {
    const cached = cache.get(key)
    if (cached !== undefined) return cached
  }
  const raw = bytes(key)
  if (raw.length !== 32) throw new InvalidX25519KeyError(`X25519 ${what} key must be 32 bytes, got ${raw.length}`, raw.length)
  const obj = make(raw)
  if (key instanceof Uint8Array) cache.set(key, obj)
  return obj
}

// JWK import of a private OKP key needs its public half (RFC 8037 §2): derive it once.
const privateKeyObject = (key: Bytes): KeyObject => keyObject(privateKeys, key, 'private', (raw) =>
  crypto.createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64(raw), x: b64(x25519Public(raw)) }, format: 'jwk' }))

const publicKeyObject = (key: Bytes): KeyObject => keyObject(publicKeys, key, 'public', (raw) =>
  crypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64(raw) }, format: 'jwk' }))

function x25519Public (priv: Uint8Array): Uint8Array {
  return defaultCrypto.generateX25519KeyPairFromSeed(priv).publicKey
}

export const fastNoiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  getHKDF (ck: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
    const okm = new Uint8Array(crypto.hkdfSync('sha256', ikm, ck, EMPTY, 96))
    return [okm.subarray(0, 32), okm.subarray(32, 64), okm.subarray(64, 96)]
  },
  generateX25519KeyPair: keyPair,
  generateX25519KeyPairFromSeed (seed: Uint8Array) {
    const kp = defaultCrypto.generateX25519KeyPairFromSeed(seed)
    return { publicKey: kp.publicKey, privateKey: kp.privateKey }
  },
  generateX25519SharedKey (privateKey: Bytes, publicKey: Bytes): Uint8Array {
    return crypto.diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: publicKeyObject(publicKey) })
  }
}

/**
 * The length decoder Noise's transport messages use (2-byte big-endian, libp2p
 * noise spec "Wire format"), except that "fewer than 2 bytes buffered" is not a
 * thrown RangeError. @libp2p/utils' LengthPrefixedDecoder calls it in a loop
 * until it throws, so the module's own decoder (encoder.js `uint16BEDecode`)
 * threw and caught one RangeError per TCP read: ~6-12 µs each (an Error with a
 * captured stack), 1.7-1.9% of a 10-peer MLP round's CPU in profiles (issue #4).
 * Returning `needMore` instead (a length the decoder accepts, <= its
 * `maxDataLength`, but longer than anything buffered: it waits for more bytes)
 * ends the same loop without an exception. Same frames, same limits.
 */
export function uint16BEDecodeOr (needMore: number): (data: Uint8Array | Bytes) => number {
  return (data) => {
    if (data.length < 2) return needMore
    if (data instanceof Uint8Array) return (data[0]! << 8) | data[1]!
    return data.getUint16(0)
  }
}

interface FrameDecoder { lengthDecoder: unknown, maxDataLength: unknown, encodingLength: unknown }
const isFrameDecoder = (d: unknown): d is FrameDecoder => typeof d === 'object' && d !== null &&
  typeof (d as FrameDecoder).lengthDecoder === 'function' && typeof (d as FrameDecoder).encodingLength === 'function' &&
  typeof (d as FrameDecoder).maxDataLength === 'number'

/**
 * Give a secured Noise connection (the module's EncryptedMessageStream) the
 * non-throwing length decoder above. Returns whether it could: a future version
 * of the module whose stream has no such decoder is left as it is.
 */
export function quietNoiseFrames (connection: unknown): boolean {
  const d = (connection as { decoder?: unknown } | undefined)?.decoder
  if (!isFrameDecoder(d)) return false
  if ((d.encodingLength as (n: number) => number)(0) !== 2) return false
  // needMore = maxDataLength: accepted by the decoder's range check, and 2 + it is more than
  // the < 2 bytes it holds whenever needMore is returned, so it waits for the next chunk.
  d.lengthDecoder = uint16BEDecodeOr(d.maxDataLength as number)
  return true
}

/** Connections given the quiet decoder / left as they were (a module version without the decoder). Tests read it. */
export const quietNoiseStats = { applied: 0, skipped: 0 }

/**
 * `noise(init)` (@chainsafe/libp2p-noise) whose secured connections use
 * `quietNoiseFrames`. The handshake and the bytes on the wire are the module's.
 */
export function quietNoise (init: Parameters<typeof noise>[0]): ReturnType<typeof noise> {
  const count = (ok: boolean): void => { if (ok) quietNoiseStats.applied++; else quietNoiseStats.skipped++ }
  const factory = noise(init)
  return (components) => {
    const enc = factory(components)
    const inbound = enc.secureInbound.bind(enc)
    const outbound = enc.secureOutbound.bind(enc)
    enc.secureInbound = async (...args: Parameters<typeof inbound>) => {
      const r = await inbound(...args)
      count(quietNoiseFrames(r.connection))
      return r
    }
    enc.secureOutbound = async (...args: Parameters<typeof outbound>) => {
      const r = await outbound(...args)
      count(quietNoiseFrames(r.connection))
      return r
    }
    return enc
  }
}
