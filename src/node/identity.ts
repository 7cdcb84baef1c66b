/**
 * The peer's identity on Node: one Ed25519 key per peer (DESIGN "Identity"),
 * kept in the peer's data directory, file mode 0600. It is both the libp2p
 * PeerId (Noise authenticates it on every connection) and the key that signs
 * ledger entries; @noble/ed25519 and the libp2p key API verify each other's
 * signatures because both implement RFC 8032 Ed25519 (test/node/identity.test.ts).
 *
 * File format: the libp2p protobuf encoding of the private key
 * (`privateKeyToProtobuf`, libp2p peer-id spec "Keys"), so the file is also
 * readable by standard libp2p tooling. Created with O_EXCL through a temporary
 * file and a hard link, so a crash never leaves a half-written key under the
 * final name and two processes racing to create it end up with the same key.
 */
import { chmod, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { InsecureKeyFileError, InvalidKeyFileError } from './errors.ts'
import { bytesToHex } from './peer-name.ts'

export const KEY_FILE_NAME = 'identity.key'
/** Largest key file we read: an Ed25519 protobuf key is 68 bytes. */
const MAX_KEY_FILE_BYTES = 1024

export interface PeerIdentity {
  /** The libp2p private key (pass to createTesseraLibp2p). */
  privateKey: Ed25519PrivateKey
  /** Raw 32-byte Ed25519 public key (RFC 8032). */
  publicKey: Uint8Array
  /** Raw 32-byte secret seed, for @noble/ed25519 (`sign(msg, seed)`). */
  seed: Uint8Array
  /** Peer name: lowercase hex of `publicKey`. */
  name: string
  /** Where the key lives. */
  path: string
  /** True if this call created the key. */
  created: boolean
}

function identityOf (privateKey: Ed25519PrivateKey, path: string, created: boolean): PeerIdentity {
  const publicKey = privateKey.publicKey.raw
  // libp2p's raw Ed25519 private key is seed (32) || public key (32).
  const seed = privateKey.raw.slice(0, 32)
  return { privateKey, publicKey, seed, name: bytesToHex(publicKey), path, created }
}

/** Parse key-file bytes; throws InvalidKeyFileError unless they hold an Ed25519 key. */
export function decodeKeyFile (bytes: Uint8Array, path = '<bytes>'): Ed25519PrivateKey {
  if (bytes.length === 0 || bytes.length > MAX_KEY_FILE_BYTES) throw new InvalidKeyFileError(`key file ${path} has ${bytes.length} bytes; expected a libp2p protobuf Ed25519 key`)
  let key
  try {
    key = privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new InvalidKeyFileError(`key file ${path} is not a libp2p protobuf private key: ${(err as Error).message}`, { cause: err })
  }
  if (key.type !== 'Ed25519') throw new InvalidKeyFileError(`key file ${path} holds a ${key.type} key; Tessera peers use Ed25519`)
  return key
}

async function loadKey (path: string): Promise<PeerIdentity> {
  const st = await stat(path)
  if (!st.isFile()) throw new InvalidKeyFileError(`key path ${path} is not a regular file`)
  // POSIX permission bits only; Windows has no such bits (ACLs instead), so the check would be meaningless there.
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) throw new InsecureKeyFileError(path, st.mode)
  if (st.size > MAX_KEY_FILE_BYTES) throw new InvalidKeyFileError(`key file ${path} has ${st.size} bytes; expected a libp2p protobuf Ed25519 key`)
  const bytes = new Uint8Array(await readFile(path))
  return identityOf(decodeKeyFile(bytes, path), path, false)
}

/**
 * Load the peer's key from `<dataDir>/identity.key`, creating it (and the
 * directory, mode 0700) if absent. Refuses a key file readable by group or
 * others with InsecureKeyFileError, and a corrupt one with InvalidKeyFileError.
 */
export async function loadOrCreateIdentity (dataDir: string): Promise<PeerIdentity> {
  const path = join(dataDir, KEY_FILE_NAME)
  try {
    return await loadKey(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const key = await generateKeyPair('Ed25519')
  const tmp = `${path}.${process.pid}.${bytesToHex(crypto.getRandomValues(new Uint8Array(6)))}.tmp`
  const fh = await open(tmp, 'wx', 0o600)
  try {
    await fh.writeFile(privateKeyToProtobuf(key))
    await fh.sync()
  } finally {
    await fh.close()
  }
  // The umask may have cleared bits but never adds any; make the mode exact anyway.
  await chmod(tmp, 0o600)
  try {
    await link(tmp, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    // Another process created the key first: use theirs.
    await unlink(tmp)
    return await loadKey(path)
  }
  await unlink(tmp)
  return identityOf(key, path, true)
}
