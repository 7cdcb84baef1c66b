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

export async function verifySignatures(signed: SignedEntry, genesisCid: CID | null, verifier: Verifier): Promise<void> {
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
