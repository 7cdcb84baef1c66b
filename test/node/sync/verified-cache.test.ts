/**
 * The caching verifier (src/node/sync/verified-cache.ts): a repeated verification
 * of identical bytes is answered from the cache; anything else (a forged
 * envelope under a cached CID, a cached signature over other bytes, another key)
 * is verified and fails; failures are never cached; the cache is bounded.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { Ledger, decodeEnvelope, encodeEnvelope, verifySignatures, type SignedEntry, type Verifier } from '../../../src/ledger/index.ts'
import { nodeVerifier } from '../../../src/ledger/signature-node.ts'
import { cachingVerifier } from '../../../src/node/sync/verified-cache.ts'
import { buildHistory, signerOf } from './fixture.ts'

/** nodeVerifier with a call counter. */
function counting (): Verifier & { calls: number } {
  const inner = nodeVerifier({ threadPool: false })
  const v = { name: 'counting', calls: 0, verify: (pk: Uint8Array, m: Uint8Array, s: Uint8Array) => { v.calls++; return inner.verify(pk, m, s) } }
  return v
}

const flip = (b: Uint8Array, i: number): Uint8Array => { const c = b.slice(); c[i % c.length]! ^= 1; return c }

describe('node/sync/verified-cache: cachingVerifier', function () {
  this.timeout(30_000)
  const signer = signerOf('verified-cache/a')
  const other = signerOf('verified-cache/b')
  const msg = new TextEncoder().encode('tessera verified-cache test message')
  const sig = signer.sign(msg) as Uint8Array

  it('answers a repeated verification of identical bytes from the cache', () => {
    const inner = counting()
    const v = cachingVerifier(inner)
    assert.equal(v.verify(signer.publicKey, msg, sig), true)
    assert.equal(v.verify(signer.publicKey, msg.slice(), sig.slice()), true)
    assert.equal(inner.calls, 1)
    assert.deepEqual({ hits: v.stats.hits, misses: v.stats.misses }, { hits: 1, misses: 1 })
  })

  it('a cached signature does not validate other bytes, another key, or a flipped signature', () => {
    const inner = counting()
    const v = cachingVerifier(inner)
    assert.equal(v.verify(signer.publicKey, msg, sig), true)
    assert.equal(v.verify(signer.publicKey, flip(msg, 3), sig), false)
    assert.equal(v.verify(other.publicKey, msg, sig), false)
    assert.equal(v.verify(signer.publicKey, msg, flip(sig, 10)), false)
    assert.equal(v.verify(signer.publicKey, msg.subarray(1), sig), false)
    assert.equal(inner.calls, 5, 'every non-identical input reached the inner verifier')
  })

  it('never caches a failure: the same bad input is verified again each time', () => {
    const inner = counting()
    const v = cachingVerifier(inner)
    const bad = flip(sig, 0)
    for (let i = 0; i < 3; i++) assert.equal(v.verify(signer.publicKey, msg, bad), false)
    assert.equal(inner.calls, 3)
    assert.equal(v.stats.size, 0)
  })

  it('agrees with the inner verifier on mutated inputs (property)', () => {
    const inner = nodeVerifier({ threadPool: false })
    const v = cachingVerifier(inner)
    v.verify(signer.publicKey, msg, sig)
    fc.assert(fc.property(fc.nat(95), fc.nat(7), fc.boolean(), (pos, bit, twice) => {
      // Flip one bit of the message or the signature of the cached triple.
      const m = msg.slice(); const s = sig.slice()
      if (pos < m.length) m[pos]! ^= 1 << bit
      else s[(pos - m.length) % 64]! ^= 1 << bit
      const want = inner.verify(signer.publicKey, m, s)
      if (twice) v.verify(signer.publicKey, m, s)
      assert.equal(v.verify(signer.publicKey, m, s), want)
    }), { numRuns: 60, seed: 4 })
  })

  it('is bounded: the oldest triple is evicted; long messages are verified but not kept', () => {
    const inner = counting()
    const v = cachingVerifier(inner, { maxEntries: 2, maxMessageBytes: 64 })
    const ms = [1, 2, 3].map(i => new TextEncoder().encode(`message ${i}`))
    const ss = ms.map(m => signer.sign(m) as Uint8Array)
    ms.forEach((m, i) => { assert.equal(v.verify(signer.publicKey, m, ss[i]!), true) })
    assert.equal(v.stats.size, 2)
    assert.equal(v.verify(signer.publicKey, ms[0]!, ss[0]!), true)
    assert.equal(inner.calls, 4, 'the first triple was evicted and verified again')
    const long = new Uint8Array(65).fill(7)
    const ls = signer.sign(long) as Uint8Array
    v.verify(signer.publicKey, long, ls); v.verify(signer.publicKey, long, ls)
    assert.equal(inner.calls, 6)
  })

  it('hostile inputs: wrong types and lengths are invalid, never a throw; bad options are a typed error', () => {
    const v = cachingVerifier(nodeVerifier({ threadPool: false }))
    const junk: unknown[] = [undefined, null, 'sig', 42, new Uint8Array(0), new Uint8Array(63), new Uint8Array(65), [1, 2]]
    for (const j of junk) {
      assert.equal(v.verify(j as Uint8Array, msg, sig), false)
      assert.equal(v.verify(signer.publicKey, j as Uint8Array, sig), false)
      assert.equal(v.verify(signer.publicKey, msg, j as Uint8Array), false)
    }
    for (const bad of [{ maxEntries: 0 }, { maxEntries: 1.5 }, { maxEntries: NaN }, { maxMessageBytes: -1 }, { maxMessageBytes: 2 ** 40 }]) {
      assert.throws(() => cachingVerifier(nodeVerifier(), bad as never), (e: Error) => e.name === 'InvalidParametersError')
    }
    assert.throws(() => cachingVerifier(null as never), (e: Error) => e.name === 'InvalidParametersError')
  })

  describe('as the Ledger verifier, after the sync validator verified an entry', () => {
    let dir: string
    let ledger: Ledger
    let log: SignedEntry[]
    let v: ReturnType<typeof cachingVerifier>
    before(async () => {
      const h = await buildHistory({ rounds: 1, label: 'verified-cache' })
      log = h.log
      dir = await mkdtemp(join(tmpdir(), 'tessera-vcache-'))
      v = cachingVerifier(nodeVerifier())
      ledger = await Ledger.open({ location: dir, verifier: v })
      await ledger.appendMany(log.slice(0, -3))
    })
    after(async () => { await ledger.close(); await rm(dir, { recursive: true, force: true }) })

    it('a forged envelope under a cached CID still fails; the genuine one appends from the cache', async () => {
      const e = log.at(-3)!
      const genesis = ledger.state.genesisCid!
      // What ledger-sync's validator does with an announced envelope.
      await verifySignatures(e, genesis, v)
      const misses = v.stats.misses
      // Same entry bytes (same CID), another signature: the forgery of an entry whose CID is cached.
      const forged = decodeEnvelope(encodeEnvelope(e.bytes, flip(e.sig, 17)))
      assert.ok(forged.cid.equals(e.cid), 'the forgery has the cached CID')
      await assert.rejects(ledger.append(forged), (err: Error & { rule?: string }) => err.name === 'LedgerVerificationError' && err.rule === 'signature')
      // The cached signature over other entry bytes.
      const next = log.at(-2)!
      const swapped = decodeEnvelope(encodeEnvelope(next.bytes, e.sig))
      await assert.rejects(verifySignatures(swapped, genesis, v), (err: Error & { rule?: string }) => err.name === 'LedgerVerificationError' && err.rule === 'signature')
      assert.equal(ledger.state.entries.has(e.cid.toString()), false)
      const hits = v.stats.hits
      await ledger.append(e)
      assert.equal(ledger.state.entries.has(e.cid.toString()), true)
      assert.equal(v.stats.hits, hits + 1, 'the append found the validator\'s verification in the cache')
      assert.equal(v.stats.misses, misses + 2, 'only the two forgeries were verified since')
    })
  })
})
