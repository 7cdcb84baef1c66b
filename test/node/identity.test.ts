import assert from 'node:assert/strict'
import { mkdtemp, rm, stat, chmod, writeFile, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as ed from '@noble/ed25519'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadOrCreateIdentity, decodeKeyFile, KEY_FILE_NAME } from '../../src/node/identity.ts'
import { peerIdFromPeerName, peerNameFromPeerId, peerNameFromPublicKey, isPeerName, assertPeerName, hexToBytes } from '../../src/node/peer-name.ts'

describe('node/identity', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'tessera-id-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('creates a 0600 key once, then loads the same key', async () => {
    const a = await loadOrCreateIdentity(join(dir, 'data'))
    assert.equal(a.created, true)
    assert.equal((await stat(a.path)).mode & 0o777, 0o600)
    assert.equal((await stat(join(dir, 'data'))).mode & 0o777, 0o700)
    const b = await loadOrCreateIdentity(join(dir, 'data'))
    assert.equal(b.created, false)
    assert.equal(b.name, a.name)
    assert.ok(isPeerName(a.name))
    assert.deepEqual(b.publicKey, a.publicKey)
    assert.equal(a.publicKey.length, 32)
    assert.equal(a.seed.length, 32)
  })

  it('two concurrent creators end with one key', async () => {
    const [a, b] = await Promise.all([loadOrCreateIdentity(dir), loadOrCreateIdentity(dir)])
    assert.equal(a.name, b.name)
    const again = await loadOrCreateIdentity(dir)
    assert.equal(again.name, a.name)
  })

  it('refuses a world- or group-readable key with InsecureKeyFileError', async () => {
    const id = await loadOrCreateIdentity(dir)
    for (const mode of [0o644, 0o640, 0o604]) {
      await chmod(id.path, mode)
      await assert.rejects(loadOrCreateIdentity(dir), (e: Error) => e.name === 'InsecureKeyFileError')
    }
    await chmod(id.path, 0o400)
    assert.equal((await loadOrCreateIdentity(dir)).name, id.name)
  })

  it('refuses corrupt, empty, huge and non-Ed25519 key files with InvalidKeyFileError', async () => {
    const path = join(dir, KEY_FILE_NAME)
    for (const bytes of [new Uint8Array(0), new Uint8Array([1, 2, 3]), new Uint8Array(5000), crypto.getRandomValues(new Uint8Array(68))]) {
      await writeFile(path, bytes, { mode: 0o600 })
      await chmod(path, 0o600)
      await assert.rejects(loadOrCreateIdentity(dir), (e: Error) => e.name === 'InvalidKeyFileError')
    }
    // secp256k1 protobuf key: type 2 (libp2p peer-id spec, KeyType enum)
    const secp = new Uint8Array([0x08, 0x02, 0x12, 0x20, ...new Uint8Array(32).fill(7)])
    assert.throws(() => decodeKeyFile(secp), (e: Error) => e.name === 'InvalidKeyFileError')
  })

  it('a signature from the libp2p key API verifies with @noble/ed25519, and vice versa', async () => {
    const id = await loadOrCreateIdentity(dir)
    const msg = new TextEncoder().encode('tessera ledger entry')
    const sigLibp2p = await id.privateKey.sign(msg)
    assert.equal(await ed.verifyAsync(sigLibp2p, msg, id.publicKey), true)
    const sigNoble = await ed.signAsync(msg, id.seed)
    // Ed25519 is deterministic (RFC 8032 §5.1.6): same key, same message, same signature.
    assert.deepEqual(new Uint8Array(sigNoble), new Uint8Array(sigLibp2p))
    assert.equal(await id.privateKey.publicKey.verify(msg, sigNoble), true)
    assert.deepEqual(await ed.getPublicKeyAsync(id.seed), id.publicKey)
    // a tampered message fails on both sides
    const bad = msg.slice(); bad[0] ^= 1
    assert.equal(await ed.verifyAsync(sigNoble, bad, id.publicKey), false)
    assert.equal(await publicKeyFromRaw(id.publicKey).verify(bad, sigLibp2p), false)
  })

  it('RFC 8032 §7.1 TEST 1 vector through the libp2p key API loaded from a key file', async () => {
    // secret key 9d61b19d..., public key d75a9801..., empty message
    const seed = hexToBytes('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')
    const pub = hexToBytes('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
    const sig = hexToBytes('e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b')
    const file = new Uint8Array([0x08, 0x01, 0x12, 0x40, ...seed, ...pub])
    await writeFile(join(dir, KEY_FILE_NAME), file, { mode: 0o600 })
    await chmod(join(dir, KEY_FILE_NAME), 0o600)
    const id = await loadOrCreateIdentity(dir)
    assert.equal(id.name, 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
    assert.deepEqual(new Uint8Array(await id.privateKey.sign(new Uint8Array(0))), sig)
    assert.deepEqual(new Uint8Array(await readFile(id.path)), file)
  })

  it('peer names convert losslessly to and from libp2p PeerIds', async () => {
    const id = await loadOrCreateIdentity(dir)
    const pid = peerIdFromPeerName(id.name)
    assert.ok(pid.equals(peerIdFromPrivateKey(id.privateKey)))
    assert.equal(peerNameFromPeerId(pid), id.name)
    assert.equal(peerNameFromPublicKey(id.publicKey), id.name)
  })

  it('rejects hostile peer names with InvalidPeerNameError', () => {
    const bad: unknown[] = ['', 'zz', 'A'.repeat(64), 'a'.repeat(63), 'a'.repeat(65), 42, null, undefined, {}, '0'.repeat(64) + '\n']
    for (const b of bad) assert.throws(() => assertPeerName(b), (e: Error) => e.name === 'InvalidPeerNameError')
    assert.throws(() => peerIdFromPeerName('zz'), (e: Error) => e.name === 'InvalidPeerNameError')
    assert.throws(() => peerNameFromPublicKey(new Uint8Array(31)), (e: Error) => e.name === 'InvalidPeerNameError')
    assert.throws(() => hexToBytes('abc'), (e: Error) => e.name === 'InvalidPeerNameError')
  })
})
