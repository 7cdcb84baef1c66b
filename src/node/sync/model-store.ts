/**
 * Content-addressed model blobs (DESIGN "The ledger", Sync: models fetched by
 * hash). A model is a Float32Array of weights; its canonical bytes are the
 * little-endian float32 encoding and its hash is SHA-256 of those bytes, the
 * same value the round protocol puts in a checkpoint's `modelHash`
 * (src/gossip-fl/round/aggregate.ts `modelHash`, reused here). Any other blob
 * (e.g. a round's published group sums, whose hash is SHA-256 of the blob) is
 * stored the same way.
 *
 * Storage sits behind the small BlobStore interface. LevelBlobStore keeps blobs
 * in a `level` database (classic-level/LevelDB under the peer's data directory
 * on Node, browser-level/IndexedDB in a browser: the same code), in 1 MiB
 * chunks so a read of one range never loads the whole model:
 *
 *   size!<hex hash>            decimal byte length (written last in the same batch)
 *   chunk!<hex hash>!<index>   bytes [index * 1 MiB, ...)
 *
 * Writes are one atomic batch with { sync: true }: a stored model survives a
 * crash, and a torn write leaves nothing. `put` hashes what it stores, so the
 * key always is the content's hash; `getModel` re-hashes what it reads.
 */
import { Level } from 'level'
import { sha256 } from '@noble/hashes/sha2.js'
import { modelHash } from '../../gossip-fl/round/aggregate.ts'
import { bytesEqual, toHex } from '../../ledger/bytes.ts'
import { InvalidParametersError } from '../../util/errors.ts'
import { ModelHashMismatchError, ModelStoreError, ModelTooLargeError } from './errors.ts'

export const MODEL_CHUNK_BYTES = 1 << 20
/** Largest blob the store accepts unless configured otherwise (a few hundred MiB of weights). */
export const DEFAULT_MAX_BLOB_BYTES = 256 * 1024 * 1024

/** The storage a ModelStore needs: hash-addressed byte blobs with ranged reads. */
export interface BlobStore {
  /** byte length of the blob, or undefined if absent */
  size(hash: Uint8Array): Promise<number | undefined>
  /** bytes [offset, offset + length) of the blob (clamped to its end), or undefined if absent */
  read(hash: Uint8Array, offset: number, length: number): Promise<Uint8Array | undefined>
  /**
   * store bytes under SHA-256(bytes); returns the hash. `knownHash`: the caller
   * has just computed SHA-256(bytes) itself (saves hashing a model twice)
   */
  put(bytes: Uint8Array, knownHash?: Uint8Array): Promise<Uint8Array>
  delete(hash: Uint8Array): Promise<void>
  /** hashes of every stored blob */
  list(): Promise<Uint8Array[]>
  close(): Promise<void>
  /**
   * Resolve with the blob's size as soon as it is stored (at once if it is), or with
   * undefined after `ms` (optional: a store without it makes servers answer "not held" at once)
   */
  waitFor?(hash: Uint8Array, ms: number): Promise<number | undefined>
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/** Canonical bytes of a model: little-endian float32 (a copy). */
export function modelToBytes (model: Float32Array): Uint8Array {
  if (!(model instanceof Float32Array)) throw new InvalidParametersError('a model must be a Float32Array')
  if (LITTLE_ENDIAN) return new Uint8Array(model.buffer.slice(model.byteOffset, model.byteOffset + model.byteLength))
  const b = new Uint8Array(model.length * 4)
  const dv = new DataView(b.buffer)
  for (let i = 0; i < model.length; i++) dv.setFloat32(i * 4, model[i]!, true)
  return b
}

/** A model from its canonical bytes (length must be a multiple of 4). */
export function modelFromBytes (bytes: Uint8Array): Float32Array {
  if (!(bytes instanceof Uint8Array) || bytes.length % 4 !== 0) throw new InvalidParametersError(`model bytes must be a Uint8Array whose length is a multiple of 4, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`)
  if (LITTLE_ENDIAN) return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
  const out = new Float32Array(bytes.length / 4)
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true)
  return out
}

/**
 * SHA-256 through the platform's native implementation when there is one
 * (WebCrypto `crypto.subtle`: Node >= 19 and browsers in secure contexts),
 * else @noble/hashes. Same digest either way (FIPS 180-4). On Node the native
 * digest runs off the main thread, and the pure-JS one was 19% of the CPU of a
 * 10-peer MLP round (hashing 400 KB models and group sums on every put, get
 * and fetch).
 */
export async function sha256Async (bytes: Uint8Array): Promise<Uint8Array> {
  const subtle = (globalThis as { crypto?: { subtle?: { digest: (alg: string, data: Uint8Array) => Promise<ArrayBuffer> } } }).crypto?.subtle
  if (subtle !== undefined && bytes.length >= NATIVE_HASH_MIN_BYTES) return new Uint8Array(await subtle.digest('SHA-256', bytes))
  return sha256(bytes)
}

/** Below this size the pure-JS hash is cheaper than a trip to the native one. */
const NATIVE_HASH_MIN_BYTES = 4096

/** The model hash of the round protocol (checkpoint `modelHash`). */
export function modelHashOf (model: Float32Array): Uint8Array { return modelHash(model) }

export function checkHash (hash: unknown): Uint8Array {
  if (!(hash instanceof Uint8Array) || hash.length !== 32) throw new InvalidParametersError('a model hash must be 32 bytes (SHA-256)')
  return hash
}

const pad = (n: number): string => n.toString().padStart(8, '0')
const dec = new TextDecoder()
const enc = new TextEncoder()
const plain = (v: Uint8Array): Uint8Array => (v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength))

export interface LevelBlobStoreOptions {
  /** directory (Node) or IndexedDB name (browser); ignored when `db` is given */
  location?: string
  db?: Level<string, Uint8Array>
  maxBlobBytes?: number
  /** bytes of the most recently stored blobs kept in memory and served from there (0: none; default 4 MiB) */
  recentBytes?: number
  /** callers of waitFor waiting at once, at most (more get undefined at once; default 256) */
  maxWaiters?: number
}

/**
 * Default memory for recently stored blobs: one round's group sums, model and rule state (2.8 MB
 * for the MLP), the burst of fetches comes right after they are stored. (32 MiB added 12-14 MiB
 * of RSS per peer in bench/round.ts.) A blob larger than this is not kept: its waiters are woken
 * when its write is done, and it is served from LevelDB.
 */
export const DEFAULT_RECENT_BYTES = 4 * 1024 * 1024

/**
 * Recently stored blobs stay in memory (issue #4, round overhead). Every peer that is not on a
 * round's committee fetches the round's group sums (2 MB for the MLP) from the members right
 * after the machines finish, often before a member's own put has reached LevelDB: those
 * requests were answered "not held" and the fetcher slept 400 ms per sweep over the
 * members (bench/round.ts: non-members adopted the model 1.5-4 s after the ledger
 * checkpoint, and the next round waits for them). So a put that fits in `recentBytes` is
 * visible (size, read, waitFor) from the moment its hash is known, while its synced batch is
 * written; reads of recent blobs need no LevelDB read; and `waitFor` lets a server answer a
 * request for a blob it is about to store as soon as it has it (a blob too large for the
 * memory wakes its waiters when its write is done). The memory copy is the one being written
 * (chunk copies made by put), so what is served is what is stored; a failed write removes it.
 * Bounded: `recentBytes` (oldest written blobs dropped first; a blob being written is never
 * dropped) and `maxWaiters` (a peer flooding requests for absent blobs only turns the hold off).
 */
interface Recent { size: number, chunks: Uint8Array[], written: boolean }

export class LevelBlobStore implements BlobStore {
  readonly db: Level<string, Uint8Array>
  readonly maxBlobBytes: number
  private closed = false
  private readonly recentBytes: number
  private readonly maxWaiters: number
  /** hex hash -> recently stored blob, oldest first */
  private readonly recent = new Map<string, Recent>()
  private recentTotal = 0
  private readonly waiters = new Map<string, Set<(size: number | undefined) => void>>()
  private waiting = 0

  private constructor (db: Level<string, Uint8Array>, maxBlobBytes: number, recentBytes: number, maxWaiters: number) {
    this.db = db
    this.maxBlobBytes = maxBlobBytes
    this.recentBytes = recentBytes
    this.maxWaiters = maxWaiters
  }

  static async open (opts: LevelBlobStoreOptions): Promise<LevelBlobStore> {
    const max = opts.maxBlobBytes ?? DEFAULT_MAX_BLOB_BYTES
    if (!Number.isSafeInteger(max) || max < 1) throw new InvalidParametersError('maxBlobBytes must be a positive integer')
    const recentBytes = opts.recentBytes ?? DEFAULT_RECENT_BYTES
    if (!Number.isSafeInteger(recentBytes) || recentBytes < 0) throw new InvalidParametersError('recentBytes must be a non-negative integer')
    const maxWaiters = opts.maxWaiters ?? 256
    if (!Number.isSafeInteger(maxWaiters) || maxWaiters < 0 || maxWaiters > 1_000_000) throw new InvalidParametersError('maxWaiters must be an integer in [0, 1e6]')
    if (opts.db === undefined && (typeof opts.location !== 'string' || opts.location === '')) throw new InvalidParametersError('a model store needs a location or a db')
    const db = opts.db ?? new Level<string, Uint8Array>(opts.location!, { keyEncoding: 'utf8', valueEncoding: 'view' })
    try {
      await db.open()
    } catch (err) {
      throw new ModelStoreError(`cannot open model store: ${(err as Error).message}`, { cause: err })
    }
    return new LevelBlobStore(db, max, recentBytes, maxWaiters)
  }

  private live (): void { if (this.closed) throw new ModelStoreError('the model store is closed') }

  async size (hash: Uint8Array): Promise<number | undefined> {
    this.live()
    const h = toHex(checkHash(hash))
    const r = this.recent.get(h)
    if (r !== undefined) return r.size
    const v = await this.db.get(`size!${h}`)
    return v === undefined ? undefined : Number(dec.decode(v))
  }

  async read (hash: Uint8Array, offset: number, length: number): Promise<Uint8Array | undefined> {
    const size = await this.size(hash)
    if (size === undefined) return undefined
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) throw new InvalidParametersError('offset and length must be non-negative integers')
    const end = Math.min(size, offset + length)
    if (offset >= end) return new Uint8Array(0)
    const out = new Uint8Array(end - offset)
    const h = toHex(hash)
    const recent = this.recent.get(h)
    for (let i = Math.floor(offset / MODEL_CHUNK_BYTES); i * MODEL_CHUNK_BYTES < end; i++) {
      const raw = recent !== undefined ? recent.chunks[i] : await this.db.get(`chunk!${h}!${pad(i)}`)
      if (raw === undefined) throw new ModelStoreError(`model ${h} is missing chunk ${i}`)
      const chunk = plain(raw)
      const base = i * MODEL_CHUNK_BYTES
      const from = Math.max(offset, base)
      const to = Math.min(end, base + chunk.length)
      out.set(chunk.subarray(from - base, to - base), from - offset)
    }
    return out
  }

  async put (bytes: Uint8Array, knownHash?: Uint8Array): Promise<Uint8Array> {
    this.live()
    if (!(bytes instanceof Uint8Array)) throw new InvalidParametersError('a blob must be a Uint8Array')
    if (bytes.length > this.maxBlobBytes) throw new ModelTooLargeError(bytes.length, this.maxBlobBytes)
    const hash = knownHash ?? await sha256Async(bytes)
    if (await this.size(hash) === bytes.length) return hash
    const h = toHex(hash)
    const ops: Array<{ type: 'put', key: string, value: Uint8Array }> = []
    const chunks: Uint8Array[] = []
    for (let i = 0; i * MODEL_CHUNK_BYTES < bytes.length; i++) {
      const chunk = bytes.slice(i * MODEL_CHUNK_BYTES, (i + 1) * MODEL_CHUNK_BYTES)
      chunks.push(chunk)
      ops.push({ type: 'put', key: `chunk!${h}!${pad(i)}`, value: chunk })
    }
    ops.push({ type: 'put', key: `size!${h}`, value: enc.encode(String(bytes.length)) })
    const mine: Recent = { size: bytes.length, chunks, written: false }
    // Kept (and its waiters woken) now if it fits in memory; otherwise only once it is on disk,
    // so a woken server never reads a blob that neither memory nor LevelDB holds yet.
    const kept = this.remember(h, mine)
    try {
      await this.db.batch(ops, { sync: true })
    } catch (err) {
      if (this.recent.get(h) === mine) this.forget(h)
      throw new ModelStoreError(`model write failed: ${(err as Error).message}`, { cause: err })
    }
    mine.written = true
    if (!kept) this.wake(h, mine.size)
    this.evict()
    return hash
  }

  /**
   * Keep a blob being stored in memory (if it fits) and wake its waiters; false if it does not
   * fit (the caller wakes them after the write). Entries still being written are never evicted.
   */
  private remember (h: string, r: Recent): boolean {
    if (r.size > this.recentBytes) return false
    this.forget(h)
    this.recent.set(h, r)
    this.recentTotal += r.size
    this.evict()
    this.wake(h, r.size)
    return true
  }

  /** Drop the oldest written blobs while over `recentBytes`. */
  private evict (): void {
    for (const [k, v] of this.recent) {
      if (this.recentTotal <= this.recentBytes) break
      if (!v.written) continue
      this.recent.delete(k)
      this.recentTotal -= v.size
    }
  }

  private wake (h: string, size: number): void {
    const w = this.waiters.get(h)
    if (w === undefined) return
    this.waiters.delete(h)
    for (const wake of w) wake(size)
  }

  private forget (h: string): void {
    const old = this.recent.get(h)
    if (old === undefined) return
    this.recent.delete(h)
    this.recentTotal -= old.size
  }

  async waitFor (hash: Uint8Array, ms: number): Promise<number | undefined> {
    const now = await this.size(hash)
    if (now !== undefined || this.closed || !(ms > 0) || this.waiting >= this.maxWaiters) return now
    const h = toHex(hash)
    return await new Promise<number | undefined>((resolve) => {
      let set = this.waiters.get(h)
      if (set === undefined) { set = new Set(); this.waiters.set(h, set) }
      const s = set
      const wake = (size: number | undefined): void => {
        clearTimeout(t)
        if (s.delete(wake)) this.waiting--
        if (s.size === 0 && this.waiters.get(h) === s) this.waiters.delete(h)
        resolve(size)
      }
      const t = setTimeout(() => { wake(undefined) }, Math.min(ms, 60_000))
      s.add(wake)
      this.waiting++
    })
  }

  async delete (hash: Uint8Array): Promise<void> {
    const size = await this.size(hash)
    if (size === undefined) return
    const h = toHex(hash)
    this.forget(h)
    const ops: Array<{ type: 'del', key: string }> = [{ type: 'del', key: `size!${h}` }]
    for (let i = 0; i * MODEL_CHUNK_BYTES < size; i++) ops.push({ type: 'del', key: `chunk!${h}!${pad(i)}` })
    await this.db.batch(ops, { sync: true })
  }

  async list (): Promise<Uint8Array[]> {
    this.live()
    const out: Uint8Array[] = []
    for await (const k of this.db.keys({ gte: 'size!', lt: 'size!~' })) {
      const b = new Uint8Array(32)
      const hex = k.slice(5)
      for (let i = 0; i < 32; i++) b[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16)
      out.push(b)
    }
    return out
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const [, set] of [...this.waiters]) for (const wake of [...set]) wake(undefined)
    this.recent.clear()
    this.recentTotal = 0
    await this.db.close()
  }
}

/** Models (Float32Array) and other blobs by hash, over any BlobStore. */
export class ModelStore {
  readonly blobs: BlobStore

  constructor (blobs: BlobStore) { this.blobs = blobs }

  /** Open a level-backed store at `location` (e.g. `<dataDir>/models`). */
  static async open (opts: LevelBlobStoreOptions): Promise<ModelStore> {
    return new ModelStore(await LevelBlobStore.open(opts))
  }

  async has (hash: Uint8Array): Promise<boolean> { return await this.blobs.size(checkHash(hash)) !== undefined }

  /** Store a model; returns its hash (= the checkpoint's modelHash of those weights). */
  async putModel (model: Float32Array): Promise<Uint8Array> {
    const hash = await this.blobs.put(modelToBytes(model))
    return hash
  }

  /** Store bytes that must hash to `expected` (throws ModelHashMismatchError otherwise, storing nothing). */
  async putVerified (bytes: Uint8Array, expected: Uint8Array): Promise<void> {
    const actual = await sha256Async(bytes)
    if (!bytesEqual(actual, checkHash(expected))) throw new ModelHashMismatchError(toHex(expected), toHex(actual))
    await this.blobs.put(bytes, actual)
  }

  /** The blob's bytes, re-hashed on the way out (disk damage is an error, not a wrong model). */
  async getBytes (hash: Uint8Array): Promise<Uint8Array | undefined> {
    const size = await this.blobs.size(checkHash(hash))
    if (size === undefined) return undefined
    const bytes = await this.blobs.read(hash, 0, size)
    if (bytes === undefined) return undefined
    const actual = await sha256Async(bytes)
    if (!bytesEqual(actual, hash)) throw new ModelStoreError(`stored model ${toHex(hash)} is damaged (hashes to ${toHex(actual)})`)
    return bytes
  }

  async getModel (hash: Uint8Array): Promise<Float32Array | undefined> {
    const b = await this.getBytes(hash)
    return b === undefined ? undefined : modelFromBytes(b)
  }

  async close (): Promise<void> { await this.blobs.close() }
}
