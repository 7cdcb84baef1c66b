import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { toHex } from '../../src/ledger/bytes.ts'
import { makeEntry } from '../../src/ledger/author.ts'
import { encodeEnvelope, type SignedEntry } from '../../src/ledger/entry.ts'
import { Ledger } from '../../src/ledger/ledger.ts'
import { keys } from '../../src/ledger/store.ts'
import { makeNet, runRound, signerOf, verifier, type Net } from './fixture.ts'
import { sha256 } from '@noble/hashes/sha2.js'

async function storedNet(dir: string, rounds = 2): Promise<{ net: Net, ledger: Ledger }> {
  const net = await makeNet({ peers: 4 })
  for (let i = 0; i < rounds; i++) await runRound(net)
  const ledger = await Ledger.open({ location: dir, verifier })
  await ledger.appendMany(net.log.slice(0, 5))
  for (const e of net.log.slice(5)) await ledger.append(e.envelope)
  return { net, ledger }
}

async function tamper(dir: string, f: (db: Level<string, Uint8Array>) => Promise<void>): Promise<void> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
  await db.open()
  await f(db)
  await db.close()
}

describe('ledger/store (LevelDB)', function () {
  this.timeout(30_000)
  let dir = ''
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'tessera-ledger-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('persists verified entries and re-verifies them on open into the same state', async () => {
    const { net, ledger } = await storedNet(dir)
    assert.equal(ledger.size, net.log.length)
    await ledger.close()
    const again = await Ledger.open({ location: dir, verifier })
    assert.equal(again.size, net.log.length)
    assert.equal(again.state.lastRound, 2)
    assert.deepEqual(again.state.heads().map((h) => h.cid.toString()), net.state.heads().map((h) => h.cid.toString()))
    assert.deepEqual(again.state.committee(3, 0), net.state.committee(3, 0))
    const e = await again.getByCid(net.log[3]!.cid.toString())
    assert.equal(e?.cid.toString(), net.log[3]!.cid.toString())
    // Indexes: by type, author, round.
    const store = again.store
    assert.equal((await store.positions({ type: 'checkpoint' })).length, 2)
    assert.equal((await store.positions({ type: 'join' })).length, 4)
    const peer = toHex(net.peers[0]!.publicKey)
    assert.deepEqual(await store.positions({ author: peer }), net.log.map((x, i) => [x, i] as const).filter(([x]) => toHex(x.entry.author) === peer).map(([, i]) => i))
    const r2 = await store.positions({ round: 2 })
    assert.ok(r2.length > 0 && r2.every((p) => (net.log[p]!.entry.body as { round: number }).round === 2))
    assert.deepEqual(await store.positions({ round: 2, type: 'plan' }), r2.filter((p) => net.log[p]!.entry.type === 'plan'))
    await again.close()
  })

  it('onVerified: listeners get each append\'s checked entries in ledger order (batches and single entries) before the write, never a refused entry; unsubscribe stops them', async () => {
    const net = await makeNet({ peers: 4 })
    await runRound(net)
    const ledger = await Ledger.open({ location: dir, verifier })
    const seen: string[][] = []
    const sizes: number[] = []
    const off = ledger.onVerified((es) => { seen.push(es.map((e) => e.cid.toString())); sizes.push(ledger.size) })
    ledger.onVerified(() => { throw new Error('a throwing listener does not break the append') })
    await ledger.appendMany(net.log.slice(0, 5))
    await ledger.append(net.log[5]!.envelope)
    // A duplicate (already stored) is refused: no call.
    await assert.rejects(ledger.append(net.log[5]!.envelope), (e: Error) => e.name === 'LedgerVerificationError')
    assert.deepEqual(seen, [net.log.slice(0, 5).map((e) => e.cid.toString()), [net.log[5]!.cid.toString()]])
    assert.deepEqual(sizes, [0, 5], 'called before the write (a single entry is committed after it)')
    assert.equal(ledger.size, 6)
    // A batch with a bad entry: the valid prefix is reported, then the error.
    const bad = new Uint8Array(net.log[7]!.envelope)
    bad[bad.length - 1] ^= 1
    await assert.rejects(ledger.appendMany([net.log[6]!.envelope, bad]))
    assert.deepEqual(seen[2], [net.log[6]!.cid.toString()])
    off()
    await ledger.append(net.log[7]!.envelope)
    assert.equal(seen.length, 3)
    await ledger.close()
  })

  it('recent envelopes are served from memory with the stored bytes: an appended view into a reused buffer cannot change them', async () => {
    const net = await makeNet({ peers: 4 })
    await runRound(net)
    const ledger = await Ledger.open({ location: dir, verifier })
    // Each envelope arrives as a view into a larger buffer (as from the network), then the buffer is overwritten.
    for (const e of net.log) {
      const buf = new Uint8Array(e.envelope.length + 16)
      buf.set(e.envelope, 8)
      await ledger.append(buf.subarray(8, 8 + e.envelope.length))
      buf.fill(0xaa)
    }
    for (let pos = 0; pos < net.log.length; pos++) assert.deepEqual(await ledger.store.getByPosition(pos), new Uint8Array(net.log[pos]!.envelope), `position ${pos}`)
    assert.equal(await ledger.store.getByPosition(net.log.length), undefined)
    await ledger.close()
    // From disk after a reopen: the same bytes.
    const again = await Ledger.open({ location: dir, verifier })
    for (let pos = 0; pos < net.log.length; pos++) assert.deepEqual(await again.store.getByPosition(pos), new Uint8Array(net.log[pos]!.envelope))
    await again.close()
  })

  it('a rejected entry is never stored; a batch stores its valid prefix only', async () => {
    const { net, ledger } = await storedNet(dir, 1)
    const size = ledger.size
    const forged = net.log[3]!.envelope.slice()
    forged[forged.length - 1]! ^= 1
    await assert.rejects(ledger.append(forged), { name: 'LedgerVerificationError' })
    const good = await makeEntry(ledger.state, net.peers[0]!, 'watermark', { commitment: sha256(new Uint8Array(1)), modelHash: sha256(new Uint8Array(2)) })
    const bad = await makeEntry(ledger.state, net.peers[1]!, 'watermark', { commitment: sha256(new Uint8Array(1)), modelHash: sha256(new Uint8Array(2)) })
    const badSig = encodeEnvelope(bad.bytes, new Uint8Array(64).fill(7))
    await assert.rejects(ledger.appendMany([good, badSig]), { name: 'LedgerVerificationError', rule: 'signature' })
    assert.equal(ledger.size, size + 1)
    await ledger.close()
    const again = await Ledger.open({ location: dir, verifier })
    assert.equal(again.size, size + 1)
    assert.ok(await again.getByCid(good.cid.toString()))
    assert.equal(await again.getByCid(bad.cid.toString()), undefined)
    await again.close()
  })

  it('equivocation at append carries the stored conflicting envelope, ready for a proof', async () => {
    const { net, ledger } = await storedNet(dir, 1)
    const p = net.peers[0]!
    const a = await makeEntry(ledger.state, p, 'watermark', { commitment: sha256(new Uint8Array([1])), modelHash: sha256(new Uint8Array([1])) })
    const b = await makeEntry(ledger.state, p, 'watermark', { commitment: sha256(new Uint8Array([2])), modelHash: sha256(new Uint8Array([1])) })
    await ledger.append(a)
    await assert.rejects(ledger.append(b), (err: Error & { rule?: string, conflict?: Uint8Array }) => {
      assert.equal(err.rule, 'equivocation')
      assert.deepEqual(err.conflict, a.envelope)
      return true
    })
    await ledger.close()
  })

  it('a tampered value is reported with the bad range, never used silently', async () => {
    const { net, ledger } = await storedNet(dir)
    const n = net.log.length
    await ledger.close()
    const victim = 9
    await tamper(dir, async (db) => {
      const v = (await db.get(keys.log(victim)))!.slice()
      v[v.length - 3]! ^= 0x40 // inside the signature
      await db.put(keys.log(victim), v)
    })
    await assert.rejects(Ledger.open({ location: dir, verifier }), (err: Error & { report?: { good: number, expected: number, firstProblem: { position: number, rule: string }, lost: { from: number, to: number } } }) => {
      assert.equal(err.name, 'LedgerCorruptionError')
      assert.equal(err.report!.expected, n)
      assert.equal(err.report!.good, victim)
      assert.equal(err.report!.firstProblem.position, victim)
      assert.equal(err.report!.firstProblem.rule, 'signature')
      assert.deepEqual(err.report!.lost, { from: victim, to: n })
      return true
    })
    // Report mode: opens read-only with the verified prefix.
    const ro = await Ledger.open({ location: dir, verifier, onCorruption: 'report' })
    assert.equal(ro.state.size, victim)
    assert.equal(ro.store.report?.firstProblem?.position, victim)
    await assert.rejects(ro.append(net.log[victim]!), { name: 'LedgerStoreError' })
    await ro.close()
  })

  it('a value swapped for another valid entry breaks the chain rules, and is reported', async () => {
    const { net, ledger } = await storedNet(dir)
    await ledger.close()
    await tamper(dir, async (db) => { await db.put(keys.log(12), net.log[13]!.envelope) })
    await assert.rejects(Ledger.open({ location: dir, verifier }), (err: Error & { report?: { firstProblem: { position: number, rule: string } } }) => {
      assert.equal(err.name, 'LedgerCorruptionError')
      assert.equal(err.report!.firstProblem.position, 12)
      return true
    })
  })

  it('a missing entry in the middle or at the end is reported with what was lost', async () => {
    const { net, ledger } = await storedNet(dir)
    const n = net.log.length
    await ledger.close()
    await tamper(dir, async (db) => { await db.del(keys.log(n - 1)) })
    await assert.rejects(Ledger.open({ location: dir, verifier }), (err: Error & { report?: { good: number, firstProblem: { rule: string }, lost: { from: number, to: number } } }) => {
      assert.equal(err.report!.firstProblem.rule, 'missing')
      assert.equal(err.report!.good, n - 1)
      assert.deepEqual(err.report!.lost, { from: n - 1, to: n })
      return true
    })
    await tamper(dir, async (db) => { await db.del(keys.log(7)) })
    await assert.rejects(Ledger.open({ location: dir, verifier }), (err: Error & { report?: { good: number, firstProblem: { rule: string, position: number } } }) => {
      assert.equal(err.report!.firstProblem.rule, 'missing')
      assert.equal(err.report!.firstProblem.position, 7)
      assert.equal(err.report!.good, 7)
      return true
    })
  })

  it('a log whose first entry is not a genesis is reported', async () => {
    const { net, ledger } = await storedNet(dir, 0)
    await ledger.close()
    await tamper(dir, async (db) => { await db.put(keys.log(0), net.log[1]!.envelope) })
    await assert.rejects(Ledger.open({ location: dir, verifier }), (err: Error & { report?: { firstProblem: { rule: string, position: number } } }) => {
      assert.equal(err.report!.firstProblem.position, 0)
      assert.equal(err.report!.firstProblem.rule, 'genesis')
      return true
    })
  })

  it('hostile input to append and open gives typed errors, and nothing is stored', async () => {
    const { net, ledger } = await storedNet(dir, 0)
    const size = ledger.size
    const hostile: unknown[] = [new Uint8Array(0), new Uint8Array(2 << 20), new Uint8Array([0xa2, 0x61]), 'text', null, net.log[0]!.envelope.subarray(0, 40)]
    for (const h of hostile) {
      await assert.rejects(ledger.append(h as Uint8Array), (err: Error & { rule?: string }) => err.name === 'LedgerVerificationError' && err.rule === 'malformed')
    }
    await assert.rejects(ledger.append(net.log[0]!.envelope), { name: 'LedgerVerificationError', rule: 'genesis' })
    assert.equal(ledger.size, size)
    const late = await makeEntry(ledger.state, signerOf(77), 'join', {})
    await ledger.close()
    await assert.rejects(ledger.append(late), { name: 'LedgerStoreError' })
    await assert.rejects(Ledger.open({ location: '', verifier }), { name: 'LedgerStoreError' })
  })

  it('serializes concurrent appends', async () => {
    const { net, ledger } = await storedNet(dir, 0)
    const entries: SignedEntry[] = []
    for (const p of net.peers) entries.push(await makeEntry(ledger.state, p, 'watermark', { commitment: sha256(p.publicKey), modelHash: sha256(p.publicKey) }))
    await Promise.all(entries.map((e) => ledger.append(e)))
    assert.equal(ledger.size, net.log.length + entries.length)
    await ledger.close()
  })
})
