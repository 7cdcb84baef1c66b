/**
 * The `model-fetch` protocol: models (and other content-addressed blobs) served
 * in chunks and fetched by hash from any peer that has them, verified by hash
 * before use. See docs/architecture/sync.md.
 *
 * Request  (DAG-CBOR, <= the protocol's 4 KiB cap): { v: 1, hash: 32 bytes, offset, length }
 * Response (DAG-CBOR):                                { v: 1, size: total bytes | null, data: bytes }
 *
 * `size: null` means "not here". The server clamps `length` to its chunk cap
 * and to the blob's end. The client learns the size from the first chunk,
 * refuses sizes over its cap before allocating, checks every chunk's length
 * and the size's consistency, hashes incrementally, and stores the bytes only
 * when SHA-256 matches. Wrong bytes raise ModelHashMismatchError, are reported
 * (`misbehaviour` event, `onMisbehaviour` hook) and the next peer is tried.
 * A server asked for a blob it does not hold yet answers once it stores it, within
 * `holdMs` (round overhead, issue #4: see model-store.ts "Recently stored blobs").
 */
import * as dagCbor from '@ipld/dag-cbor'
import { bytesEqual, toHex } from '../../ledger/bytes.ts'
import { InvalidParametersError } from '../../util/errors.ts'
import { networkProtocols, type ProtocolSpec } from '../protocol-ids.ts'
import type { Transport } from '../transport.ts'
import { ModelHashMismatchError, ModelNotFoundError, ModelTooLargeError, SyncNotStartedError, SyncProtocolError } from './errors.ts'
import { TypedEmitter } from './events.ts'
import { checkHash, modelFromBytes, sha256Async, type ModelStore } from './model-store.ts'

export interface ModelFetchComponents {
  transport: Transport
  store: ModelStore
  /** reputation hook */
  onMisbehaviour?: (peer: string, m: { kind: ModelMisbehaviourKind, detail: string, hash: string }) => void
}

export interface ModelFetchOptions {
  netId: string
  /** bytes asked for per request (one frame) */
  chunkBytes: number
  /** largest chunk this peer serves per response */
  serveChunkBytes: number
  /** largest model accepted (checked before allocating) */
  maxModelBytes: number
  /** deadline per chunk request (ms) */
  requestTimeoutMs: number
  /** peers tried per fetch */
  maxPeers: number
  /**
   * A request for a blob this peer does not hold is answered when the blob is stored, if that
   * happens within this many ms (else "not held"); 0 answers at once. Bounded by the store's
   * `maxWaiters`. Keep it well below the clients' request deadline.
   */
  holdMs: number
  /**
   * Try the given peers starting at a position derived from this peer's id (then in order,
   * wrapping around), so that the N peers fetching one blob from the same holders spread over
   * them instead of all asking the first; false: in the order given.
   */
  spreadPeers: boolean
}

export const MODEL_FETCH_DEFAULTS: Readonly<Omit<ModelFetchOptions, 'netId'>> = Object.freeze({
  // One request for blobs up to 4 MiB (the MLP's group sums are 2 MB): each chunk is a round
  // trip through both peers' event loops, and the protocol's cap is 64 MiB.
  chunkBytes: 4 << 20,
  serveChunkBytes: 4 << 20,
  maxModelBytes: 256 * 1024 * 1024,
  requestTimeoutMs: 30_000,
  maxPeers: 8,
  // Members store a round's group sums within about a second of finishing it (bench/round.ts);
  // the Peer's fetch deadline is 10 s.
  holdMs: 2000,
  spreadPeers: true
})

export type ModelMisbehaviourKind = 'wrong-model-bytes' | 'bad-response'

export interface ModelFetchEvents {
  'fetched': { hash: string, peer: string, bytes: number, ms: number }
  'misbehaviour': { peer: string, kind: ModelMisbehaviourKind, detail: string, hash: string }
}

/** Response framing headroom below the protocol cap. */
const HEADROOM = 1024
/**
 * Smallest chunk a server may send (unless it is the blob's last bytes): bounds
 * the number of requests a download takes to size / 64 KiB, so a stingy or
 * hostile server cannot turn one model into millions of round trips.
 */
export const MIN_CHUNK = 64 * 1024

export function modelFetchConfig (options: Partial<ModelFetchOptions> & Pick<ModelFetchOptions, 'netId'>): ModelFetchOptions {
  const c: ModelFetchOptions = { ...MODEL_FETCH_DEFAULTS, ...options }
  const spec = networkProtocols(c.netId).protocols['model-fetch']
  const int = (name: keyof ModelFetchOptions, lo: number, hi: number): void => {
    const v = c[name]
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < lo || v > hi) throw new InvalidParametersError(`${name} must be an integer in [${lo}, ${hi}], got ${String(v)}`)
  }
  int('chunkBytes', MIN_CHUNK, spec.maxResponseBytes - HEADROOM)
  int('serveChunkBytes', MIN_CHUNK, spec.maxResponseBytes - HEADROOM)
  int('maxModelBytes', 1, 4 * 1024 * 1024 * 1024)
  int('requestTimeoutMs', 100, 600_000)
  int('maxPeers', 1, 256)
  int('holdMs', 0, 60_000)
  if (c.holdMs >= c.requestTimeoutMs) throw new InvalidParametersError(`holdMs (${c.holdMs}) must be below requestTimeoutMs (${c.requestTimeoutMs})`)
  if (typeof c.spreadPeers !== 'boolean') throw new InvalidParametersError('spreadPeers must be a boolean')
  return c
}

interface ChunkRequest { hash: Uint8Array, offset: number, length: number }
interface ChunkResponse { size: number | null, data: Uint8Array }

const MAX_OFFSET = 2 ** 40

export function encodeChunkRequest (r: ChunkRequest): Uint8Array { return dagCbor.encode({ v: 1, hash: r.hash, offset: r.offset, length: r.length }) }

export function decodeChunkRequest (b: Uint8Array, cap: number): ChunkRequest {
  const o = decodeMap(b, cap, 'model request')
  if (!(o.hash instanceof Uint8Array) || o.hash.length !== 32) throw new SyncProtocolError('model request: hash must be 32 bytes')
  const int = (v: unknown, what: string): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > MAX_OFFSET) throw new SyncProtocolError(`model request: ${what} must be an integer in [0, 2^40]`)
    return v
  }
  return { hash: o.hash, offset: int(o.offset, 'offset'), length: int(o.length, 'length') }
}

export function encodeChunkResponse (r: ChunkResponse): Uint8Array { return dagCbor.encode({ v: 1, size: r.size, data: r.data }) }

export function decodeChunkResponse (b: Uint8Array, cap: number): ChunkResponse {
  const o = decodeMap(b, cap, 'model response')
  if (!(o.data instanceof Uint8Array)) throw new SyncProtocolError('model response: data must be bytes')
  if (o.size !== null && (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0 || o.size > MAX_OFFSET)) throw new SyncProtocolError('model response: size must be null or an integer in [0, 2^40]')
  return { size: o.size as number | null, data: o.data }
}

function decodeMap (b: Uint8Array, cap: number, what: string): Record<string, unknown> {
  if (!(b instanceof Uint8Array)) throw new SyncProtocolError(`${what} must be bytes`)
  if (b.length > cap) throw new SyncProtocolError(`${what} of ${b.length} bytes exceeds ${cap}`)
  let o: unknown
  try { o = dagCbor.decode(b) } catch (err) { throw new SyncProtocolError(`${what} is not DAG-CBOR: ${(err as Error).message}`, { cause: err }) }
  if (o === null || typeof o !== 'object' || Array.isArray(o) || o instanceof Uint8Array) throw new SyncProtocolError(`${what} is not a map`)
  if ((o as Record<string, unknown>).v !== 1) throw new SyncProtocolError(`${what}: unsupported version`)
  return o as Record<string, unknown>
}

export class ModelFetch extends TypedEmitter<ModelFetchEvents> {
  readonly options: ModelFetchOptions
  private readonly c: ModelFetchComponents
  private readonly protocol: ProtocolSpec
  private started = false
  private life = new AbortController()
  private readonly inflight = new Map<string, Promise<Uint8Array>>()

  constructor (components: ModelFetchComponents, options: Partial<ModelFetchOptions> & Pick<ModelFetchOptions, 'netId'>) {
    super()
    if (components?.transport == null || components.store == null) throw new InvalidParametersError('ModelFetch needs a transport and a store')
    this.c = components
    this.options = modelFetchConfig(options)
    this.protocol = networkProtocols(this.options.netId).protocols['model-fetch']
  }

  async start (): Promise<void> {
    if (this.started) return
    this.life = new AbortController()
    this.started = true
    await this.c.transport.handle(this.protocol.id, async (req) => await this.serve(req), {
      maxRequestBytes: this.protocol.maxRequestBytes,
      maxResponseBytes: this.protocol.maxResponseBytes,
      timeoutMs: this.options.requestTimeoutMs
    })
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.life.abort(new SyncNotStartedError('model fetch stopped'))
    try { await this.c.transport.unhandle(this.protocol.id) } catch { /* transport already stopped */ }
    await Promise.allSettled([...this.inflight.values()])
  }

  private async serve (req: Uint8Array): Promise<Uint8Array> {
    const r = decodeChunkRequest(req, this.protocol.maxRequestBytes)
    const blobs = this.c.store.blobs
    // A blob about to be stored (a round's group sums, asked for by the other peers the moment
    // the round ends): answer when it is, rather than "not held" and a retry sweep later.
    const size = this.options.holdMs > 0 && blobs.waitFor !== undefined && this.started ? await blobs.waitFor(r.hash, this.options.holdMs) : await blobs.size(r.hash)
    if (size === undefined) return encodeChunkResponse({ size: null, data: new Uint8Array(0) })
    const length = Math.min(r.length, this.options.serveChunkBytes)
    const data = await this.c.store.blobs.read(r.hash, r.offset, length)
    return encodeChunkResponse({ size, data: data ?? new Uint8Array(0) })
  }

  private report (peer: string, kind: ModelMisbehaviourKind, detail: string, hash: string): void {
    this.emit('misbehaviour', { peer, kind, detail, hash })
    try { this.c.onMisbehaviour?.(peer, { kind, detail, hash }) } catch { /* the hook's own failure */ }
  }

  private async chunk (peer: string, r: ChunkRequest): Promise<ChunkResponse> {
    const bytes = await this.c.transport.send(peer, this.protocol.id, encodeChunkRequest(r), {
      timeoutMs: this.options.requestTimeoutMs,
      maxRequestBytes: this.protocol.maxRequestBytes,
      maxResponseBytes: this.protocol.maxResponseBytes,
      signal: this.life.signal
    })
    try {
      return decodeChunkResponse(bytes, this.protocol.maxResponseBytes)
    } catch (err) {
      this.report(peer, 'bad-response', (err as Error).message, toHex(r.hash))
      throw err
    }
  }

  /**
   * Download the blob `hash` from one peer and verify it (nothing is stored
   * here). Throws ModelNotFoundError (peer lacks it), ModelTooLargeError,
   * SyncProtocolError (inconsistent chunks) or ModelHashMismatchError.
   */
  async fetchFrom (peer: string, hash: Uint8Array): Promise<Uint8Array> {
    if (!this.started) throw new SyncNotStartedError()
    checkHash(hash)
    const hex = toHex(hash)
    const t0 = Date.now()
    const first = await this.chunk(peer, { hash, offset: 0, length: this.options.chunkBytes })
    if (first.size === null) throw new ModelNotFoundError(hex, [{ peer, error: 'not held' }])
    const size = first.size
    if (size > this.options.maxModelBytes) throw new ModelTooLargeError(size, this.options.maxModelBytes)
    // Allocated at the first chunk that is not the whole blob: a blob served in one response
    // (every blob up to chunkBytes) is used as decoded, without a copy of its bytes.
    let out: Uint8Array | undefined
    let offset = 0
    let next: ChunkResponse = first
    for (let i = 0; ; i++) {
      const want = Math.min(this.options.chunkBytes, size - offset)
      const bad = (m: string): never => {
        this.report(peer, 'bad-response', m, hex)
        throw new SyncProtocolError(`model ${hex} from ${peer}: ${m}`)
      }
      if (next.size !== size) bad(`size changed from ${size} to ${String(next.size)}`)
      if (next.data.length > want || next.data.length < Math.min(want, MIN_CHUNK)) bad(`chunk at ${offset} has ${next.data.length} bytes, asked for ${want}`)
      if (offset === 0 && next.data.length === size) { out = next.data; offset = size; break }
      out ??= new Uint8Array(size)
      out.set(next.data, offset)
      offset += next.data.length
      if (offset >= size) break
      if (!this.started) throw new SyncNotStartedError()
      next = await this.chunk(peer, { hash, offset, length: this.options.chunkBytes })
      void i
    }
    if (out === undefined) out = new Uint8Array(0) // size 0: nothing to receive
    // One native digest of the whole blob (model-store.ts sha256Async): the blob is held whole anyway.
    const actual = await sha256Async(out)
    if (!bytesEqual(actual, hash)) {
      const err = new ModelHashMismatchError(hex, toHex(actual), peer)
      this.report(peer, 'wrong-model-bytes', err.message, hex)
      throw err
    }
    this.emit('fetched', { hash: hex, peer, bytes: size, ms: Date.now() - t0 })
    return out
  }

  /**
   * The verified bytes of blob `hash`: from the local store, else from the
   * given peers (default: every connected peer; rotated by this peer's id, `spreadPeers`), one after another until one
   * serves bytes with that hash; those are stored. Throws ModelNotFoundError
   * listing each peer's failure when none does.
   */
  async fetch (hash: Uint8Array, opts: { peers?: string[] } = {}): Promise<Uint8Array> {
    if (!this.started) throw new SyncNotStartedError()
    checkHash(hash)
    const hex = toHex(hash)
    const local = await this.c.store.getBytes(hash).catch(() => undefined)
    if (local !== undefined) return local
    const running = this.inflight.get(hex)
    if (running !== undefined) return await running
    const p = this.fetchAny(hash, this.order(opts.peers ?? this.c.transport.peers())).finally(() => { this.inflight.delete(hex) })
    this.inflight.set(hex, p)
    return await p
  }

  /** `peers` rotated to start at a position derived from this peer's id (`spreadPeers`). */
  order (peers: readonly string[]): string[] {
    if (!this.options.spreadPeers || peers.length < 2) return [...peers]
    // FNV-1a of the id: any fixed spread works, it only has to differ between fetchers.
    let x = 0x811c9dc5
    const self = this.c.transport.self
    for (let i = 0; i < self.length; i++) x = Math.imul(x ^ self.charCodeAt(i), 0x01000193) >>> 0
    const k = x % peers.length
    return [...peers.slice(k), ...peers.slice(0, k)]
  }

  private async fetchAny (hash: Uint8Array, peers: string[]): Promise<Uint8Array> {
    const hex = toHex(hash)
    const attempts: Array<{ peer: string, error: string }> = []
    for (const peer of peers.slice(0, this.options.maxPeers)) {
      if (!this.started) break
      try {
        const bytes = await this.fetchFrom(peer, hash)
        // fetchFrom has just checked SHA-256(bytes) = hash: no second digest.
        await this.c.store.blobs.put(bytes, hash)
        return bytes
      } catch (err) {
        attempts.push({ peer, error: `${(err as Error).name}: ${(err as Error).message}` })
        if ((err as Error).name === 'ModelTooLargeError') throw err
      }
    }
    throw new ModelNotFoundError(hex, attempts)
  }

  /** The model (Float32Array) with checkpoint modelHash `hash`, fetched if needed. */
  async fetchModel (hash: Uint8Array, opts: { peers?: string[] } = {}): Promise<Float32Array> {
    return modelFromBytes(await this.fetch(hash, opts))
  }
}

export function createModelFetch (components: ModelFetchComponents, options: Partial<ModelFetchOptions> & Pick<ModelFetchOptions, 'netId'>): ModelFetch {
  return new ModelFetch(components, options)
}
