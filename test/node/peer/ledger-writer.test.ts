/**
 * The peer's ledger writer (src/node/peer/ledger-writer.ts): its bounded waits wake on the
 * entry they wait for (the `onEntry` subscription, or one of its own appends) instead of
 * polling, and every own append is handed to the `appended` hook (ledger sync's
 * `announceEntry`: the entry leaves at once instead of at the sync's next scan). Real
 * ledgers (LevelDB in a temp dir) holding E's round-1 fixture.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeNet, runRound } from '../../ledger/fixture.ts'
import { Ledger, toHex, type SignedEntry } from '../../../src/ledger/index.ts'
import { nodeVerifier } from '../../../src/ledger/signature-node.ts'
import { LedgerWriter } from '../../../src/node/peer/ledger-writer.ts'

describe('peer/LedgerWriter: waits wake on entries, own appends reach the announce hook', function () {
  this.timeout(60_000)
  let root: string
  beforeEach(async () => { root = await mkdtemp(join(tmpdir(), 'tessera-writer-')) })
  afterEach(async () => { await rm(root, { recursive: true, force: true }) })

  it('waitForContributions resolves when the missing contribution arrives (onEntry), long before its bound; nextEntry wakes on own appends; appended sees each own entry', async () => {
    const net = await makeNet({ founders: 5, peers: 4, m: 5, t: 2, g: 2 })
    await runRound(net, { dryCheckpoint: true })
    // Hold back the last contribution of round 1 and everything after it.
    const cut = net.log.findLastIndex((e) => e.entry.type === 'contribution')
    assert.ok(cut > 0)
    const held = net.log[cut]!
    const ledger = await Ledger.open({ location: join(root, 'l'), verifier: nodeVerifier() })
    await ledger.appendMany(net.log.slice(0, cut))
    const listeners = new Set<() => void>()
    let subscriptions = 0
    const appended: SignedEntry[] = []
    const writer = new LedgerWriter({
      ledger,
      signer: net.founders[0]!,
      pullFrom: async () => undefined,
      appended: (e) => { appended.push(e) },
      onEntry: (l) => { subscriptions++; listeners.add(l); return () => { listeners.delete(l) } }
    }, { referenceWaitMs: 20_000 })
    const author = toHex(held.entry.author)
    const t0 = Date.now()
    const waiting = writer.waitForContributions(1, 0, [author])
    await new Promise((resolve) => setTimeout(resolve, 120))
    await ledger.append(held)
    for (const l of [...listeners]) l()
    assert.equal(await waiting, true)
    assert.ok(Date.now() - t0 < 10_000, 'resolved by the entry, not by the 20 s bound')
    assert.ok(subscriptions >= 1)
    assert.equal(listeners.size, 0, 'every subscription removed')
    // nextEntry: woken by an own append (no onEntry event), well before its bound. The own entry: a
    // receipt of round 1 held back above, rewritten by its author through a writer.
    const rec = net.log.slice(cut + 1).find((e) => e.entry.type === 'receipt')!
    const signer = net.byHex.get(toHex(rec.entry.author))!
    const w2 = new LedgerWriter({ ledger, signer, pullFrom: async () => undefined, appended: (e) => { appended.push(e) } }, { referenceWaitMs: 1000 })
    const t1 = Date.now()
    const next = w2.nextEntry(30_000)
    const own = await w2.write('receipt', (rec as SignedEntry<'receipt'>).entry.body)
    await next
    assert.ok(Date.now() - t1 < 20_000, 'woken by the append, not the 30 s bound')
    assert.deepEqual(appended.map((e) => e.cid.toString()), [own.cid.toString()])
    assert.ok(ledger.state.entries.has(own.cid.toString()))
    await ledger.close()
  })
})
