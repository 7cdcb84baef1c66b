import assert from 'node:assert/strict'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from '@noble/hashes/sha2.js'
import { CID } from 'multiformats/cid'
import { concatBytes, utf8 } from '../../src/ledger/bytes.ts'
import { defaultCharter, makeCharter, LIMITS } from '../../src/ledger/charter.ts'
import { cidOf, decodeEnvelope, encodeEntry, encodeEnvelope, signEntry, signingMessage, watermarkCommitment, ENTRY_DOMAIN, GENESIS_DOMAIN, type Entry } from '../../src/ledger/entry.ts'
import { verifySignatures } from '../../src/ledger/verify.ts'
import { makeGenesis } from '../../src/ledger/author.ts'
import { signerOf, verifier } from './fixture.ts'

const isMalformed = (err: unknown): boolean => (err as Error).name === 'LedgerVerificationError' && (err as { rule: string }).rule === 'malformed'

describe('ledger/entry', () => {
  const alice = signerOf(1)

  it('encoding is canonical: field order does not matter, equal entries give equal bytes and CIDs', () => {
    const body = { round: 3, retry: 0, commitments: [sha256(utf8('x'))] }
    const a: Entry = { v: 1, type: 'contribution', author: alice.publicKey, seq: 4, prev: null, body }
    const b = { body: { commitments: body.commitments, retry: 0, round: 3 }, prev: null, seq: 4, author: alice.publicKey, type: 'contribution', v: 1 } as Entry
    assert.deepEqual(encodeEntry(a), encodeEntry(b))
    const cid = cidOf(encodeEntry(a))
    assert.equal(cid.version, 1)
    assert.equal(cid.code, 0x71) // dag-cbor
    assert.equal(cid.multihash.code, 0x12) // sha2-256
    assert.deepEqual(cid.multihash.digest, sha256(encodeEntry(a)))
  })

  it('signs the domain-separated bytes; the genesis binds every later signature to its network', async () => {
    const g = await makeGenesis(alice, defaultCharter())
    assert.deepEqual(signingMessage(g.bytes, null).subarray(0, GENESIS_DOMAIN.length), GENESIS_DOMAIN)
    await verifySignatures(g, null, verifier)
    const e = await signEntry(alice, { type: 'join', seq: 1, prev: g.cid, body: {} }, g.cid)
    assert.deepEqual(signingMessage(e.bytes, g.cid), concatBytes(ENTRY_DOMAIN, g.cid.bytes, e.bytes))
    await verifySignatures(e, g.cid, verifier)
    const other = await makeGenesis(alice, makeCharter({ networkId: 'other' }))
    await assert.rejects(verifySignatures(e, other.cid, verifier), (err: Error & { rule?: string }) => err.name === 'LedgerVerificationError' && err.rule === 'signature')
    // The same bytes signed without the domain are not a valid entry signature.
    const raw = encodeEnvelope(e.bytes, await alice.sign(e.bytes))
    await assert.rejects(verifySignatures(decodeEnvelope(raw), g.cid, verifier), { rule: 'signature' })
    // The verified-envelope cache (useCache) remembers (genesis, CID, signature) only: the same
    // entry with another signature, or under another genesis, is verified again and refused.
    await verifySignatures(e, g.cid, verifier, { useCache: true })
    await assert.rejects(verifySignatures(decodeEnvelope(raw), g.cid, verifier, { useCache: true }), { rule: 'signature' })
    await assert.rejects(verifySignatures(e, other.cid, verifier, { useCache: true }), { rule: 'signature' })
    const flipped = new Uint8Array(e.sig)
    flipped[0]! ^= 1
    await assert.rejects(verifySignatures({ ...e, sig: flipped }, g.cid, verifier, { useCache: true }), { rule: 'signature' })
  })

  it('round-trips every entry type through the envelope', async () => {
    const g = await makeGenesis(alice, defaultCharter(), 1700000000000)
    const again = decodeEnvelope(g.envelope)
    assert.equal(again.cid.toString(), g.cid.toString())
    assert.deepEqual(again.entry.body, g.entry.body)
    assert.equal(again.entry.ts, 1700000000000)
    const h = sha256(utf8('h'))
    const bodies = {
      join: { note: 'hello' },
      admit: { peer: alice.publicKey },
      contribution: { round: 1, retry: 2, commitments: [h, h] },
      receipt: { round: 1, retry: 0, acks: [g.cid] },
      plan: { round: 1, retry: 0, groups: [[alice.publicKey]] },
      checkpoint: { round: 1, retry: 0, prev: g.cid, modelHash: h, groups: [], groupSumsHash: h, blame: [], refused: [], farGroups: [0], heads: [{ author: alice.publicKey, seq: 0, cid: g.cid }], cosigs: [{ signer: alice.publicKey, sig: new Uint8Array(64) }] },
      watermark: { commitment: h, modelHash: h },
      dispute: { registration: g.cid, opening: { scheme: 'trigger-set', key: h, message: utf8('m'), salt: h }, suspectModelHash: h },
      equivocation: { a: { entry: g.bytes, sig: g.sig }, b: { entry: g.bytes, sig: g.sig } }
    } as const
    for (const [type, body] of Object.entries(bodies)) {
      const e = await signEntry(alice, { type: type as 'join', seq: 1, prev: g.cid, body: body as never }, g.cid)
      const d = decodeEnvelope(e.envelope)
      assert.equal(d.entry.type, type)
      assert.deepEqual(d.bytes, e.bytes)
    }
  })

  it('rejects malformed entries with a typed error naming the field', async () => {
    const g = await makeGenesis(alice, defaultCharter())
    const bad: Array<[string, unknown]> = [
      ['wrong version', { v: 2, type: 'join', author: alice.publicKey, seq: 0, prev: null, body: {} }],
      ['unknown type', { v: 1, type: 'bogus', author: alice.publicKey, seq: 0, prev: null, body: {} }],
      ['short author', { v: 1, type: 'join', author: new Uint8Array(31), seq: 0, prev: null, body: {} }],
      ['negative seq', { v: 1, type: 'join', author: alice.publicKey, seq: -1, prev: null, body: {} }],
      ['float seq', { v: 1, type: 'join', author: alice.publicKey, seq: 1.5, prev: null, body: {} }],
      ['prev not a CID', { v: 1, type: 'join', author: alice.publicKey, seq: 0, prev: 'x', body: {} }],
      ['extra field', { v: 1, type: 'join', author: alice.publicKey, seq: 0, prev: null, body: {}, extra: 1 }],
      ['round 0', { v: 1, type: 'contribution', author: alice.publicKey, seq: 0, prev: null, body: { round: 0, retry: 0, commitments: [new Uint8Array(32)] } }],
      ['31-byte commitment', { v: 1, type: 'contribution', author: alice.publicKey, seq: 0, prev: null, body: { round: 1, retry: 0, commitments: [new Uint8Array(31)] } }],
      ['no commitments', { v: 1, type: 'contribution', author: alice.publicKey, seq: 0, prev: null, body: { round: 1, retry: 0, commitments: [] } }],
      ['checkpoint missing cosigs', { v: 1, type: 'checkpoint', author: alice.publicKey, seq: 0, prev: null, body: { round: 1, retry: 0, prev: g.cid, modelHash: new Uint8Array(32), groups: [], groupSumsHash: new Uint8Array(32), blame: [], refused: [], farGroups: [], heads: [] } }],
      ['charter with t > m', { v: 1, type: 'genesis', author: alice.publicKey, seq: 0, prev: null, body: { ...defaultCharter(), committee: { m: 2, t: 3, g: 2 } } }],
      ['equivocation half without sig', { v: 1, type: 'equivocation', author: alice.publicKey, seq: 0, prev: null, body: { a: { entry: g.bytes }, b: { entry: g.bytes, sig: g.sig } } }]
    ]
    for (const [what, entry] of bad) {
      const bytes = dagCbor.encode(entry)
      assert.throws(() => decodeEnvelope(encodeEnvelope(bytes, new Uint8Array(64))), isMalformed, what)
    }
  })

  it('rejects non-canonical CBOR (a non-minimal integer) and oversized envelopes', async () => {
    const g = await makeGenesis(alice, defaultCharter())
    // seq: 0 is 0x63 's' 'e' 'q' 0x00; re-encode it as the two-byte form 0x18 0x00.
    const i = findSubarray(g.bytes, concatBytes(utf8('cseq'), new Uint8Array([0])))
    assert.ok(i >= 0)
    const nonMinimal = concatBytes(g.bytes.subarray(0, i + 4), new Uint8Array([0x18, 0x00]), g.bytes.subarray(i + 5))
    assert.throws(() => decodeEnvelope(encodeEnvelope(nonMinimal, g.sig)), isMalformed)
    assert.throws(() => decodeEnvelope(new Uint8Array(LIMITS.maxEnvelopeBytes + 1)), isMalformed)
    assert.throws(() => decodeEnvelope('x' as unknown as Uint8Array), isMalformed)
  })

  it('envelopes of every length class decode; a non-canonical envelope layout is malformed', async () => {
    const g = await makeGenesis(alice, defaultCharter())
    for (const n of [0, 20, 100, 200, 65_000, 65_600]) {
      const opening = { scheme: 'trigger-set', key: new Uint8Array(Math.min(n, 65_000)), message: new Uint8Array(n - Math.min(n, 65_000) + 1), salt: utf8('s') }
      const e = await signEntry(alice, { type: 'dispute', seq: 1, prev: g.cid, body: { registration: g.cid, opening, suspectModelHash: sha256(utf8('x')) } }, g.cid)
      assert.deepEqual(decodeEnvelope(e.envelope).bytes, e.bytes)
    }
    // The same fields with the keys in non-canonical order ("entry" before "sig").
    const n = g.bytes.length
    const hdr = n < 256 ? [0x58, n] : [0x59, n >> 8, n & 0xff]
    const swapped = concatBytes(new Uint8Array([0xa2, 0x65, ...utf8('entry'), ...hdr]), g.bytes, new Uint8Array([0x63, ...utf8('sig'), 0x58, 0x40]), g.sig)
    assert.throws(() => decodeEnvelope(swapped), isMalformed)
    // A non-minimal length header for the entry bytes.
    const long = concatBytes(new Uint8Array([0xa2, 0x63, ...utf8('sig'), 0x58, 0x40]), g.sig, new Uint8Array([0x65, ...utf8('entry'), 0x5a, 0, 0, n >> 8, n & 0xff]), g.bytes)
    assert.throws(() => decodeEnvelope(long), isMalformed)
  })

  it('fuzz: random bytes and corrupted envelopes give a typed error or a different valid entry, never a crash', async () => {
    const g = await makeGenesis(alice, defaultCharter())
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      try { decodeEnvelope(b) } catch (err) { assert.ok(isMalformed(err), String(err)) }
    }), { numRuns: 300 })
    fc.assert(fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (pos, x) => {
      const b = g.envelope.slice()
      b[pos % b.length]! ^= x
      try {
        const d = decodeEnvelope(b)
        assert.ok(!d.cid.equals(g.cid) || !Buffer.from(d.sig).equals(Buffer.from(g.sig)))
      } catch (err) { assert.ok(isMalformed(err), String(err)) }
    }), { numRuns: 300 })
  })

  it('charter: defaults, merge, validate (typed errors)', () => {
    const c = makeCharter({ committee: { m: 7 }, dp: { noiseMultiplier: 1.3 } })
    assert.equal(c.committee.m, 7)
    assert.equal(c.committee.t, 3)
    assert.equal(c.dp.noiseMultiplier, 1.3)
    const bad = [
      { committee: { m: 2, t: 3 } },
      { dp: { clipNorm: Number.NaN } },
      { dp: { delta: 2 } },
      { admission: { mode: 'consortium' as const, founders: [], k: 1 } },
      { admission: { mode: 'consortium' as const, founders: [alice.publicKey], k: 2 } },
      { admission: { mode: 'open' as const, founders: [alice.publicKey, alice.publicKey] } },
      { reputation: { nonsense: 1 } },
      { reputation: { decay: 2 } },
      { networkId: '' },
      { deadlines: { share: 0 } }
    ]
    for (const b of bad) assert.throws(() => makeCharter(b as Parameters<typeof makeCharter>[0]), { name: 'InvalidParametersError' }, JSON.stringify(b))
  })

  it('watermark commitment is SHA-256 of the canonical opening', () => {
    const opening = { scheme: 'trigger-set', key: utf8('k'), message: utf8('m'), salt: utf8('s') }
    assert.deepEqual(watermarkCommitment(opening), sha256(dagCbor.encode({ salt: opening.salt, key: opening.key, scheme: opening.scheme, message: opening.message })))
    assert.notDeepEqual(watermarkCommitment(opening), watermarkCommitment({ ...opening, salt: utf8('t') }))
    assert.ok(CID.asCID(cidOf(utf8('x'))) !== null)
  })
})

function findSubarray(h: Uint8Array, n: Uint8Array): number {
  outer: for (let i = 0; i + n.length <= h.length; i++) {
    for (let j = 0; j < n.length; j++) if (h[i + j] !== n[j]) continue outer
    return i
  }
  return -1
}
