/**
 * A Verifier (src/ledger/signature.ts) that remembers the signatures it has
 * just found valid, so the same signature over the same bytes is not checked
 * twice in a row. Why: a ledger entry announced on gossip is verified by the
 * sync validator (ledger-sync.ts `validate`, before gossipsub forwards it) and
 * again, moments later, by Ledger.appendMany when the announcement is ingested:
 * two Ed25519 verifications of identical (key, message, signature) triples per
 * entry and peer, ~2N per round in a network of N (docs/architecture/
 * benchmarks-round.md, proposal 5). Install it as the Ledger's verifier (the
 * sync validator uses `ledger.verifier`): the validator's check fills the cache
 * and the append finds it there.
 *
 * Soundness. A hit requires the exact public key, signature AND message bytes
 * of an earlier successful verification (compared byte for byte, no hash), so
 * the cache only repeats a verdict the inner verifier gave on identical input;
 * a verifier is a pure function of those bytes. In particular a forged envelope
 * under a cached CID (same entry bytes, other signature; or the cached signature
 * over other bytes) misses and is verified, and fails. Only `true` verdicts are
 * kept: a failure is never cached, so a peer cannot make a valid entry look bad.
 *
 * Bounds: at most `maxEntries` triples and `maxMessageBytes` per message (longer
 * messages are verified but not remembered); the oldest entries are evicted
 * first (insertion order), and a hit does not refresh, because each triple is
 * typically needed exactly twice.
 */
import { InvalidParametersError } from '../../util/errors.ts'
import type { Verifier } from '../../ledger/signature.ts'

export interface VerifiedCacheOptions {
  /** triples remembered at most */
  maxEntries: number
  /** messages longer than this are not remembered */
  maxMessageBytes: number
}

export const VERIFIED_CACHE_DEFAULTS: Readonly<VerifiedCacheOptions> = Object.freeze({
  // A few rounds of a 100-peer network (~2 entries per peer and round, checkpoints with ~70 co-signatures).
  maxEntries: 4096,
  // Ledger entries are capped at the announce topic's size; checkpoints of 500 authors are ~32 KiB.
  maxMessageBytes: 64 * 1024
})

export interface CachingVerifier extends Verifier {
  /** hits and misses so far (diagnostics, tests) */
  readonly stats: { hits: number, misses: number, size: number }
}

interface Kept { publicKey: Uint8Array, message: Uint8Array }

function equal (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Key: the 64 signature bytes as a binary string (a signature names its triple except for forgeries, which the byte comparison catches). */
function sigKey (signature: Uint8Array): string {
  return String.fromCharCode.apply(null, signature as unknown as number[])
}

/** Wrap `inner`; defaults, merge, validate (House style 7). */
export function cachingVerifier (inner: Verifier, options: Partial<VerifiedCacheOptions> = {}): CachingVerifier {
  if (inner === null || typeof inner !== 'object' || typeof inner.verify !== 'function') throw new InvalidParametersError('cachingVerifier needs a Verifier')
  const o: VerifiedCacheOptions = { ...VERIFIED_CACHE_DEFAULTS, ...options }
  for (const k of ['maxEntries', 'maxMessageBytes'] as const) {
    const v = o[k]
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > 1 << 24) throw new InvalidParametersError(`${k} must be an integer in [1, 2^24], got ${String(v)}`)
  }
  const kept = new Map<string, Kept>()
  const stats = { hits: 0, misses: 0, size: 0 }
  const remember = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): void => {
    if (message.length > o.maxMessageBytes) return
    const key = sigKey(signature)
    kept.delete(key)
    while (kept.size >= o.maxEntries) kept.delete(kept.keys().next().value!)
    // Copies: the caller may reuse its buffers.
    kept.set(key, { publicKey: publicKey.slice(), message: message.slice() })
    stats.size = kept.size
  }
  return {
    name: `cached(${inner.name})`,
    stats,
    verify (publicKey, message, signature) {
      // Not an Ed25519 (key, message, signature) at all: invalid, whatever the inner verifier would say.
      if (!(publicKey instanceof Uint8Array) || !(message instanceof Uint8Array) || !(signature instanceof Uint8Array) || publicKey.length !== 32 || signature.length !== 64) return false
      const k = kept.get(sigKey(signature))
      if (k !== undefined && equal(k.publicKey, publicKey) && equal(k.message, message)) { stats.hits++; return true }
      stats.misses++
      const r = inner.verify(publicKey, message, signature)
      if (r instanceof Promise) return r.then((ok) => { if (ok) remember(publicKey, message, signature); return ok })
      if (r) remember(publicKey, message, signature)
      return r
    }
  }
}
