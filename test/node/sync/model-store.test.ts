/**
 * The content-addressed model store on a real level database: the hash is the
 * round protocol's checkpoint modelHash, blobs persist across reopen, ranged
 * reads cross chunk boundaries, damage is detected, hostile inputs get typed
 * errors.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { sha256 } from '@noble/hashes/sha2.js'
import { modelHash } from '../../../src/gossip-fl/round/aggregate.ts'
import { bytesEqual, toHex } from '../../../src/ledger/bytes.ts'
import { LevelBlobStore, MODEL_CHUNK_BYTES, ModelStore, modelFromBytes, modelHashOf, modelToBytes, sha256Async } from '../../../src/node/sync/model-store.ts'

const named = (n: string) => (e: Error) => e.name === n

describe('model store', function () {
  this.timeout(30_000)
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'tessera-model-store-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('canonical bytes are little-endian float32 and hash to the round modelHash (property)', () => {
    fc.assert(fc.property(fc.float32Array({ maxLength: 300 }), (w) => {
      const b = modelToBytes(w)
      assert.equal(b.length, w.length * 4)
      const dv = new DataView(b.buffer)
      for (let i = 0; i < w.length; i++) assert.ok(Object.is(dv.getFloat32(4 * i, true), w[i]))
      assert.ok(bytesEqual(sha256(b), modelHash(w)))
      assert.ok(bytesEqual(modelHashOf(w), modelHash(w)))
      const back = modelFromBytes(b)
      assert.ok(bytesEqual(new Uint8Array(back.buffer), b), 'bit-exact round trip (NaN payloads, -0)')
    }), { numRuns: 300 })
  })

  it('sha256Async (native when available) equals SHA-256: FIPS 180-4 vector and random sizes around the native threshold', async () => {
    // FIPS 180-4 / NIST CSHS example "abc".
    assert.equal(toHex(await sha256Async(new TextEncoder().encode('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    for (const n of [0, 1, 4095, 4096, 4097, 100_000, MODEL_CHUNK_BYTES + 3]) {
      const b = new Uint8Array(n)
      for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff
      assert.ok(bytesEqual(await sha256Async(b), sha256(b)), `size ${n}`)
      // a view into a larger buffer hashes its own bytes only
      const big = new Uint8Array(n + 10)
      big.set(b, 5)
      assert.ok(bytesEqual(await sha256Async(big.subarray(5, 5 + n)), sha256(b)), `view of size ${n}`)
    }
  })

  it('stores, persists across reopen, and reads ranges across chunk boundaries', async () => {
    let store = await ModelStore.open({ location: dir })
    const w = new Float32Array((2 * MODEL_CHUNK_BYTES + 1000) / 4).map((_, i) => Math.sin(i))
    const hash = await store.putModel(w)
    assert.ok(bytesEqual(hash, modelHash(w)))
    assert.ok(bytesEqual(await store.putModel(w), hash), 'idempotent')
    await store.close()
    store = await ModelStore.open({ location: dir })
    const back = await store.getModel(hash)
    assert.ok(back !== undefined && bytesEqual(new Uint8Array(back.buffer), modelToBytes(w)))
    const all = modelToBytes(w)
    for (const [off, len] of [[0, 10], [MODEL_CHUNK_BYTES - 3, 10], [2 * MODEL_CHUNK_BYTES + 990, 100], [5, 0], [all.length + 5, 10]] as const) {
      const r = await store.blobs.read(hash, off, len)
      assert.ok(r !== undefined && bytesEqual(r, all.subarray(off, Math.min(all.length, off + len))), `range ${off}+${len}`)
    }
    assert.deepEqual((await store.blobs.list()).map(toHex), [toHex(hash)])
    await store.blobs.delete(hash)
    assert.equal(await store.has(hash), false)
    assert.equal(await store.getModel(hash), undefined)
    await store.close()
  })

  it('putVerified stores only bytes with the expected hash; damage on disk is detected', async () => {
    const blobs = await LevelBlobStore.open({ location: dir, maxBlobBytes: 1 << 20 })
    const store = new ModelStore(blobs)
    const bytes = new Uint8Array(5000).map((_, i) => i * 7)
    await assert.rejects(store.putVerified(bytes, new Uint8Array(32)), named('ModelHashMismatchError'))
    assert.deepEqual(await blobs.list(), [])
    const hash = sha256(bytes)
    await store.putVerified(bytes, hash)
    const key = `chunk!${toHex(hash)}!00000000`
    const damaged = bytes.slice(); damaged[100] = damaged[100]! ^ 1
    await blobs.db.put(key, damaged)
    await assert.rejects(store.getBytes(hash), named('ModelStoreError'))
    await assert.rejects(store.putModel(new Float32Array((1 << 18) + 1)), named('ModelTooLargeError'))
    await store.close()
    await assert.rejects(store.has(hash), named('ModelStoreError'))
  })

  it('refuses hostile arguments with typed errors', async () => {
    const store = await ModelStore.open({ location: dir })
    await assert.rejects(store.has(new Uint8Array(31)), named('InvalidParametersError'))
    await assert.rejects(store.getModel('ab' as unknown as Uint8Array), named('InvalidParametersError'))
    await assert.rejects(store.putModel([1, 2] as unknown as Float32Array), named('InvalidParametersError'))
    const hash = await store.putModel(new Float32Array([1, 2, 3]))
    await assert.rejects(store.blobs.read(hash, -1, 2), named('InvalidParametersError'))
    await assert.rejects(store.blobs.read(hash, 0, Number.NaN), named('InvalidParametersError'))
    assert.throws(() => modelFromBytes(new Uint8Array(7)), named('InvalidParametersError'))
    await store.close()
    await assert.rejects(ModelStore.open({}), named('InvalidParametersError'))
    await assert.rejects(ModelStore.open({ location: dir, maxBlobBytes: -1 }), named('InvalidParametersError'))
  })
})
