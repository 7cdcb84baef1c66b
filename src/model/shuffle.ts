/**
 * Seeded, unbiased shuffling and sampling helpers (pure; Rng injected).
 */
import type { Rng } from '../util/rng.ts'

/** A uniform integer in [0, n) without modulo bias (rejection sampling), n <= 2^32. */
export function uniformInt(rng: Rng, n: number): number {
  if (n <= 1) return 0
  const limit = Math.floor(0x100000000 / n) * n
  for (;;) {
    const u = rng.nextU32()
    if (u < limit) return u % n
  }
}

/** Fisher-Yates (Knuth, TAOCP vol. 2, Algorithm P) in place. */
export function shuffleInPlace<T extends { length: number, [i: number]: any }>(a: T, rng: Rng): T {
  for (let i = a.length - 1; i > 0; i--) {
    const j = uniformInt(rng, i + 1)
    const t = a[i]
    a[i] = a[j]
    a[j] = t
  }
  return a
}

/** A random permutation of 0..n-1. */
export function permutation(n: number, rng: Rng): Uint32Array {
  const p = new Uint32Array(n)
  for (let i = 0; i < n; i++) p[i] = i
  return shuffleInPlace(p, rng)
}
