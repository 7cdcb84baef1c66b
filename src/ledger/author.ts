/**
 * Building signed entries: the genesis, an author's next entry (seq and prev
 * from the state), checkpoint co-signatures, and equivocation proofs. These are
 * what a peer calls to write to the ledger; the result still goes through
 * Ledger.append, which verifies it like any other entry.
 */
import type { CID } from 'multiformats/cid'
import type { Charter } from './charter.ts'
import { LedgerVerificationError } from './errors.ts'
import { cosigningMessage, decodeEnvelope, signEntry, type BodyOf, type CheckpointCore, type Cosignature, type EntryType, type SignedEntry } from './entry.ts'
import type { Signer } from './signature.ts'
import { parseEquivocationProof, type LedgerState } from './state.ts'

/** The genesis entry of a new network, authored by its creator. */
export async function makeGenesis(signer: Signer, charter: Charter, ts?: number): Promise<SignedEntry<'genesis'>> {
  return await signEntry(signer, { type: 'genesis', seq: 0, prev: null, body: charter, ...(ts === undefined ? {} : { ts }) }, null)
}

/** The signer's next entry of `type`, chained after its head in `state`. */
export async function makeEntry<T extends Exclude<EntryType, 'genesis'>>(state: LedgerState, signer: Signer, type: T, body: BodyOf[T], ts?: number): Promise<SignedEntry<T>> {
  if (state.genesisCid === null) throw new LedgerVerificationError('genesis', 'the ledger has no genesis yet')
  const { seq, prev } = state.next(signer.publicKey)
  return await signEntry(signer, { type, seq, prev, body, ...(ts === undefined ? {} : { ts }) }, state.genesisCid)
}

/** A committee member's co-signature over a checkpoint core (the body without co-signatures). */
export async function cosignCheckpoint(signer: Signer, core: CheckpointCore, genesisCid: CID): Promise<Cosignature> {
  return { signer: signer.publicKey, sig: await signer.sign(cosigningMessage(core, genesisCid)) }
}

/** The checkpoint entry, authored by one member and carrying the others' co-signatures. */
export async function makeCheckpoint(state: LedgerState, signer: Signer, core: CheckpointCore, cosigs: Cosignature[], ts?: number): Promise<SignedEntry<'checkpoint'>> {
  return await makeEntry(state, signer, 'checkpoint', { ...core, cosigs }, ts)
}

/**
 * An equivocation proof from two envelopes by the same author at the same seq
 * (e.g. a LedgerVerificationError 'equivocation': its `conflict` and the
 * rejected envelope). Anyone may publish it.
 */
export async function makeEquivocationProof(state: LedgerState, signer: Signer, a: Uint8Array, b: Uint8Array, ts?: number): Promise<SignedEntry<'equivocation'>> {
  const ea = decodeEnvelope(a)
  const eb = decodeEnvelope(b)
  const body = { a: { entry: ea.bytes, sig: ea.sig }, b: { entry: eb.bytes, sig: eb.sig } }
  parseEquivocationProof(body)
  return await makeEntry(state, signer, 'equivocation', body, ts)
}
