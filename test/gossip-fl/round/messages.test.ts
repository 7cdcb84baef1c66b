/**
 * The decode of field vectors without a second copy (issue #4): bytesAsVector views aligned
 * bytes and copies misaligned ones; decodeMessage's vectors equal what was encoded wherever
 * the message sits in a larger buffer, do not alias the caller's bytes, and any entry >= p or
 * malformed length is a MessageDecodeError naming it.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { seededRng } from '../../../src/util/rng.ts'
import { P } from '../../../src/secret-sharing/field.ts'
import { randomFieldElements } from '../../../src/secret-sharing/field.ts'
import { bytesAsVector, bytesToVector, vectorToBytes, encodeMessage, decodeMessage, LITTLE_ENDIAN, type ShareMsg, type PartialMsg } from '../../../src/gossip-fl/round/messages.ts'

const FROM = 'ab'.repeat(32)

function shareMsg(n: number, seed: number): ShareMsg {
  return { type: 'share', r: 4, k: 0, from: FROM, x: 2, data: randomFieldElements(seededRng(seed), new Uint32Array(n)) }
}

describe('gossip-fl/round/messages: field vectors as views (issue #4)', () => {
  it('bytesAsVector: a view of 4-byte-aligned bytes, a copy of misaligned ones, the same values as bytesToVector', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 7 }), fc.integer(), (n, off, seed) => {
      const v = randomFieldElements(seededRng(seed), new Uint32Array(n))
      const buf = new Uint8Array(4 * n + 8)
      buf.set(vectorToBytes(v), off)
      const b = buf.subarray(off, off + 4 * n)
      const got = bytesAsVector(b)
      assert.deepEqual(got, v)
      assert.deepEqual(got, bytesToVector(b))
      const shares = got.buffer === buf.buffer
      assert.equal(shares, LITTLE_ENDIAN && off % 4 === 0)
    }), { numRuns: 200 })
    for (const len of [1, 2, 3, 5, 4099]) {
      assert.throws(() => bytesAsVector(new Uint8Array(len)), (e: Error) => e.name === 'MessageDecodeError')
    }
  })

  it('decodeMessage: share and partial data round-trip from any offset of a larger buffer and never alias it', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 0, max: 7 }), fc.integer(), (n, off, seed) => {
      const m = shareMsg(n, seed)
      const enc = encodeMessage(m)
      const buf = new Uint8Array(enc.length + 8)
      buf.set(enc, off)
      const wire = buf.subarray(off, off + enc.length)
      const d = decodeMessage(wire) as ShareMsg
      assert.deepEqual(d.data, m.data)
      assert.notEqual(d.data.buffer, buf.buffer)
      // Writing the decoded vector leaves the received bytes alone, and the reverse.
      d.data[0] = (d.data[0]! + 1) % P
      assert.deepEqual((decodeMessage(wire) as ShareMsg).data, m.data)
      buf.fill(0)
      assert.equal(d.data[0], (m.data[0]! + 1) % P)
      const g = [0, 3]
      const pm: PartialMsg = { type: 'partial', r: 4, k: 1, from: FROM, g, data: randomFieldElements(seededRng(seed + 1), new Uint32Array(2 * n)), sig: new Uint8Array(64) }
      const pd = decodeMessage(encodeMessage(pm)) as PartialMsg
      assert.deepEqual(pd.data, pm.data)
    }), { numRuns: 100 })
  })

  it('hostile vectors: an entry >= p anywhere, or a byte length not a multiple of 4, is a MessageDecodeError naming it', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 300 }), fc.integer(), fc.integer({ min: P, max: 2 ** 32 - 1 }), (n, seed, bad) => {
      const m = shareMsg(n, seed)
      const at = (seed >>> 0) % n
      m.data[at] = bad
      assert.throws(() => decodeMessage(encodeMessage(m)), (e: Error) => e.name === 'MessageDecodeError' && e.message.includes(`data[${at}]`))
    }), { numRuns: 100 })
    // data as bytes of a length not a multiple of 4 (hand-built CBOR through the encoder)
    const m = shareMsg(4, 1) as unknown as Record<string, unknown>
    for (const len of [1, 2, 3, 7]) {
      const enc = encodeMessage({ ...m, data: new Uint32Array(0) } as unknown as ShareMsg)
      // replace the empty byte string (0x40) by one of `len` bytes
      const i = enc.indexOf(0x40)
      const hostile = new Uint8Array(enc.length + len)
      hostile.set(enc.subarray(0, i))
      hostile[i] = 0x40 + len
      hostile.set(enc.subarray(i + 1), i + 1 + len)
      assert.throws(() => decodeMessage(hostile), (e: Error) => e.name === 'MessageDecodeError' && /multiple of 4/.test(e.message))
    }
  })
})
