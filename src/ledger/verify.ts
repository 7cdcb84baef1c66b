/**
 * The signature half of verification: every signature an entry carries (the
 * author's, a checkpoint's co-signatures, the two inside an equivocation
 * proof). Asynchronous because WebCrypto is; independent of the ledger state
 * except for the genesis CID (the signing domain), so many entries can be
 * checked concurrently before they are folded into the state in order.
 */
import type { CID } from 'multiformats/cid'
import { LedgerVerificationError } from './errors.ts'
import { cosigningMessage, signingMessage, type SignedEntry } from './entry.ts'
import { verifySignature, type Verifier } from './signature.ts'
import { parseEquivocationProof } from './state.ts'
import { toHex } from './bytes.ts'

/**
 * Envelopes whose signatures this verifier has accepted, per verifier: key = genesis CID, entry
 * CID and author signature. The CID covers the whole entry (a checkpoint's co-signatures are in
 * its body) and the key adds the one signature outside it, so an equal key means the very same
 * bytes to verify. Ledger sync verifies an announced entry in its gossip validator and then
 * appends it, which verified it a second time (issue #4: ~1% of a 10-peer round's CPU).
 */
const VERIFIED_CAP = 4096
const verified = new WeakMap<Verifier, Set<string>>()

function verifiedKey(signed: SignedEntry, genesisCid: CID | null): string {
  return `${genesisCid?.toString() ?? '-'}/${signed.cid.toString()}/${toHex(signed.sig)}`
}

export interface VerifyOptions {
  /**
   * Accept an envelope this verifier has already accepted in this process (default false: verify
   * again, e.g. when a store is re-verified on open). Successes are always remembered.
   */
  useCache?: boolean
}

export async function verifySignatures(signed: SignedEntry, genesisCid: CID | null, verifier: Verifier, opts: VerifyOptions = {}): Promise<void> {
  const key = verifiedKey(signed, genesisCid)
  if (opts.useCache === true && verified.get(verifier)?.has(key) === true) return
  await verifyAll(signed, genesisCid, verifier)
  let set = verified.get(verifier)
  if (set === undefined) { set = new Set(); verified.set(verifier, set) }
  if (set.size >= VERIFIED_CAP) set.delete(set.values().next().value!)
  set.add(key)
}

async function verifyAll(signed: SignedEntry, genesisCid: CID | null, verifier: Verifier): Promise<void> {
  const { entry, cid } = signed
  const isGenesis = entry.type === 'genesis'
  if (!isGenesis && genesisCid === null) throw new LedgerVerificationError('genesis', 'the first entry must be the genesis', { cid: cid.toString() })
  const domain = isGenesis ? null : genesisCid
  if (!await verifySignature(verifier, entry.author, signingMessage(signed.bytes, domain), signed.sig)) {
    throw new LedgerVerificationError('signature', `bad signature by ${toHex(entry.author)} on ${cid.toString()}`, { cid: cid.toString() })
  }
  if (entry.type === 'checkpoint') {
    const body = (signed as SignedEntry<'checkpoint'>).entry.body
    const msg = cosigningMessage(body, genesisCid!)
    const results = await Promise.all(body.cosigs.map((c) => verifySignature(verifier, c.signer, msg, c.sig)))
    const bad = results.indexOf(false)
    if (bad >= 0) throw new LedgerVerificationError('signature', `bad co-signature by ${toHex(body.cosigs[bad]!.signer)} on checkpoint ${cid.toString()}`, { cid: cid.toString() })
  } else if (entry.type === 'equivocation') {
    const { a, b } = parseEquivocationProof((signed as SignedEntry<'equivocation'>).entry.body)
    for (const x of [a, b]) {
      const ok = await verifySignature(verifier, x.entry.author, signingMessage(x.bytes, x.entry.type === 'genesis' ? null : genesisCid), x.sig)
      if (!ok) throw new LedgerVerificationError('proof', `equivocation proof: entry ${x.cid.toString()} is not validly signed by its author`, { cid: cid.toString() })
    }
  }
}
