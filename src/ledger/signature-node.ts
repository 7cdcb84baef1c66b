/**
 * Ed25519 through node:crypto (OpenSSL): the fast path in Node. This is the
 * one ledger file that imports node:, so it is not part of the browser build;
 * the browser uses signature-webcrypto.ts or signature-noble.ts.
 */
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto'
import { toHex } from './bytes.ts'
import { signaturePolicy, type Signer, type Verifier } from './signature.ts'

// SubjectPublicKeyInfo prefix for an Ed25519 key (RFC 8410 §4).
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])
// PKCS#8 prefix for an Ed25519 private key seed (RFC 8410 §7).
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])

export function nodePublicKeyObject(pub: Uint8Array): KeyObject {
  const der = new Uint8Array(44)
  der.set(SPKI_PREFIX)
  der.set(pub, 12)
  return createPublicKey({ key: Buffer.from(der.buffer, der.byteOffset, der.byteLength), format: 'der', type: 'spki' })
}

export interface NodeVerifierOptions {
  /** Public KeyObjects kept (one per author). */
  cacheSize?: number
  /**
   * Verify on libuv's thread pool (crypto.verify with a callback) instead of
   * the main thread, so that many signatures checked concurrently (store
   * re-verification, batches) use every core. Default true.
   */
  threadPool?: boolean
}

export function nodeVerifier(opts: NodeVerifierOptions | number = {}): Verifier {
  const o = typeof opts === 'number' ? { cacheSize: opts } : opts
  const cacheSize = o.cacheSize ?? 4096
  const threadPool = o.threadPool ?? true
  const cache = new Map<string, KeyObject>()
  const keyOf = (publicKey: Uint8Array): KeyObject => {
    const id = toHex(publicKey)
    let k = cache.get(id)
    if (k === undefined) {
      k = nodePublicKeyObject(publicKey)
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!)
      cache.set(id, k)
    }
    return k
  }
  return {
    name: threadPool ? 'node-crypto' : 'node-crypto-sync',
    verify(publicKey, message, signature) {
      if (!signaturePolicy(publicKey, signature)) return false
      let k: KeyObject
      try {
        k = keyOf(publicKey)
      } catch {
        return false
      }
      if (!threadPool) {
        try { return nodeVerify(null, message, k, signature) } catch { return false }
      }
      return new Promise<boolean>((resolve) => {
        try {
          nodeVerify(null, message, k, signature, (err, ok) => resolve(err === null && ok))
        } catch {
          resolve(false)
        }
      })
    }
  }
}

export function nodeSigner(seed: Uint8Array): Signer {
  if (seed.length !== 32) throw new TypeError('Ed25519 seed must be 32 bytes')
  const der = new Uint8Array(48)
  der.set(PKCS8_PREFIX)
  der.set(seed, 16)
  const priv = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' })
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' })
  const publicKey = new Uint8Array(spki.subarray(12))
  return { publicKey, sign: (m: Uint8Array) => new Uint8Array(nodeSign(null, m, priv)) }
}
