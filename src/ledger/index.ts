/**
 * The ledger (DESIGN.md "The ledger"): entries, canonical encoding, Ed25519
 * signatures, per-author hash chains, co-signed checkpoints, verification,
 * equivocation proofs, persistent store. The node:crypto verifier lives in
 * './signature-node.ts' and is not exported here, so this index stays
 * browser-safe.
 */
export * from './errors.ts'
export * from './bytes.ts'
export * from './charter.ts'
export * from './entry.ts'
export * from './signature.ts'
export { nobleVerifier, nobleSigner, nobleVerify } from './signature-noble.ts'
export { webCryptoVerifier, webCryptoSigner, webCryptoAvailable } from './signature-webcrypto.ts'
export { LedgerState, parseEquivocationProof, type EntryMeta, type CheckpointRecord } from './state.ts'
export { verifySignatures } from './verify.ts'
export * from './author.ts'
export * from './committee.ts'
export { LedgerStore, type StoreOpenOptions, type EntryFilter } from './store.ts'
export { Ledger } from './ledger.ts'
