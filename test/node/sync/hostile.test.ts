/**
 * Hostile peers at the sync edges (in-memory network; the transport itself is
 * covered by test/node/transport-compliance.ts): garbage requests, garbage and
 * forged announcements, responses with entries nobody asked for, another
 * network's genesis, hostile model servers, and bad parameters.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { encodeEnvelope, decodeEnvelope, type Ledger } from '../../../src/ledger/index.ts'
import { nodeSigner } from '../../../src/ledger/signature-node.ts'
import { MemoryNetwork, type MemoryTransport } from '../../../src/node/memory-transport.ts'
import { networkProtocols } from '../../../src/node/protocol-ids.ts'
import type { Misbehaviour } from '../../../src/node/transport.ts'
import { encodeAnnouncement, encodeEntriesResponse, encodeHeadsResponse, encodeRequest } from '../../../src/node/sync/codec.ts'
import { createLedgerSync, type LedgerSync, type LedgerSyncEvents } from '../../../src/node/sync/ledger-sync.ts'
import { createModelFetch, encodeChunkResponse, decodeChunkRequest } from '../../../src/node/sync/model-fetch.ts'
import { ModelStore } from '../../../src/node/sync/model-store.ts'
import { seededRng } from '../../../src/util/rng.ts'
import { buildHistory, load, openLedger, removeTempDirs, seedOf, waitFor, type History } from './fixture.ts'
import { toHex } from '../../../src/ledger/bytes.ts'

const named = (n: string) => (e: Error & { remoteName?: string }) => e.name === n || (e.name === 'RemoteError' && e.remoteName === n)

describe('sync under hostile peers (in-memory network)', function () {
  this.timeout(30_000)
  let h: History
  let net: MemoryNetwork
  const stops: Array<() => Promise<void>> = []

  before(async () => { h = await buildHistory({ rounds: 2, label: 'hostile' }) })
  beforeEach(() => { net = new MemoryNetwork({ rng: seededRng('hostile'), defaultTimeoutMs: 5000 }) })
  afterEach(async () => { for (const s of stops.splice(0).reverse()) await s() })
  after(async () => { await removeTempDirs() })

  async function transport (name: string): Promise<MemoryTransport> {
    const t = net.createTransport(toHex(nodeSigner(seedOf(name)).publicKey))
    await t.start()
    stops.push(async () => { await t.stop() })
    return t
  }

  async function syncPeer (name: string, entries = h.log): Promise<{ t: MemoryTransport, ledger: Ledger, sync: LedgerSync, mis: Array<LedgerSyncEvents['misbehaviour']>, transportMis: Array<[string, Misbehaviour]> }> {
    const t = await transport(name)
    const { ledger } = await openLedger()
    await load(ledger, entries)
    const sync = createLedgerSync({ transport: t, ledger, signer: nodeSigner(seedOf(name)) }, { netId: h.netId, catchUpOnStart: false, catchUpIntervalMs: 0 })
    const mis: Array<LedgerSyncEvents['misbehaviour']> = []
    const transportMis: Array<[string, Misbehaviour]> = []
    sync.on('misbehaviour', (m) => { mis.push(m) })
    t.onMisbehaviour((p, r) => { transportMis.push([p, r]) })
    await sync.start()
    stops.push(async () => { await sync.stop(); await ledger.close() })
    return { t, ledger, sync, mis, transportMis }
  }

  it('answers garbage requests with a typed remote error and keeps serving', async () => {
    const server = await syncPeer('server')
    const client = await transport('client')
    const id = networkProtocols(h.netId).protocols['ledger-sync'].id
    for (const bad of [new Uint8Array([0xff, 0x00]), dagCbor.encode({ v: 1, op: 'nope' }), dagCbor.encode({ v: 1, op: 'cids', cids: [1, 2] }), new Uint8Array(0)]) {
      await assert.rejects(client.send(server.t.self, id, bad, { maxResponseBytes: 8 << 20 }), named('SyncProtocolError'))
    }
    await assert.rejects(client.send(server.t.self, id, new Uint8Array(65 * 1024), { maxRequestBytes: 1 << 20, maxResponseBytes: 8 << 20 }), named('FrameTooLargeError'))
    const ok = await client.send(server.t.self, id, encodeRequest({ op: 'heads', limit: 10 }), { maxResponseBytes: 8 << 20 })
    assert.ok(ok.length > 0)
  })

  it('rejects garbage, mismatched and forged announcements and reports their author', async () => {
    const victim = await syncPeer('victim')
    const attacker = await transport('attacker')
    const topic = networkProtocols(h.netId).topics.announce
    attacker.subscribe(topic.name, () => 'accept', () => {}, { maxBytes: topic.maxBytes })
    const last = h.log[h.log.length - 1]!
    const other = h.log[h.log.length - 2]!
    const forged = decodeEnvelope(last.envelope)
    const sig = forged.sig.slice(); sig[5] = sig[5]! ^ 0xff
    await attacker.publish(topic.name, new Uint8Array([1, 2, 3]))
    await attacker.publish(topic.name, encodeAnnouncement({ cid: other.cid, author: last.entry.author, seq: last.entry.seq, env: last.envelope }))
    await attacker.publish(topic.name, encodeAnnouncement({ cid: last.cid, author: last.entry.author, seq: last.entry.seq, env: encodeEnvelope(forged.bytes, sig) }))
    await waitFor(() => victim.mis.length >= 3, 5000, 'three reports')
    assert.deepEqual(victim.mis.map((m) => m.kind).sort(), ['bad-announcement', 'bad-announcement', 'invalid-entry'])
    assert.ok(victim.mis.every((m) => m.peer === attacker.self))
    await waitFor(() => victim.transportMis.length >= 3, 5000, 'transport reports')
    assert.ok(victim.transportMis.every(([p, r]) => p === attacker.self && r.kind === 'gossip-reject'))
    assert.equal(victim.ledger.size, h.log.length, 'nothing stored')
  })

  it('ignores another network\'s genesis by the same author (no report, no equivocation proof)', async () => {
    const victim = await syncPeer('victim2')
    const attacker = await transport('attacker2')
    const topic = networkProtocols(h.netId).topics.announce
    attacker.subscribe(topic.name, () => 'accept', () => {}, { maxBytes: topic.maxBytes })
    const otherNet = await buildHistory({ rounds: 0, label: 'hostile', networkId: 'another-charter' }) // same founders, other charter: another genesis
    assert.notEqual(otherNet.genesisCid, h.genesisCid)
    const g = otherNet.log[0]!
    let proofs = 0
    victim.sync.on('equivocation', () => { proofs++ })
    await attacker.publish(topic.name, encodeAnnouncement({ cid: g.cid, author: g.entry.author, seq: 0, env: g.envelope }))
    await new Promise((resolve) => setTimeout(resolve, 200))
    assert.equal(victim.mis.length, 0)
    assert.equal(proofs, 0)
    assert.equal(victim.ledger.state.isExcluded(toHex(g.entry.author)), false)
    assert.equal(victim.ledger.size, h.log.length)
  })

  it('reports a server that answers with entries nobody asked for, or with another network\'s genesis', async () => {
    const client = await syncPeer('client2', [])
    const liar = await transport('liar')
    const spec = networkProtocols(h.netId).protocols['ledger-sync']
    const g = h.log[0]!
    const stray = h.log[3]!
    await liar.handle(spec.id, (req) => {
      const op = (dagCbor.decode(req) as { op: string }).op
      if (op === 'heads') return encodeHeadsResponse({ genesis: g.cid, size: h.log.length, heads: [], more: false })
      return encodeEntriesResponse({ entries: [{ pos: 3, env: stray.envelope }], more: false })
    }, { maxRequestBytes: spec.maxRequestBytes, maxResponseBytes: spec.maxResponseBytes })
    const r = await client.sync.pullFrom(liar.self)
    assert.equal(r.complete, false)
    assert.ok(client.mis.some((m) => m.kind === 'bad-response' && m.peer === liar.self), JSON.stringify(client.mis))
    assert.equal(client.ledger.size, 0)

    const other = await buildHistory({ rounds: 0, label: 'another-network' })
    const stranger = await transport('stranger')
    await stranger.handle(spec.id, () => encodeHeadsResponse({ genesis: other.log[0]!.cid, size: 1, heads: [], more: false }), { maxRequestBytes: spec.maxRequestBytes, maxResponseBytes: spec.maxResponseBytes })
    const r2 = await client.sync.pullFrom(stranger.self)
    assert.equal(r2.complete, false)
    assert.match(r2.error!, /GenesisUnavailableError/)
    assert.ok(client.mis.some((m) => m.kind === 'wrong-genesis' && m.peer === stranger.self))
    assert.equal(client.ledger.size, 0)
  })

  it('refuses hostile model servers: oversized claims, stingy chunks, changing sizes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-models-'))
    const store = await ModelStore.open({ location: dir })
    const t = await transport('model-client')
    const fetch = createModelFetch({ transport: t, store }, { netId: h.netId, maxModelBytes: 1 << 20 })
    await fetch.start()
    stops.push(async () => { await fetch.stop(); await store.close(); await rm(dir, { recursive: true, force: true }) })
    const spec = networkProtocols(h.netId).protocols['model-fetch']
    const caps = { maxRequestBytes: spec.maxRequestBytes, maxResponseBytes: spec.maxResponseBytes }
    const huge = await transport('huge')
    await huge.handle(spec.id, () => encodeChunkResponse({ size: 2 ** 39, data: new Uint8Array(1024) }), caps)
    const stingy = await transport('stingy')
    await stingy.handle(spec.id, (req) => encodeChunkResponse({ size: 512 * 1024, data: new Uint8Array(decodeChunkRequest(req, 4096).offset === 0 ? 1000 : 10) }), caps)
    const shifty = await transport('shifty')
    let calls = 0
    await shifty.handle(spec.id, () => encodeChunkResponse({ size: calls++ === 0 ? 300 * 1024 : 200 * 1024, data: new Uint8Array(64 * 1024) }), { ...caps })
    const hash = new Uint8Array(32).fill(9)
    await assert.rejects(fetch.fetchFrom(huge.self, hash), named('ModelTooLargeError'))
    await assert.rejects(fetch.fetchFrom(stingy.self, hash), named('SyncProtocolError'))
    await assert.rejects(fetch.fetchFrom(shifty.self, hash), named('SyncProtocolError'))
    await assert.rejects(fetch.fetch(new Uint8Array(31)), named('InvalidParametersError'))
    const server = await transport('model-server')
    const serverDir = await mkdtemp(join(tmpdir(), 'tessera-models-'))
    const serverStore = await ModelStore.open({ location: serverDir })
    const serving = createModelFetch({ transport: server, store: serverStore }, { netId: h.netId })
    await serving.start()
    stops.push(async () => { await serving.stop(); await serverStore.close(); await rm(serverDir, { recursive: true, force: true }) })
    await assert.rejects(t.send(server.self, spec.id, dagCbor.encode({ v: 1, hash: 'x', offset: 0, length: 1 }), caps), named('SyncProtocolError'))
  })

  it('validates parameters and refuses use before start', async () => {
    const t = await transport('params')
    const { ledger } = await openLedger()
    stops.push(async () => { await ledger.close() })
    assert.throws(() => createLedgerSync({ transport: t, ledger }, { netId: 'nope' }), named('InvalidParametersError'))
    for (const bad of [{ inlineMaxBytes: -1 }, { windowEntries: 0 }, { catchUpPeers: Number.NaN }, { announce: 'all' as 'own' }, { requestTimeoutMs: 1e12 }, { reannounceWindowMs: -1 }, { reannounceMaxEntries: 0 }, { reannounceMaxTimes: 1.5 }, { reannounceDelayMs: Number.NaN }, { reannounceMaxRecipients: -1 }]) {
      assert.throws(() => createLedgerSync({ transport: t, ledger }, { netId: h.netId, ...bad }), named('InvalidParametersError'))
    }
    assert.throws(() => createLedgerSync({ transport: t } as never, { netId: h.netId }), named('InvalidParametersError'))
    const s = createLedgerSync({ transport: t, ledger }, { netId: h.netId })
    await assert.rejects(s.catchUp(), named('SyncNotStartedError'))
    await assert.rejects(s.pullFrom(t.self), named('SyncNotStartedError'))
    assert.throws(() => createModelFetch({ transport: t, store: {} as ModelStore }, { netId: h.netId, chunkBytes: 10 }), named('InvalidParametersError'))
  })
})
