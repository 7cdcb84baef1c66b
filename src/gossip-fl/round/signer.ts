/**
 * Signing for round messages: an injected, synchronous Ed25519 signer (the
 * peer's identity key, DESIGN.md "Identity") and verifier keyed by peer id (the
 * hex public key). The machine never sees a private key.
 */
import { nobleSigner, nobleVerify } from '../../ledger/signature-noble.ts'
import { peerIdBytes, isPeerId } from '../../reputation/peer-id.ts'

export interface RoundSigner {
  /** This peer's id: lowercase hex of its Ed25519 public key. */
  readonly peer: string
  sign(message: Uint8Array): Uint8Array
}

/** True iff `sig` is `peer`'s Ed25519 signature of `message`. */
export type RoundVerify = (peer: string, message: Uint8Array, sig: Uint8Array) => boolean

function hex(b: Uint8Array): string {
  let s = ''
  for (const x of b) s += x.toString(16).padStart(2, '0')
  return s
}

/** A signer from a 32-byte Ed25519 seed (pure JS, runs anywhere). */
export function ed25519Signer(seed: Uint8Array): RoundSigner {
  const s = nobleSigner(seed)
  return { peer: hex(s.publicKey), sign: (m) => s.sign(m) as Uint8Array }
}

/** Verification with the ledger's portable cofactorless verifier (same verdict as every other Tessera verifier). */
export const ed25519Verify: RoundVerify = (peer, message, sig) => isPeerId(peer) && nobleVerify(peerIdBytes(peer), message, sig)

/** Adapt a ledger Signer / Verifier (E's src/ledger/signature*.ts) whose calls are synchronous. */
export function roundSignerFrom(s: { publicKey: Uint8Array, sign(m: Uint8Array): Uint8Array | Promise<Uint8Array> }): RoundSigner {
  return {
    peer: hex(s.publicKey),
    sign: (m) => {
      const sig = s.sign(m)
      if (sig instanceof Promise) throw new TypeError('the round needs a synchronous signer')
      return sig
    }
  }
}

export function roundVerifyFrom(v: { verify(pk: Uint8Array, m: Uint8Array, sig: Uint8Array): boolean | Promise<boolean> }): RoundVerify {
  return (peer, message, sig) => {
    if (!isPeerId(peer)) return false
    const ok = v.verify(peerIdBytes(peer), message, sig)
    if (ok instanceof Promise) throw new TypeError('the round needs a synchronous verifier')
    return ok
  }
}
