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
    // recentBytes 0: no memory copy, so reads go to the (damaged) disk.
    const blobs = await LevelBlobStore.open({ location: dir, maxBlobBytes: 1 << 20, recentBytes: 0 })
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

  it('recent blobs: visible and served from memory while and after they are written; waitFor wakes on put; bounds', async () => {
    const blobs = await LevelBlobStore.open({ location: dir, recentBytes: 3 * MODEL_CHUNK_BYTES, maxWaiters: 2 })
    const a = new Uint8Array(2 * MODEL_CHUNK_BYTES + 5).map((_, i) => (i * 13) & 255)
    const ha = sha256(a)
    // waitFor before the put: resolves with the size as soon as put starts writing, not after the timeout
    const t0 = Date.now()
    const waiting = blobs.waitFor(ha, 5000)
    const put = blobs.put(a)
    assert.equal(await waiting, a.length)
    assert.ok(Date.now() - t0 < 4000)
    assert.equal(await blobs.size(ha), a.length)
    const mid = await blobs.read(ha, MODEL_CHUNK_BYTES - 2, 10)
    assert.ok(mid !== undefined && bytesEqual(mid, a.subarray(MODEL_CHUNK_BYTES - 2, MODEL_CHUNK_BYTES + 8)))
    assert.ok(bytesEqual((await put), ha))
    // the memory copy is private: changing the caller's bytes changes nothing stored
    a[0] = a[0]! ^ 0xff
    const r0 = await blobs.read(ha, 0, 1)
    assert.equal(r0![0], (0 * 13) & 255)
    // absent blob: undefined after the timeout; the waiter bound answers at once beyond it
    const missing = new Uint8Array(32).fill(9)
    const w1 = blobs.waitFor(missing, 1500)
    const w2 = blobs.waitFor(missing, 1500)
    await new Promise((resolve) => setTimeout(resolve, 50)) // both registered
    const third = blobs.waitFor(missing, 10_000).then((v) => ({ who: 'third', v }))
    const first = await Promise.race([third, w1.then((v) => ({ who: 'w1', v }))])
    assert.deepEqual(first, { who: 'third', v: undefined }, 'a third waiter must not wait (maxWaiters 2)')
    assert.deepEqual(await Promise.all([w1, w2]), [undefined, undefined])
    // eviction past recentBytes: the older blob is read back from LevelDB, unchanged
    const b = new Uint8Array(2 * MODEL_CHUNK_BYTES).fill(3)
    const hb = await blobs.put(b)
    const back = await blobs.read(ha, 0, 2 * MODEL_CHUNK_BYTES + 5)
    assert.ok(back !== undefined && back[0] === 0 && back[back.length - 1] === ((2 * MODEL_CHUNK_BYTES + 4) * 13 & 255))
    assert.equal(await blobs.size(hb), b.length)
    // close wakes pending waiters with undefined
    const w3 = blobs.waitFor(new Uint8Array(32).fill(1), 30_000)
    await blobs.close()
    assert.equal(await w3, undefined)
    // persisted: a fresh store (empty memory) reads both from disk
    const again = await LevelBlobStore.open({ location: dir })
    assert.equal(await again.size(ha), 2 * MODEL_CHUNK_BYTES + 5)
    assert.equal(await again.size(hb), b.length)
    await again.close()
    await assert.rejects(LevelBlobStore.open({ location: dir, recentBytes: -1 }), named('InvalidParametersError'))
    await assert.rejects(LevelBlobStore.open({ location: dir, maxWaiters: 1.5 }), named('InvalidParametersError'))
  })

  it('a blob larger than the recent memory wakes its waiters only once it is on disk, and reads back whole', async () => {
    const blobs = await LevelBlobStore.open({ location: dir, recentBytes: MODEL_CHUNK_BYTES })
    const big = new Uint8Array(MODEL_CHUNK_BYTES + 100).map((_, i) => (i * 7) & 255)
    const h = sha256(big)
    const waiting = blobs.waitFor(h, 10_000).then(async (size) => ({ size, bytes: await blobs.read(h, 0, big.length) }))
    await blobs.put(big)
    const got = await waiting
    assert.equal(got.size, big.length)
    assert.ok(got.bytes !== undefined && bytesEqual(got.bytes, big), 'whatever wakes a waiter can read the whole blob')
    await blobs.close()
  })
})
