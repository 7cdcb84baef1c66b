/**
 * Wire formats of ledger-sync, announcements and model-fetch: round trips, caps,
 * and hostile bytes (fast-check): every decoder returns a value or throws
 * SyncProtocolError, never anything else, never hangs.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from '@noble/hashes/sha2.js'
import { cidOf } from '../../../src/ledger/index.ts'
import {
  SYNC_LIMITS, decodeAnnouncement, decodeEntriesResponse, decodeHeadsResponse, decodeRequest,
  encodeAnnouncement, encodeEntriesResponse, encodeHeadsResponse, encodeRequest
} from '../../../src/node/sync/codec.ts'
import { decodeChunkRequest, decodeChunkResponse, encodeChunkRequest, encodeChunkResponse } from '../../../src/node/sync/model-fetch.ts'

const CAP = 64 * 1024
const cid = (i: number) => cidOf(sha256(new Uint8Array([i])))
const key = (i: number) => new Uint8Array(32).fill(i)
const syncError = (e: Error) => e.name === 'SyncProtocolError'

const decoders: Array<[string, (b: Uint8Array) => unknown]> = [
  ['request', (b) => decodeRequest(b, CAP)],
  ['heads', (b) => decodeHeadsResponse(b, CAP)],
  ['entries', (b) => decodeEntriesResponse(b, CAP)],
  ['announcement', (b) => decodeAnnouncement(b, CAP)],
  ['chunk request', (b) => decodeChunkRequest(b, CAP)],
  ['chunk response', (b) => decodeChunkResponse(b, CAP)]
]

function onlySyncErrors (f: () => unknown): void {
  try { f() } catch (e) { assert.equal((e as Error).name, 'SyncProtocolError', (e as Error).stack) }
}

describe('sync codecs', () => {
  it('round-trips every message', () => {
    assert.deepEqual(decodeRequest(encodeRequest({ op: 'heads', limit: 10 }), CAP), { op: 'heads', limit: 10 })
    assert.deepEqual(decodeRequest(encodeRequest({ op: 'heads', after: key(3), limit: 1 }), CAP), { op: 'heads', after: key(3), limit: 1 })
    const cids = decodeRequest(encodeRequest({ op: 'cids', cids: [cid(1), cid(2)] }), CAP)
    assert.ok(cids.op === 'cids' && cids.cids[1]!.equals(cid(2)))
    assert.deepEqual(decodeRequest(encodeRequest({ op: 'chain', ranges: [{ author: key(1), from: 2, to: 9 }], limit: 5 }), CAP), { op: 'chain', ranges: [{ author: key(1), from: 2, to: 9 }], limit: 5 })
    const heads = decodeHeadsResponse(encodeHeadsResponse({ genesis: cid(0), size: 7, heads: [{ author: key(1), seq: 3, cid: cid(4) }], more: true }), CAP)
    assert.ok(heads.genesis!.equals(cid(0)) && heads.size === 7 && heads.more && heads.heads[0]!.seq === 3)
    assert.equal(decodeHeadsResponse(encodeHeadsResponse({ genesis: null, size: 0, heads: [], more: false }), CAP).genesis, null)
    assert.deepEqual(decodeEntriesResponse(encodeEntriesResponse({ entries: [{ pos: 4, env: new Uint8Array([1, 2]) }], more: false }), CAP), { entries: [{ pos: 4, env: new Uint8Array([1, 2]) }], more: false })
    const a = decodeAnnouncement(encodeAnnouncement({ cid: cid(5), author: key(2), seq: 8, env: new Uint8Array([9]) }), CAP)
    assert.ok(a.cid.equals(cid(5)) && a.seq === 8 && a.env![0] === 9)
    assert.equal(decodeAnnouncement(encodeAnnouncement({ cid: cid(5), author: key(2), seq: 8 }), CAP).env, undefined)
    assert.deepEqual(decodeChunkRequest(encodeChunkRequest({ hash: key(1), offset: 5, length: 6 }), CAP), { hash: key(1), offset: 5, length: 6 })
    assert.deepEqual(decodeChunkResponse(encodeChunkResponse({ size: null, data: new Uint8Array(0) }), CAP), { size: null, data: new Uint8Array(0) })
  })

  it('enforces caps and field rules with SyncProtocolError', () => {
    assert.throws(() => decodeRequest(new Uint8Array(CAP + 1), CAP), syncError)
    assert.throws(() => decodeRequest(encodeRequest({ op: 'cids', cids: Array.from({ length: SYNC_LIMITS.maxCids + 1 }, (_, i) => cid(i % 256)) }), 1 << 20), syncError)
    assert.throws(() => decodeRequest(encodeRequest({ op: 'chain', ranges: [{ author: key(1), from: 5, to: 4 }], limit: 1 }), CAP), syncError)
    assert.throws(() => decodeRequest(encodeRequest({ op: 'chain', ranges: [{ author: key(1).slice(1), from: 0, to: 4 }], limit: 1 }), CAP), syncError)
    assert.throws(() => decodeRequest(encodeRequest({ op: 'heads', limit: 0 }), CAP), syncError)
    assert.throws(() => decodeRequest(dagCbor.encode({ v: 1, op: 'chain', ranges: [], limit: 1.5 }), CAP), syncError)
    assert.throws(() => decodeRequest(dagCbor.encode({ v: 2, op: 'heads', limit: 1 }), CAP), syncError)
    assert.throws(() => decodeRequest(dagCbor.encode({ v: 1, op: 'delete-everything' }), CAP), syncError)
    assert.throws(() => decodeRequest(dagCbor.encode([1, 2, 3]), CAP), syncError)
    assert.throws(() => decodeRequest('heads' as unknown as Uint8Array, CAP), syncError)
    assert.throws(() => decodeEntriesResponse(dagCbor.encode({ v: 1, entries: [{ pos: -1, env: new Uint8Array(1) }], more: false }), CAP), syncError)
    assert.throws(() => decodeEntriesResponse(dagCbor.encode({ v: 1, entries: [{ pos: 0, env: new Uint8Array(1) }], more: 'no' }), CAP), syncError)
    assert.throws(() => decodeHeadsResponse(dagCbor.encode({ v: 1, genesis: 'x', size: 0, heads: [], more: false }), CAP), syncError)
    assert.throws(() => decodeAnnouncement(dagCbor.encode({ v: 1, cid: cid(1), author: key(1), seq: 2 ** 41 }), CAP), syncError)
    assert.throws(() => decodeChunkRequest(dagCbor.encode({ v: 1, hash: key(1), offset: -5, length: 1 }), CAP), syncError)
    assert.throws(() => decodeChunkResponse(dagCbor.encode({ v: 1, size: 2.5, data: new Uint8Array(0) }), CAP), syncError)
    assert.throws(() => decodeChunkResponse(dagCbor.encode({ v: 1, size: 3, data: [1, 2, 3] }), CAP), syncError)
  })

  it('random bytes: a value or SyncProtocolError, for every decoder', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (b) => {
      for (const [, d] of decoders) onlySyncErrors(() => d(b))
    }), { numRuns: 500 })
  })

  it('near-valid structures (random field values in DAG-CBOR maps): a value or SyncProtocolError', () => {
    const value = fc.oneof(
      fc.integer(), fc.double(), fc.constant(null), fc.boolean(), fc.string({ maxLength: 8 }),
      fc.uint8Array({ maxLength: 40 }), fc.constant(cid(1)), fc.array(fc.integer(), { maxLength: 3 })
    )
    const field = fc.record({ author: value, from: value, to: value, pos: value, env: value, seq: value, cid: value })
    const msg = fc.record({
      v: fc.oneof(fc.constant(1), value),
      op: fc.constantFrom('heads', 'cids', 'chain', 'x'),
      after: value, limit: value, cids: fc.oneof(value, fc.array(value, { maxLength: 4 })),
      ranges: fc.oneof(value, fc.array(field, { maxLength: 3 })), genesis: value, size: value,
      heads: fc.oneof(value, fc.array(field, { maxLength: 3 })), entries: fc.oneof(value, fc.array(field, { maxLength: 3 })),
      more: value, cid: value, author: value, seq: value, env: value, hash: value, offset: value, length: value, data: value
    }, { requiredKeys: [] })
    fc.assert(fc.property(msg, (m) => {
      let bytes: Uint8Array
      try { bytes = dagCbor.encode(m) } catch { return } // not representable (e.g. NaN): nothing to send
      for (const [, d] of decoders) onlySyncErrors(() => d(bytes))
    }), { numRuns: 1000 })
  })
})
