import assert from 'node:assert/strict'
import fc from 'fast-check'
import * as ed from '@noble/ed25519'
import { sha512 } from '@noble/hashes/sha2.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { fromHex, toHex, utf8 } from '../../src/ledger/bytes.ts'
import { signaturePolicy, signerFromLibp2pKey, verifySignature, isSmallOrderEncoding, type Signer, type Verifier } from '../../src/ledger/signature.ts'
import { nobleSigner, nobleVerifier } from '../../src/ledger/signature-noble.ts'
import { nodeSigner, nodeVerifier } from '../../src/ledger/signature-node.ts'
import { webCryptoSigner, webCryptoVerifier } from '../../src/ledger/signature-webcrypto.ts'
import { RFC8032_VECTORS } from './rfc8032-vectors.ts'

ed.hashes.sha512 = sha512
const L = 2n ** 252n + 27742317777372353535851937790883648493n
const hex = (h: string): Uint8Array => fromHex(h)!
const le = (x: bigint): Uint8Array => { const o = new Uint8Array(32); for (let i = 0; i < 32; i++) { o[i] = Number(x & 0xffn); x >>= 8n } return o }
const leNum = (b: Uint8Array): bigint => { let x = 0n; for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]!); return x }

const verifiers: Verifier[] = [nodeVerifier(), webCryptoVerifier(), nobleVerifier()]
const signers: Array<{ name: string, make: (seed: Uint8Array, pub: Uint8Array) => Promise<Signer> }> = [
  { name: 'node-crypto', make: async (s) => nodeSigner(s) },
  { name: 'webcrypto', make: async (s, p) => await webCryptoSigner(s, p) },
  { name: 'noble', make: async (s) => nobleSigner(s) }
]

async function verdicts(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): Promise<boolean[]> {
  return await Promise.all(verifiers.map((v) => verifySignature(v, pub, msg, sig)))
}

describe('ledger/signature', () => {
  describe('RFC 8032 §7.1 test vectors (TEST 1, 2, 3, 1024, SHA(abc))', () => {
    it('the vectors are the RFC ones (TEST 1024 has a 1023-byte message; SHA(abc) signs SHA-512("abc"))', () => {
      assert.equal(hex(RFC8032_VECTORS[3]!.message).length, 1023)
      assert.equal(RFC8032_VECTORS[4]!.message, toHex(sha512(utf8('abc'))))
    })
    for (const vec of RFC8032_VECTORS) {
      for (const s of signers) {
        it(`${vec.name}: ${s.name} derives the public key and signs to the RFC signature`, async () => {
          const signer = await s.make(hex(vec.secret), hex(vec.public))
          assert.equal(toHex(signer.publicKey), vec.public)
          assert.equal(toHex(await signer.sign(hex(vec.message))), vec.signature)
        })
      }
      for (const v of verifiers) {
        it(`${vec.name}: ${v.name} accepts the RFC signature and rejects a changed message or signature`, async () => {
          const pub = hex(vec.public)
          const msg = hex(vec.message)
          const sig = hex(vec.signature)
          assert.equal(await v.verify(pub, msg, sig), true)
          const msg2 = new Uint8Array([...msg, 0])
          assert.equal(await v.verify(pub, msg2, sig), false)
          const sig2 = sig.slice(); sig2[5]! ^= 1
          assert.equal(await v.verify(pub, msg, sig2), false)
        })
      }
    }
  })

  describe('one verdict across implementations (the signature policy)', () => {
    const seed = hex(RFC8032_VECTORS[0]!.secret)
    const pub = hex(RFC8032_VECTORS[0]!.public)
    const msg = utf8('tessera')
    const sig = nodeSigner(seed).sign(msg) as Uint8Array

    it('rejects a non-canonical S (S + L) that differs from a valid S only modulo L', async () => {
      const s = leNum(sig.subarray(32))
      const bad = new Uint8Array(64); bad.set(sig.subarray(0, 32)); bad.set(le(s + L), 32)
      assert.deepEqual(await verdicts(pub, msg, bad), [false, false, false])
      assert.equal(signaturePolicy(pub, bad), false)
    })

    it('rejects small-order public keys and R (identity, order 2, 4, 8), even where the equation holds', async () => {
      // A = R = identity, S = 0: [0]B = I + [k]I holds for every message, so without
      // the policy any message "verifies" under this key.
      const identity = hex('0100000000000000000000000000000000000000000000000000000000000000')
      const forged = new Uint8Array(64); forged.set(identity, 0)
      assert.deepEqual(await verdicts(identity, msg, forged), [false, false, false])
      // Every listed encoding decodes to a point of small order (checked with noble).
      for (const h of ['0100000000000000000000000000000000000000000000000000000000000000', 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
        '0000000000000000000000000000000000000000000000000000000000000000', '0000000000000000000000000000000000000000000000000000000000000080',
        'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
        '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85']) {
        assert.equal(ed.Point.fromBytes(hex(h), true).isSmallOrder(), true, h)
        assert.equal(isSmallOrderEncoding(hex(h)), true, h)
      }
    })

    it('rejects non-canonical encodings of A and R (y >= p)', async () => {
      const yIsP = hex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')
      assert.deepEqual(await verdicts(yIsP, msg, sig), [false, false, false])
      const badR = sig.slice(); badR.set(yIsP, 0)
      assert.deepEqual(await verdicts(pub, msg, badR), [false, false, false])
    })

    it('a mixed-order key: cofactored noble accepts, OpenSSL rejects, and all Tessera verifiers reject', async () => {
      // A' = aB + T (T of order 8); S = r + k a with k = H(R || A' || M). Then
      // [S]B = R + [k]A' - [k]T: the cofactorless equation fails unless 8 | k,
      // the cofactored one ([8]...) always holds. A ledger must not depend on which.
      const a = 123456789n
      const T = ed.Point.fromBytes(hex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'))
      const A2 = ed.Point.BASE.multiply(a).add(T).toBytes()
      let found = false
      for (let i = 0; i < 32 && !found; i++) {
        const m = utf8(`mixed-${i}`)
        const r = 987654321n + BigInt(i)
        const R = ed.Point.BASE.multiply(r).toBytes()
        const k = leNum(sha512(new Uint8Array([...R, ...A2, ...m]))) % L
        if (k % 8n === 0n) continue
        const S = (r + k * a) % L
        const sg = new Uint8Array(64); sg.set(R); sg.set(le(S), 32)
        assert.equal(ed.verify(sg, m, A2), true, 'noble default (ZIP-215, cofactored) accepts')
        assert.deepEqual(await verdicts(A2, m, sg), [false, false, false])
        found = true
      }
      assert.equal(found, true)
    })

    it('property: random keys, messages and single-bit corruptions get the same verdict from all three', async () => {
      await fc.assert(fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 3 }), fc.nat(),
        async (sd, m, where, bit) => {
          const s = nodeSigner(sd)
          const p = s.publicKey.slice()
          const g = (s.sign(m) as Uint8Array).slice()
          const mm = m.slice()
          if (where === 1) g[bit % 64]! ^= 1 << (bit % 8)
          if (where === 2) p[bit % 32]! ^= 1 << (bit % 8)
          if (where === 3 && mm.length > 0) mm[bit % mm.length]! ^= 1 << (bit % 8)
          const v = await verdicts(p, mm, g)
          assert.equal(v[0], v[1]); assert.equal(v[0], v[2])
          assert.equal(v[0], where === 0 || (where === 3 && mm.length === 0))
        }), { numRuns: 60 })
    })

    it('hostile inputs: wrong lengths and non-bytes give false, never a throw', async () => {
      for (const [p, m, s] of [[new Uint8Array(31), msg, sig], [pub, msg, new Uint8Array(63)], [pub, msg, new Uint8Array(65)], ['x', msg, sig], [pub, msg, null]] as const) {
        assert.deepEqual(await verdicts(p as Uint8Array, m, s as Uint8Array), [false, false, false])
      }
    })
  })

  it('a libp2p Ed25519 identity key signs entries every verifier accepts', async () => {
    const key = await generateKeyPair('Ed25519')
    const signer = signerFromLibp2pKey(key)
    const m = utf8('libp2p identity')
    const sig = await signer.sign(m)
    assert.deepEqual(await verdicts(signer.publicKey, m, sig), [true, true, true])
    // libp2p's raw private key is seed || public key: the same key through our signers gives the same signature.
    assert.equal(toHex(nobleSigner(key.raw.subarray(0, 32)).sign(m) as Uint8Array), toHex(sig))
    assert.throws(() => signerFromLibp2pKey({ type: 'secp256k1', publicKey: { raw: new Uint8Array(33) }, sign: () => new Uint8Array(64) }), TypeError)
  })
})
