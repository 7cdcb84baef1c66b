/**
 * Model transfer over one transport kind (run by model-fetch-memory.test.ts and
 * model-fetch-libp2p.test.ts): a 5 MiB model crosses in chunks and verifies;
 * wrong bytes are refused with a typed error and a misbehaviour report, and
 * the fetch falls back to an honest peer.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { modelHash } from '../../../src/gossip-fl/round/aggregate.ts'
import { toHex, bytesEqual } from '../../../src/ledger/bytes.ts'
import { networkProtocols } from '../../../src/node/protocol-ids.ts'
import type { Transport } from '../../../src/node/transport.ts'
import { ModelStore } from '../../../src/node/sync/model-store.ts'
import { createModelFetch, decodeChunkRequest, encodeChunkResponse, type ModelFetch, type ModelFetchEvents } from '../../../src/node/sync/model-fetch.ts'
import { seededRng } from '../../../src/util/rng.ts'
import { seedOf, waitFor, type PeerNet, type PeerNetFactory } from './fixture.ts'

const NET_ID = '5e11c0de00aa77bb'
const MiB = 1024 * 1024

interface Node { transport: Transport, store: ModelStore, fetch: ModelFetch, dir: string, mis: Array<ModelFetchEvents['misbehaviour']> }

function randomModel (n: number, seed: string): Float32Array {
  const rng = seededRng(seed)
  const m = new Float32Array(n)
  for (let i = 0; i < n; i++) m[i] = rng.nextFloat() * 2 - 1
  return m
}

export function modelFetchSuite (label: string, factory: PeerNetFactory): void {
  describe(`model fetch over ${label}`, function () {
    this.timeout(60_000)
    let net: PeerNet
    const nodes: Node[] = []
    const dirs: string[] = []
    const model = randomModel(5 * MiB / 4, 'model-5mib')
    const hash = modelHash(model)

    beforeEach(() => { net = factory(NET_ID) })
    afterEach(async () => {
      for (const n of nodes.splice(0)) { await n.fetch.stop(); await n.store.close() }
      await net.teardown()
      await Promise.all(dirs.splice(0).map(async (d) => { await rm(d, { recursive: true, force: true }) }))
    })

    // spreadPeers false: the fallback test below depends on the order of the peers it gives.
    async function node (name: string, opts: { spreadPeers?: boolean } = { spreadPeers: false }): Promise<Node> {
      const transport = await net.add(seedOf(name))
      const dir = await mkdtemp(join(tmpdir(), 'tessera-models-'))
      dirs.push(dir)
      const store = await ModelStore.open({ location: join(dir, 'models') })
      const fetch = createModelFetch({ transport, store }, { netId: NET_ID, ...opts })
      const mis: Node['mis'] = []
      fetch.on('misbehaviour', (m) => { mis.push(m) })
      await fetch.start()
      const n = { transport, store, fetch, dir, mis }
      nodes.push(n)
      return n
    }

    it('a 5 MiB model transfers in chunks, verifies against the checkpoint model hash, and is stored', async () => {
      const a = await node('model-a')
      const b = await node('model-b')
      assert.ok(bytesEqual(await a.store.putModel(model), hash), 'store key = round modelHash')
      await waitFor(() => b.transport.peers().includes(a.transport.self), 10_000, 'connection')
      const fetched: Array<ModelFetchEvents['fetched']> = []
      b.fetch.on('fetched', (e) => { fetched.push(e) })
      const got = await b.fetch.fetchModel(hash)
      assert.equal(got.length, model.length)
      assert.ok(bytesEqual(modelHash(got), hash))
      assert.ok(got.every((x, i) => Object.is(x, model[i])))
      assert.equal(fetched.length, 1)
      assert.equal(fetched[0]!.bytes, 5 * MiB)
      assert.equal(fetched[0]!.peer, a.transport.self)
      assert.ok(await b.store.has(hash), 'stored after verification')
      // served from the store now, without the network
      await net.remove(a.transport)
      assert.ok(bytesEqual(modelHash((await b.fetch.fetchModel(hash))), hash))
      assert.equal(b.mis.length, 0)
    })

    it('a holder answers a request for a blob it stores a moment later (holdMs); spreadPeers rotates the holders by fetcher id', async () => {
      const a = await node('model-hold-a')
      const b = await node('model-hold-b')
      await waitFor(() => b.transport.peers().includes(a.transport.self), 10_000, 'connection')
      const small = randomModel(300_000, 'model-hold')
      const h = modelHash(small)
      const fetched: Array<ModelFetchEvents['fetched']> = []
      b.fetch.on('fetched', (e) => { fetched.push(e) })
      // b asks before a has the model; a stores it 300 ms later and answers then (one attempt, no "not held")
      const t0 = Date.now()
      const pending = b.fetch.fetchModel(h, { peers: [a.transport.self] })
      await new Promise((resolve) => setTimeout(resolve, 300))
      await a.store.putModel(small)
      const got = await pending
      assert.ok(bytesEqual(modelHash(got), h))
      assert.equal(fetched.length, 1)
      assert.ok(Date.now() - t0 < 1900, `answered when stored, not at the ${b.fetch.options.holdMs} ms hold bound`)
      // spreadPeers: a deterministic rotation of the given holders, differing between fetchers
      const spread = createModelFetch({ transport: a.transport, store: a.store }, { netId: NET_ID })
      const other = createModelFetch({ transport: b.transport, store: b.store }, { netId: NET_ID })
      const holders = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']
      const o1 = spread.order(holders)
      assert.deepEqual([...o1].sort(), holders)
      assert.deepEqual(spread.order(holders), o1)
      const k = holders.indexOf(o1[0]!)
      assert.deepEqual(o1, [...holders.slice(k), ...holders.slice(0, k)])
      void other
      assert.deepEqual(b.fetch.order(holders), holders, 'spreadPeers false keeps the order given')
      assert.throws(() => createModelFetch({ transport: a.transport, store: a.store }, { netId: NET_ID, holdMs: 40_000, requestTimeoutMs: 30_000 }), (e: Error) => e.name === 'InvalidParametersError')
    })

    it('wrong bytes are rejected (ModelHashMismatchError, misbehaviour report, nothing stored), then an honest peer serves it', async () => {
      const evil = await node('model-evil')
      const honest = await node('model-honest')
      const c = await node('model-client')
      await honest.store.putModel(model)
      // The attacker serves a model of the right size whose last weight differs.
      const spec = networkProtocols(NET_ID).protocols['model-fetch']
      await evil.fetch.stop()
      const wrong = model.slice()
      wrong[wrong.length - 1] = 42
      const wrongBytes = new Uint8Array(wrong.buffer)
      await evil.transport.handle(spec.id, (req) => {
        const r = decodeChunkRequest(req, spec.maxRequestBytes)
        const end = Math.min(wrongBytes.length, r.offset + r.length)
        return encodeChunkResponse({ size: wrongBytes.length, data: wrongBytes.slice(r.offset, end) })
      }, { maxRequestBytes: spec.maxRequestBytes, maxResponseBytes: spec.maxResponseBytes })
      await waitFor(() => c.transport.peers().length >= 2, 10_000, 'connections')
      await assert.rejects(c.fetch.fetchFrom(evil.transport.self, hash), (e: Error) => e.name === 'ModelHashMismatchError')
      assert.equal(c.mis.length, 1)
      assert.equal(c.mis[0]!.peer, evil.transport.self)
      assert.equal(c.mis[0]!.kind, 'wrong-model-bytes')
      assert.equal(await c.store.has(hash), false)
      // fetch() tries the attacker first, reports it again, and falls back to the honest peer
      const got = await c.fetch.fetchModel(hash, { peers: [evil.transport.self, honest.transport.self] })
      assert.ok(bytesEqual(modelHash(got), hash))
      assert.equal(c.mis.length, 2)
      assert.ok(c.mis.every((m) => m.peer === evil.transport.self))
      // no peer holds an unknown model: typed error naming each attempt
      const unknown = new Uint8Array(32).fill(7)
      await assert.rejects(c.fetch.fetch(unknown, { peers: [honest.transport.self] }), (e: Error & { attempts?: unknown[] }) => e.name === 'ModelNotFoundError' && e.attempts?.length === 1)
      void toHex
    })
  })
}
