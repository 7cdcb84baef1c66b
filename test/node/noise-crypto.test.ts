import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import { defaultCrypto, pureJsCrypto } from '@chainsafe/libp2p-noise/crypto'
import fc from 'fast-check'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { fastNoiseCrypto as fast, uint16BEDecodeOr, quietNoiseFrames } from '../../src/node/noise-crypto.ts'

const hex = (u: Uint8Array | { subarray: () => Uint8Array }): string => Buffer.from(u instanceof Uint8Array ? u : u.subarray()).toString('hex')

describe('node/noise-crypto', () => {
  it('X25519 matches RFC 7748 §6.1 (Alice and Bob) and the module\'s default crypto', () => {
    // RFC 7748 §6.1 test vectors.
    const a = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex')
    const aPub = Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex')
    const b = Buffer.from('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb', 'hex')
    const bPub = Buffer.from('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f', 'hex')
    const k = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742'
    assert.equal(hex(fast.generateX25519SharedKey(new Uint8Array(a), new Uint8Array(bPub))), k)
    // A Uint8ArrayList (another copy of the package than Noise's type: cast).
    assert.equal(hex(fast.generateX25519SharedKey(new Uint8Array(b), new Uint8ArrayList(new Uint8Array(aPub)) as any)), k)
    assert.equal(hex(fast.generateX25519KeyPairFromSeed(new Uint8Array(a)).publicKey), hex(aPub))
    for (let i = 0; i < 20; i++) {
      const x = fast.generateX25519KeyPair()
      const y = defaultCrypto.generateX25519KeyPair()
      assert.equal(x.privateKey.length, 32)
      assert.equal(hex(fast.generateX25519KeyPairFromSeed(x.privateKey).publicKey), hex(x.publicKey), 'public key is the private key\'s')
      const s = hex(defaultCrypto.generateX25519SharedKey(y.privateKey, x.publicKey))
      assert.equal(hex(fast.generateX25519SharedKey(x.privateKey, y.publicKey)), s, 'cached key objects')
      assert.equal(hex(fast.generateX25519SharedKey(new Uint8Array(x.privateKey), new Uint8Array(y.publicKey))), s, 'imported from bytes')
    }
  })

  it('a key of the wrong length is refused (not silently used) with an InvalidX25519KeyError, for the private and the public side', () => {
    const good = fast.generateX25519KeyPair()
    for (const n of [0, 1, 31, 33, 64]) {
      assert.throws(() => fast.generateX25519SharedKey(new Uint8Array(n), good.publicKey), (e: any) => e.name === 'InvalidX25519KeyError' && e.length === n && /private/.test(e.message))
      assert.throws(() => fast.generateX25519SharedKey(good.privateKey, new Uint8Array(n)), (e: any) => e.name === 'InvalidX25519KeyError' && e.length === n && /public/.test(e.message))
    }
  })

  it('HKDF is Noise\'s HKDF(ck, ikm) with three outputs (the module\'s pure-JS one), empty ikm included', () => {
    for (const n of [0, 32, 64]) {
      const ck = crypto.randomBytes(32)
      const ikm = crypto.randomBytes(n)
      assert.deepEqual(fast.getHKDF(ck, ikm).map(hex), pureJsCrypto.getHKDF(ck, ikm).map(hex))
    }
  })

  it('the quiet Noise frame decoder yields exactly the frames of any byte split, and asks for more bytes without throwing', () => {
    // Noise transport messages: 2-byte big-endian length, then that many bytes (libp2p noise spec, "Wire format").
    // Same decoder settings as the module's EncryptedMessageStream, with our length decoder.
    const quiet = (): LengthPrefixedDecoder => new LengthPrefixedDecoder({ lengthDecoder: uint16BEDecodeOr(4 * 1024 * 1024) as any, maxBufferSize: 16 * 1024 * 1024, encodingLength: () => 2 })
    fc.assert(fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 1, maxLength: 10 }), (frames, cuts) => {
      const wire = Buffer.concat(frames.flatMap(f => [Buffer.from([f.length >> 8, f.length & 0xff]), Buffer.from(f)]))
      const d = quiet()
      const out: string[] = []
      let at = 0
      for (let i = 0; at < wire.length; i++) {
        const n = cuts[i % cuts.length]!
        // a plain chunk or a list of two, as TCP reads and Uint8ArrayLists arrive
        const piece = wire.subarray(at, at + n)
        const chunk = i % 2 === 0 ? new Uint8Array(piece) : new Uint8ArrayList(piece.subarray(0, piece.length >> 1), piece.subarray(piece.length >> 1))
        for (const f of d.decode(chunk as any)) out.push(hex(f))
        at += n
      }
      assert.deepEqual(out, frames.map(f => hex(f)))
    }), { numRuns: 300 })
    // Every length 0..2^16-1 reads as the module's decoder reads it; fewer than 2 bytes ask for more.
    const dec = uint16BEDecodeOr(12345)
    for (const v of [0, 1, 255, 256, 65519, 65535]) {
      assert.equal(dec(Uint8Array.of(v >> 8, v & 0xff)), v)
      assert.equal(dec(new Uint8ArrayList(Uint8Array.of(v >> 8), Uint8Array.of(v & 0xff, 7)) as any), v)
    }
    assert.equal(dec(new Uint8Array(0)), 12345)
    assert.equal(dec(Uint8Array.of(1)), 12345)
    // A decoder of another shape is left alone.
    assert.equal(quietNoiseFrames({ decoder: {} }), false)
    assert.equal(quietNoiseFrames(undefined), false)
  })

})
