/**
 * A rule state (B's RuleState, e.g. centered clipping's center) as a blob whose
 * SHA-256 is the round's `ruleStateHash` (src/gossip-fl/round/aggregate.ts:
 * dag-cbor of the state with Float32Array fields as little-endian bytes), so
 * it is stored and fetched by hash like a model. Pure.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from '@noble/hashes/sha2.js'
import type { RuleState } from '../../gossip-fl/round/rules.ts'
import { PeerProtocolError } from './errors.ts'

/** ruleStateHash(undefined): the hash of the empty blob. */
export const NO_RULE_STATE_HASH = sha256(new Uint8Array(0))

export function encodeRuleState (state: RuleState | undefined): Uint8Array {
  if (state === undefined) return new Uint8Array(0)
  const o: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(state)) {
    if (v instanceof Float32Array) o[k] = new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength))
    else o[k] = v
  }
  return dagCbor.encode(o)
}

/** Inverse of encodeRuleState: byte fields become Float32Array (the only typed arrays B's states hold). */
export function decodeRuleState (bytes: Uint8Array): RuleState | undefined {
  if (bytes.length === 0) return undefined
  let o: unknown
  try { o = dagCbor.decode(bytes) } catch (err) { throw new PeerProtocolError(`rule state blob is not dag-cbor: ${(err as Error).message}`) }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new PeerProtocolError('rule state blob is not a map')
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    if (v instanceof Uint8Array) {
      if (v.length % 4 !== 0) throw new PeerProtocolError(`rule state field ${k} is not float32 bytes`)
      const copy = new Uint8Array(v)
      out[k] = new Float32Array(copy.buffer, 0, copy.length / 4)
    } else out[k] = v
  }
  return out as unknown as RuleState
}
