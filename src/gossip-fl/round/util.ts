/** Small byte helpers for the round (pure, no node: imports). */
import { sha256 } from '@noble/hashes/sha2.js'

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export function toHex(b: Uint8Array): string {
  let s = ''
  for (const x of b) s += x.toString(16).padStart(2, '0')
  return s
}

/** The seed of retry k: s itself for k = 0, else SHA-256("tessera/retry/v1" || s || k as 4 bytes BE). */
export function retrySeed(s: Uint8Array, k: number): Uint8Array {
  if (k === 0) return s
  const tag = new TextEncoder().encode('tessera/retry/v1')
  const buf = new Uint8Array(tag.length + s.length + 4)
  buf.set(tag)
  buf.set(s, tag.length)
  new DataView(buf.buffer).setUint32(tag.length + s.length, k, false)
  return sha256(buf)
}
