/**
 * Injected randomness for the pure core.
 *
 * Every function in the core that needs randomness takes an `Rng`, so that the
 * same code is deterministic under a seed (tests, simulations, reproducible
 * experiments) and cryptographically random in production (shares, masks, keys).
 *
 * - `cryptoRng()` draws from Web Crypto's `getRandomValues` (Node 20 and browsers).
 * - `seededRng(seed)` is the ChaCha20 keystream (RFC 8439) keyed by SHA-256(seed):
 *   deterministic, and still a CSPRNG, so a seeded run is not a weaker run.
 */
import { chacha20 } from '@noble/ciphers/chacha.js'
import { sha256 } from '@noble/hashes/sha2.js'

export interface Rng {
  /** Fill `out` with uniformly random 32-bit words. */
  fillU32(out: Uint32Array): void
  /** A uniformly random 32-bit unsigned integer. */
  nextU32(): number
  /** A uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number
}

const BLOCK_WORDS = 4096

abstract class BufferedRng implements Rng {
  private readonly buf = new Uint32Array(BLOCK_WORDS)
  private pos = BLOCK_WORDS

  protected abstract refill(out: Uint32Array): void

  fillU32(out: Uint32Array): void {
    this.refill(out)
  }

  nextU32(): number {
    if (this.pos === BLOCK_WORDS) {
      this.refill(this.buf)
      this.pos = 0
    }
    return this.buf[this.pos++]!
  }

  nextFloat(): number {
    const hi = this.nextU32() >>> 5 // 27 bits
    const lo = this.nextU32() >>> 6 // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992
  }
}

class CryptoRng extends BufferedRng {
  protected refill(out: Uint32Array): void {
    // getRandomValues takes at most 65,536 bytes per call.
    for (let off = 0; off < out.length; off += 16384) {
      globalThis.crypto.getRandomValues(out.subarray(off, Math.min(out.length, off + 16384)))
    }
  }
}

class ChaChaRng extends BufferedRng {
  private readonly key: Uint8Array
  private counter = 0
  private readonly nonce = new Uint8Array(12)

  constructor(seed: Uint8Array) {
    super()
    this.key = sha256(seed)
  }

  protected refill(out: Uint32Array): void {
    const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
    bytes.fill(0)
    // Each call consumes ceil(len/64) blocks of the keystream; advance the
    // 32-bit block counter past them and roll into the nonce on overflow.
    const blocks = Math.ceil(bytes.length / 64)
    if (this.counter + blocks > 0xffffffff) {
      const view = new DataView(this.nonce.buffer)
      view.setUint32(0, view.getUint32(0, true) + 1, true)
      this.counter = 0
    }
    chacha20(this.key, this.nonce, bytes, bytes, this.counter)
    this.counter += blocks
  }
}

/** A cryptographically secure RNG from the platform. */
export function cryptoRng(): Rng {
  return new CryptoRng()
}

/** A deterministic CSPRNG (ChaCha20) from a seed; equal seeds give equal streams. */
export function seededRng(seed: Uint8Array | string | number): Rng {
  let bytes: Uint8Array
  if (typeof seed === 'number') {
    bytes = new TextEncoder().encode(`tessera-seed:${seed}`)
  } else if (typeof seed === 'string') {
    bytes = new TextEncoder().encode(seed)
  } else {
    bytes = seed
  }
  return new ChaChaRng(bytes)
}

/** A standard normal draw (Box-Muller); pure given the rng. */
export function gaussian(rng: Rng): number {
  let u = 0
  while (u === 0) u = rng.nextFloat()
  const v = rng.nextFloat()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

/** Derive an independent child stream, e.g. one per peer or per round. */
export function childRng(parentSeed: Uint8Array | string | number, label: string): Rng {
  return seededRng(`${String(parentSeed instanceof Uint8Array ? Array.from(parentSeed).join(',') : parentSeed)}/${label}`)
}
