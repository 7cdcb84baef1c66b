/**
 * One behavioural suite for ledger sync, run over the in-memory network and
 * over real libp2p on 127.0.0.1 (ledger-sync-memory.test.ts,
 * ledger-sync-libp2p.test.ts). Every peer has a real level-backed Ledger in a
 * temporary directory.
 */
import assert from 'node:assert/strict'
import { sha256 } from '@noble/hashes/sha2.js'
import {
  decodeEnvelope, encodeEnvelope, makeEntry, toHex, utf8,
  type Ledger, type SignedEntry, type Signer
} from '../../../src/ledger/index.ts'
import { nodeSigner } from '../../../src/ledger/signature-node.ts'
import { networkProtocols } from '../../../src/node/protocol-ids.ts'
import type { Transport } from '../../../src/node/transport.ts'
import { createLedgerSync, type LedgerSync, type LedgerSyncEvents, type LedgerSyncOptions } from '../../../src/node/sync/ledger-sync.ts'
import { serveSyncRequest } from '../../../src/node/sync/ledger-server.ts'
import { decodeEntriesResponse, decodeRequest, encodeEntriesResponse } from '../../../src/node/sync/codec.ts'
import {
  appendRound, buildHistory, load, openLedger, removeTempDirs, sameHeads, seedOf, waitFor,
  type History, type PeerNet, type PeerNetFactory
} from './fixture.ts'

interface Peer {
  seed: Uint8Array
  signer: Signer
  transport: Transport
  ledger: Ledger
  dir: string
  sync: LedgerSync
  events: { [K in keyof LedgerSyncEvents]: Array<LedgerSyncEvents[K]> }
}

export function ledgerSyncSuite (label: string, factory: PeerNetFactory, o: { settleMs: number }): void {
  describe(`ledger sync over ${label}`, function () {
    this.timeout(90_000)
    let h: History
    let net: PeerNet
    const peers: Peer[] = []

    before(async () => { h = await buildHistory({ rounds: 25 }) })
    beforeEach(() => { net = factory(h.netId) })
    afterEach(async () => {
      for (const p of peers.splice(0)) {
        await p.sync.stop()
        await p.ledger.close().catch(() => {})
      }
      await net.teardown()
    })
    after(async () => { await removeTempDirs() })

    /** Start a peer: transport, ledger (optionally preloaded, or reopened from `dir`), sync. */
    async function peer (name: string, entries: SignedEntry[], opts: Partial<LedgerSyncOptions> = {}, dir?: string): Promise<Peer> {
      const seed = seedOf(name)
      const transport = await net.add(seed)
      const { ledger, dir: d } = await openLedger(dir)
      await load(ledger, entries)
      const sync = createLedgerSync({ transport, ledger, signer: nodeSigner(seed) }, { netId: h.netId, catchUpIntervalMs: 0, ...opts })
      const events = { entry: [], announced: [], misbehaviour: [], equivocation: [], 'catch-up': [], reannounced: [] } as unknown as Peer['events']
      for (const k of Object.keys(events) as Array<keyof LedgerSyncEvents>) sync.on(k, ((d: unknown) => { (events[k] as unknown[]).push(d) }) as never)
      const p: Peer = { seed, signer: nodeSigner(seed), transport, ledger, dir: d, sync, events }
      peers.push(p)
      await sync.start()
      return p
    }

    async function stopPeer (p: Peer): Promise<void> {
      await p.sync.stop()
      await p.ledger.close()
      await net.remove(p.transport)
      peers.splice(peers.indexOf(p), 1)
    }

    it(`two peers sync a ledger of ${'~'}280 entries, then follow new entries by announcement`, async () => {
      assert.ok(h.log.length > 250, `history has ${h.log.length} entries`)
      const a = await peer('a', h.log, { catchUpOnStart: false, announce: 'local', inlineMaxBytes: 600 })
      const b = await peer('b', [], { catchUpOnStart: false })
      await waitFor(() => b.transport.peers().includes(a.transport.self), 10_000, 'connection')
      const r = await b.sync.pullFrom(a.transport.self)
      assert.equal(r.complete, true, r.error)
      assert.equal(r.appended, h.log.length)
      assert.equal(b.ledger.size, h.log.length)
      assert.ok(sameHeads(a.ledger.state, b.ledger.state))
      assert.equal(b.events.misbehaviour.length, 0)
      // live: a new round appended at a is announced (small entries inline, the checkpoint by CID)
      await waitFor(() => a.transport.topicPeers(networkProtocols(h.netId).topics.announce.name).includes(b.transport.self), 15_000, 'topic mesh')
      await new Promise((resolve) => setTimeout(resolve, o.settleMs))
      const before = b.events.entry.length
      const fresh = await appendRound(h)
      for (const e of fresh) await a.ledger.append(e)
      await waitFor(() => b.ledger.size === a.ledger.size, 20_000, 'announced entries to arrive')
      assert.ok(sameHeads(a.ledger.state, b.ledger.state))
      const got = b.events.entry.slice(before)
      assert.equal(got.length, fresh.length)
      assert.ok(got.every((e) => e.from === a.transport.self))
      const inline = a.events.announced.filter((x) => x.inline).length
      assert.ok(inline > 0 && inline < a.events.announced.length, `both inline and by-CID announcements (${inline} of ${a.events.announced.length})`)
    })

    it('a late joiner catches up from one honest peer; a lagging peer catches up too', async () => {
      const full = await peer('full', h.log, { catchUpOnStart: false })
      const lagging = await peer('lagging', h.log.slice(0, 100), { catchUpOnStart: false })
      const late = await peer('late', [], { catchUpOnStart: true, catchUpPeers: 2 })
      await waitFor(() => late.ledger.size === full.ledger.size, 30_000, 'late joiner to catch up')
      assert.ok(sameHeads(full.ledger.state, late.ledger.state))
      await lagging.sync.catchUp()
      await waitFor(() => lagging.ledger.size === full.ledger.size, 20_000, 'lagging peer to catch up')
      assert.ok(sameHeads(full.ledger.state, lagging.ledger.state))
      assert.equal(late.events.misbehaviour.length + lagging.events.misbehaviour.length, 0)
    })

    it('an announcement far ahead of our chains (beyond maxChainGap) pulls the missing dependencies from the announcer', async () => {
      const a = await peer('a', h.log, { catchUpOnStart: false, announce: 'local' })
      const b = await peer('b', h.log.slice(0, 40), { catchUpOnStart: false, maxChainGap: 4 })
      await waitFor(() => a.transport.topicPeers(networkProtocols(h.netId).topics.announce.name).includes(b.transport.self), 15_000, 'topic mesh')
      await new Promise((resolve) => setTimeout(resolve, o.settleMs))
      // b is ~27 rounds behind: the new round's entries need committees b cannot compute yet
      const fresh = await appendRound(h)
      for (const e of fresh) await a.ledger.append(e)
      await waitFor(() => b.ledger.size === a.ledger.size, 30_000, 'b to pull the dependencies')
      assert.ok(sameHeads(a.ledger.state, b.ledger.state))
      // the pull that brought them ends with a catch-up event (catch-up on start and periodic catch-up are off)
      await waitFor(() => b.events['catch-up'].some((r) => r.peer === a.transport.self && r.complete), 10_000, 'the pull from the announcer to finish')
      assert.equal(b.events.misbehaviour.length, 0)
    })

    it('periodic catch-up brings entries nobody announced (announce: own)', async () => {
      const a = await peer('a', h.log, { catchUpOnStart: false })
      const b = await peer('b', h.log, { catchUpOnStart: false, catchUpIntervalMs: 300 })
      // entries authored by others, appended at a: a announces only its own, so only the periodic pull brings them
      const fresh = await appendRound(h)
      for (const e of fresh) await a.ledger.append(e)
      assert.equal(a.events.announced.length, fresh.filter((e) => toHex(e.entry.author) === a.transport.self).length)
      await waitFor(() => b.ledger.size === a.ledger.size, 20_000, 'periodic catch-up')
      assert.ok(sameHeads(a.ledger.state, b.ledger.state))
    })

    it('announceEntry: an own entry leaves at once (no scan delay) and the scan does not announce it again', async () => {
      // Issue #4: the scan (announcePollMs, then a LevelDB read) put 22-193 ms between a checkpoint's
      // append and its announcement. A poll of 60 s makes any announcement within the test the direct one.
      const base = h.log.slice()
      const a = await peer('net/peer/1', base, { catchUpOnStart: false, announcePollMs: 60_000 })
      const b = await peer('b', base, { catchUpOnStart: false })
      await waitFor(() => a.transport.topicPeers(networkProtocols(h.netId).topics.announce.name).includes(b.transport.self), 15_000, 'topic mesh')
      await new Promise((resolve) => setTimeout(resolve, o.settleMs))
      const fresh = await appendRound(h)
      const own = fresh.filter((e) => toHex(e.entry.author) === a.transport.self)
      assert.ok(own.length >= 1)
      // others' entries first (a does not announce them: announce 'own'), then a's own, announced directly
      for (const e of fresh) {
        await a.ledger.append(e)
        a.sync.announceEntry(e)
      }
      const cid = own[0]!.cid.toString()
      await waitFor(() => b.ledger.state.entries.has(cid), 15_000, "a's entry to reach b")
      assert.equal(a.events.announced.length, own.length, 'only own entries, each once')
      a.sync.announceEntry(own[0]!) // twice: ignored
      assert.ok(await a.sync.announceNew() === 0, 'the scan skips what announceEntry sent')
      assert.equal(a.events.announced.length, own.length)
      assert.equal(b.events['catch-up'].length, 0, 'no pull')
    })

    it('an own entry announced before anyone subscribed reaches later subscribers by gossip, without catch-up; re-announcements are bounded', async () => {
      // Issue #4: a late joiner announced its join before its neighbours' subscriptions reached it
      // (gossipsub sent it to nobody), and the others learnt it only from their next catch-up.
      const topic = networkProtocols(h.netId).topics.announce.name
      const base = h.log.slice()
      const a = await peer('net/peer/0', base, { catchUpOnStart: false })
      const fresh = await appendRound(h)
      const own = fresh.filter((e) => toHex(e.entry.author) === a.transport.self)
      assert.ok(own.length >= 1, 'the round has an entry of a') // its first one (a contribution) is enough
      const cid = own[0]!.cid.toString()
      await a.ledger.append(own[0]!)
      await waitFor(() => a.events.announced.length === 1, 10_000, 'a to announce its entry')
      assert.equal(a.events.announced[0]!.recipients, 0, 'nobody was subscribed yet')
      // b subscribes later; catch-up is off (on start and periodic): only gossip can bring the entry
      const b = await peer('b', base, { catchUpOnStart: false })
      await waitFor(() => b.ledger.state.entries.has(cid), 15_000, "a's entry to reach b by re-announcement")
      assert.ok(b.events.entry.some((e) => e.cid === cid && e.from === a.transport.self), 'received from a on the topic')
      assert.equal(b.events['catch-up'].length, 0, 'no pull')
      const c = await peer('c', base, { catchUpOnStart: false })
      await waitFor(() => c.ledger.state.entries.has(cid), 15_000, "a's entry to reach c")
      assert.equal(c.events['catch-up'].length, 0, 'no pull')
      // reannounceMaxTimes (2) is used up: a fourth subscriber brings no more re-announcements
      const d = await peer('d', base, { catchUpOnStart: false })
      await waitFor(() => a.transport.topicPeers(topic).includes(d.transport.self), 15_000, "d's subscription to reach a")
      await new Promise((resolve) => setTimeout(resolve, 1000 + o.settleMs))
      const sent = a.events.reannounced.filter((r) => r.recipients > 0)
      assert.equal(sent.length, 2, JSON.stringify(a.events.reannounced))
      assert.ok(sent.every((r) => r.cids.length === 1 && r.cids[0] === cid))
      for (const p of [b, c, d]) assert.equal(p.events.reannounced.length, 0, 'peers without own recent announcements re-announce nothing')
      assert.equal(a.events.misbehaviour.length + b.events.misbehaviour.length + c.events.misbehaviour.length, 0)
    })

    it('an own entry whose announcement reached more than one peer is not re-announced to later subscribers (the mesh carried it)', async () => {
      const topic = networkProtocols(h.netId).topics.announce.name
      const base = h.log.slice()
      const a = await peer('net/peer/0', base, { catchUpOnStart: false })
      const b = await peer('b', base, { catchUpOnStart: false })
      const c = await peer('c', base, { catchUpOnStart: false })
      await waitFor(() => [b, c].every((p) => a.transport.topicPeers(topic).includes(p.transport.self)), 15_000, "b's and c's subscriptions to reach a")
      const own = (await appendRound(h)).filter((e) => toHex(e.entry.author) === a.transport.self)
      assert.ok(own.length >= 1, 'the round has an entry of a') // its first one (a contribution) is enough
      const cid = own[0]!.cid.toString()
      await a.ledger.append(own[0]!)
      await waitFor(() => a.events.announced.length === 1, 10_000, 'a to announce its entry')
      assert.ok(a.events.announced[0]!.recipients >= 2, `announced to ${a.events.announced[0]!.recipients} peers`)
      await waitFor(() => b.ledger.state.entries.has(cid) && c.ledger.state.entries.has(cid), 15_000, 'the entry to reach b and c')
      const d = await peer('d', base, { catchUpOnStart: false })
      await waitFor(() => a.transport.topicPeers(topic).includes(d.transport.self), 15_000, "d's subscription to reach a")
      await new Promise((resolve) => setTimeout(resolve, 1000 + o.settleMs))
      assert.deepEqual(a.events.reannounced, [], 'no re-announcement')
    })

    it('a restarted peer (same data dir, level store) catches up what it missed', async () => {
      const a = await peer('a', h.log, { catchUpOnStart: false })
      let b = await peer('b', h.log.slice(0, 150), { catchUpOnStart: false })
      const dir = b.dir
      await stopPeer(b)
      const missed = [...await appendRound(h), ...await appendRound(h)]
      for (const e of missed) await a.ledger.append(e)
      b = await peer('b', [], { catchUpOnStart: true }, dir)
      assert.equal(b.ledger.size, 150, 'the store kept what it had')
      await waitFor(() => b.ledger.size === a.ledger.size, 30_000, 'restarted peer to catch up')
      assert.ok(sameHeads(a.ledger.state, b.ledger.state))
      const appended = b.events.entry.length
      assert.equal(appended, h.log.length - 150)
    })

    it('a peer serving a tampered entry is reported, the entry is not stored, and sync completes from an honest peer', async () => {
      const honest = await peer('honest', h.log, { catchUpOnStart: false })
      const evil = await peer('evil', h.log, { catchUpOnStart: false })
      // The attacker answers like an honest server, but alters one contribution's commitment.
      const target = h.log.find((e) => e.entry.type === 'contribution' && e.entry.seq === 3)!
      let tamperedCid = ''
      const id = networkProtocols(h.netId).protocols['ledger-sync']
      await evil.sync.stop()
      await evil.transport.handle(id.id, async (req) => {
        decodeRequest(req, id.maxRequestBytes)
        const honestBytes = await serveSyncRequest(evil.ledger, req, id)
        let r
        try { r = decodeEntriesResponse(honestBytes, id.maxResponseBytes) } catch { return honestBytes }
        for (const e of r.entries) {
          const s = decodeEnvelope(e.env)
          if (!s.cid.equals(target.cid)) continue
          const bytes = s.bytes.slice()
          const body = (s.entry as SignedEntry<'contribution'>['entry']).body
          const c0 = body.commitments[0]!
          const at = indexOf(bytes, c0)
          bytes[at] = bytes[at]! ^ 1
          e.env = encodeEnvelope(bytes, s.sig)
          tamperedCid = decodeEnvelope(e.env).cid.toString()
        }
        return encodeEntriesResponse(r)
      }, { maxRequestBytes: id.maxRequestBytes, maxResponseBytes: id.maxResponseBytes })
      const c = await peer('client', [], { catchUpOnStart: false })
      await waitFor(() => c.transport.peers().length >= 2, 10_000, 'connections')
      const bad = await c.sync.pullFrom(evil.transport.self)
      assert.notEqual(tamperedCid, '')
      assert.equal(bad.complete, false)
      const reports = c.events.misbehaviour.filter((m) => m.peer === evil.transport.self)
      assert.ok(reports.some((m) => m.kind === 'invalid-entry' && m.cid === tamperedCid), JSON.stringify(reports))
      assert.equal(c.ledger.state.entries.has(tamperedCid), false, 'the tampered entry is never stored')
      assert.equal(c.ledger.state.entries.has(target.cid.toString()), false)
      const good = await c.sync.pullFrom(honest.transport.self)
      assert.equal(good.complete, true, good.error)
      assert.ok(sameHeads(honest.ledger.state, c.ledger.state))
      assert.equal(c.ledger.state.entries.has(tamperedCid), false)
      assert.ok(c.events.misbehaviour.every((m) => m.peer === evil.transport.self), 'the honest peer is never reported')
    })

    it('an equivocation seen during sync produces a proof, which the other peer accepts by announcement', async () => {
      const small = await buildHistory({ rounds: 2 })
      const x = small.peers[0]!
      const xHex = toHex(x.publicKey)
      const e1 = await makeEntry(small.state, x, 'watermark', { commitment: sha256(utf8('one')), modelHash: sha256(utf8('m')) })
      const e2 = await makeEntry(small.state, x, 'watermark', { commitment: sha256(utf8('two')), modelHash: sha256(utf8('m')) })
      assert.equal(e1.entry.seq, e2.entry.seq)
      // Two founders (members, so their proofs are valid entries), each holding one of the two entries.
      const a = await peer('net/founder/1', [...small.log, e1], { catchUpOnStart: false })
      const b = await peer('net/founder/2', [...small.log, e2], { catchUpOnStart: false })
      await waitFor(() => b.transport.topicPeers(networkProtocols(h.netId).topics.announce.name).includes(a.transport.self), 15_000, 'topic mesh')
      await new Promise((resolve) => setTimeout(resolve, o.settleMs))
      const r = await b.sync.pullFrom(a.transport.self)
      const eq = b.events.equivocation
      assert.equal(eq.length, 1, JSON.stringify(eq))
      assert.equal(eq[0]!.accused, xHex)
      assert.equal(eq[0]!.seq, e1.entry.seq)
      assert.equal(eq[0]!.error, undefined)
      assert.ok(eq[0]!.proof !== undefined)
      assert.ok(b.ledger.state.isExcluded(xHex), 'the equivocating author is excluded at b')
      const proof = await b.ledger.getByCid(eq[0]!.proof)
      assert.equal(proof?.entry.type, 'equivocation')
      assert.equal(r.complete, true, r.error)
      // b announces its own proof; a verifies it and excludes the author too
      await waitFor(() => a.ledger.state.isExcluded(xHex), 20_000, 'a to accept the proof')
      assert.ok(a.ledger.state.entries.has(eq[0]!.proof))
      assert.equal(a.events.misbehaviour.length + b.events.misbehaviour.length, 0)
    })

    // Last: it appends a round to the shared history, which changes who leads the rounds later tests append.
    it('pullChain fetches one author\'s new entries only; entries that wait for other authors fall back to a full pull', async () => {
      const a = await peer('a', h.log, { catchUpOnStart: false })
      const b = await peer('b', h.log, { catchUpOnStart: false })
      await waitFor(() => b.transport.peers().includes(a.transport.self), 10_000, 'connection')
      const base = b.ledger.size
      // A new round at a only (a's signer authors none of it: nothing is announced).
      const fresh = await appendRound(h)
      for (const e of fresh) await a.ledger.append(e)
      const authored = (x: string): SignedEntry[] => fresh.filter((e) => toHex(e.entry.author) === x)
      // A contributor with this round's contribution only: it depends on nothing b lacks.
      const c = fresh.find((e) => e.entry.type === 'contribution' && authored(toHex(e.entry.author)).length === 1)!
      assert.equal(await b.sync.pullChain(a.transport.self, toHex(c.entry.author)), 1)
      assert.equal(b.ledger.size, base + 1)
      assert.ok(b.ledger.state.entries.has(c.cid.toString()))
      // The checkpoint's author: its entries name the others' (plan, receipts, contributions): a full pull.
      const ck = fresh.find((e) => e.entry.type === 'checkpoint')!
      assert.ok(await b.sync.pullChain(a.transport.self, toHex(ck.entry.author)) >= fresh.length - 1)
      assert.ok(sameHeads(a.ledger.state, b.ledger.state))
      await assert.rejects(b.sync.pullChain(a.transport.self, 'not hex'), (e: Error) => e.name === 'InvalidParametersError')
      assert.equal(b.events.misbehaviour.length, 0)
    })
  })
}

function indexOf (hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer
    return i
  }
  throw new Error('needle not found')
}
