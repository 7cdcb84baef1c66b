/**
 * Ed25519 through WebCrypto ('Ed25519' in Node >= 20 and current Chromium,
 * Firefox, Safari): the browser's native path. Keys are imported once per
 * author and cached.
 */
import { toHex } from './bytes.ts'
import { signaturePolicy, type Signer, type Verifier } from './signature.ts'

const ALG = { name: 'Ed25519' } as const

export function webCryptoAvailable(): boolean {
  return typeof globalThis.crypto?.subtle?.importKey === 'function'
}

export function webCryptoVerifier(cacheSize = 4096): Verifier {
  const subtle = globalThis.crypto.subtle
  const cache = new Map<string, CryptoKey>()
  async function key(pub: Uint8Array): Promise<CryptoKey> {
    const id = toHex(pub)
    let k = cache.get(id)
    if (k === undefined) {
      k = await subtle.importKey('raw', pub as BufferSource, ALG, false, ['verify'])
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!)
      cache.set(id, k)
    }
    return k
  }
  return {
    name: 'webcrypto',
    async verify(publicKey, message, signature) {
      if (!signaturePolicy(publicKey, signature)) return false
      try {
        return await subtle.verify(ALG, await key(publicKey), signature as BufferSource, message as BufferSource)
      } catch {
        return false
      }
    }
  }
}

// PKCS#8 prefix for an Ed25519 private key seed (RFC 8410 §7).
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])

export async function webCryptoSigner(seed: Uint8Array, publicKey: Uint8Array): Promise<Signer> {
  if (seed.length !== 32 || publicKey.length !== 32) throw new TypeError('Ed25519 seed and public key must be 32 bytes')
  const der = new Uint8Array(48)
  der.set(PKCS8_PREFIX)
  der.set(seed, 16)
  const k = await globalThis.crypto.subtle.importKey('pkcs8', der, ALG, false, ['sign'])
  return {
    publicKey: publicKey.slice(),
    sign: async (m: Uint8Array) => new Uint8Array(await globalThis.crypto.subtle.sign(ALG, k, m as BufferSource))
  }
}
