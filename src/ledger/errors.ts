/**
 * Typed errors of the ledger. Every rejected entry raises a
 * LedgerVerificationError whose `rule` names the rule it broke (see
 * docs/architecture/ledger.md, "Verification rules"); a damaged store raises a
 * LedgerCorruptionError carrying the report of what was lost.
 */
import { TesseraError } from '../util/errors.ts'

export type LedgerRule =
  | 'malformed' // bytes do not decode, wrong field types, non-canonical encoding, size caps
  | 'signature' // the author's signature (or a co-signature, or a proof's signature) fails
  | 'chain-prev' // prev is not the CID of the author's previous entry
  | 'seq-gap' // seq is not the author's next sequence number
  | 'equivocation' // same author and seq as a stored entry with different content
  | 'duplicate' // the exact entry (or a unique per-round entry) is already present
  | 'genesis' // genesis missing, repeated, or an entry before it
  | 'unknown-author' // a referenced peer is not a member of the network
  | 'not-admitted' // the author is not admitted under the charter's admission policy
  | 'excluded-author' // the author was excluded (equivocation)
  | 'committee' // the author or a signer is not in the round's committee, or the committee is empty
  | 'quorum' // a checkpoint carries fewer than ceil(2m/3) committee signatures
  | 'checkpoint-order' // a checkpoint does not follow the previous one (round, prev)
  | 'heads' // a checkpoint's covered heads are unknown, mismatched, or go backwards
  | 'reference' // a referenced entry (CID) is missing or of the wrong type
  | 'group' // a contribution's group is not the one the round seed assigns
  | 'charter-limit' // a value exceeds what the charter allows
  | 'commitment' // a dispute's opening does not match the registered commitment
  | 'proof' // an equivocation proof does not prove equivocation
  | 'outlier' // a plan or checkpoint groups a contributor excluded as a persistent outlier, or a checkpoint lacks (or wrongly carries) the outlier evidence its charter requires

export class LedgerVerificationError extends TesseraError {
  readonly rule: LedgerRule
  /** CID (string) of the offending entry, when it could be computed. */
  readonly cid?: string
  /** For 'equivocation': the stored envelope that conflicts with the new one. */
  readonly conflict?: Uint8Array
  /** For 'equivocation': the CID of the stored entry at the same (author, seq). */
  readonly conflictCid?: string
  constructor(rule: LedgerRule, message: string, extra: { cid?: string, conflict?: Uint8Array, conflictCid?: string, cause?: unknown } = {}) {
    super(`[${rule}] ${message}`, { cause: extra.cause })
    this.name = 'LedgerVerificationError'
    this.rule = rule
    if (extra.cid !== undefined) this.cid = extra.cid
    if (extra.conflict !== undefined) this.conflict = extra.conflict
    if (extra.conflictCid !== undefined) this.conflictCid = extra.conflictCid
  }
}

/** What `LedgerStore.open` found when re-verifying its contents. */
export interface CorruptionReport {
  /** Entries in the append log (according to the stored count). */
  expected: number
  /** Entries that verified, in order, before the first problem: log positions [0, good). */
  good: number
  /** The first problem: its log position, the rule it broke, and a message. */
  firstProblem?: { position: number, cid?: string, rule: LedgerRule | 'missing' | 'index', message: string }
  /** Log positions [from, to) that cannot be used (the bad entry and everything after it). */
  lost?: { from: number, to: number }
}

export class LedgerCorruptionError extends TesseraError {
  readonly report: CorruptionReport
  constructor(report: CorruptionReport) {
    const p = report.firstProblem
    super(`ledger store is damaged: ${report.good} of ${report.expected} entries verify; first problem at position ${p?.position ?? '?'} [${p?.rule ?? '?'}]: ${p?.message ?? ''}`)
    this.name = 'LedgerCorruptionError'
    this.report = report
  }
}

/** The store was used wrongly (closed, opened twice) or the database failed. */
export class LedgerStoreError extends TesseraError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'LedgerStoreError'
  }
}
