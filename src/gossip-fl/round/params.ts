/**
 * Round parameters, taken from the network charter (DESIGN.md "The network
 * charter"): committee size m, threshold t, group size g, clip norm C, noise
 * multiplier, aggregation rule, phase deadlines. Defaults, then merge, then
 * validate with a typed error (House style 7).
 *
 * Derived quantities (documented in docs/architecture/round.md):
 * - per-contributor noise std  sigma_c = z * C / sqrt(g - f), with f the number of
 *   group members allowed to add no noise (`noiseDropTolerance`): any g - f honest
 *   contributors of a group of >= g already carry the charter's N(0, (zC)^2) in the
 *   group sum (variances add).
 * - the norm bound for the encoded (clipped + noised + rounded) update:
 *   ||v|| <= C + sigma_c (sqrt(d) + 6) + sqrt(d) / (2 * 2^bits); the Gaussian part
 *   holds with probability >= 1 - exp(-18) (Laurent-Massart / Lipschitz
 *   concentration of the norm of a Gaussian vector), the last term bounds rounding.
 * - the fixed-point precision: the largest bits <= 24 with
 *   (bound * 2^bits)^2 <= (p - 1) / 4, so an honest squared norm never wraps mod p
 *   and an update up to twice the bound is refused exactly.
 */
import { InvalidParametersError } from '../../util/errors.ts'
import { LIMITS } from './messages.ts'
import { perMemberNoiseStd } from '../../model/privacy/user-level.ts'

/** Phase durations in milliseconds, each counted from the end of the previous phase. */
export interface RoundDeadlines {
  /** train + send shares + deal zero masks */
  shareMs: number
  /** receipts with masked norm points */
  receiptMs: number
  /** leader's plan */
  planMs: number
  /** partial sums */
  partialMs: number
  /** checkpoint signatures */
  checkpointMs: number
}

export interface RoundParams {
  committeeSize: number
  threshold: number
  groupSize: number
  clipNorm: number
  noiseMultiplier: number
  noiseDropTolerance: number
  /** Aggregation rule name (B's registry) and its parameters. */
  rule: string
  ruleParams: Record<string, unknown>
  /** model r = model r-1 + serverLr * aggregate */
  serverLr: number
  deadlines: RoundDeadlines
  /** Retries of one round before the machine gives up (each draws a new committee). */
  maxRetries: number
  /** Fixed-point bits; 0 = derive the largest safe value from the norm bound. */
  fixedPointBits: number
}

export const DEFAULT_DEADLINES: Readonly<RoundDeadlines> = Object.freeze({
  shareMs: 60_000,
  receiptMs: 10_000,
  planMs: 10_000,
  partialMs: 20_000,
  checkpointMs: 10_000
})

export const DEFAULT_ROUND_PARAMS: Readonly<RoundParams> = Object.freeze({
  committeeSize: 5,
  threshold: 2,
  groupSize: 2,
  clipNorm: 1,
  noiseMultiplier: 0,
  noiseDropTolerance: 0,
  rule: 'centered-clipping',
  ruleParams: {},
  serverLr: 1,
  deadlines: DEFAULT_DEADLINES,
  maxRetries: 3,
  fixedPointBits: 0
})

/** P = 2^31 - 1 (src/secret-sharing/field.ts). */
const P = 2147483647
/**
 * Honest squared norms stay below (p - 1) / 4 (A's DEFAULT_HEADROOM): an update up
 * to twice the bound then has ||q||^2 < p and is refused exactly, not by a wrap.
 */
const HEADROOM = 4

function finite(what: string, v: unknown, min: number, exclusive = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (exclusive ? v <= min : v < min)) {
    throw new InvalidParametersError(`${what} must be a finite number ${exclusive ? '>' : '>='} ${min}, got ${String(v)}`)
  }
  return v
}

function integer(what: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidParametersError(`${what} must be an integer in [${min}, ${max}], got ${String(v)}`)
  }
  return v
}

/** Defaults, merge, validate. Unknown keys are refused so a charter typo fails loudly. */
export function resolveRoundParams(partial: Partial<Omit<RoundParams, 'deadlines'>> & { deadlines?: Partial<RoundDeadlines> } = {}): Readonly<RoundParams> {
  if (partial === null || typeof partial !== 'object') throw new InvalidParametersError('round parameters must be an object')
  for (const key of Object.keys(partial)) {
    if (!(key in DEFAULT_ROUND_PARAMS)) throw new InvalidParametersError(`unknown round parameter '${key}'`)
  }
  const deadlines = { ...DEFAULT_DEADLINES, ...(partial.deadlines ?? {}) }
  for (const key of Object.keys(deadlines)) {
    if (!(key in DEFAULT_DEADLINES)) throw new InvalidParametersError(`unknown deadline '${key}'`)
    integer(`deadlines.${key}`, (deadlines as Record<string, unknown>)[key], 1, 24 * 3600_000)
  }
  const p: RoundParams = { ...DEFAULT_ROUND_PARAMS, ...partial, deadlines } as RoundParams
  integer('committeeSize', p.committeeSize, 1, LIMITS.maxCommittee)
  integer('threshold', p.threshold, 1, p.committeeSize)
  // The norm check reconstructs a degree-2(t-1) polynomial: it needs 2t - 1 holders.
  if (2 * p.threshold - 1 > p.committeeSize) {
    throw new InvalidParametersError(`the norm check needs 2t - 1 <= m; got t = ${p.threshold}, m = ${p.committeeSize}`)
  }
  integer('groupSize', p.groupSize, 1, 4096)
  finite('clipNorm', p.clipNorm, 0, true)
  finite('noiseMultiplier', p.noiseMultiplier, 0)
  integer('noiseDropTolerance', p.noiseDropTolerance, 0, p.groupSize - 1)
  if (typeof p.rule !== 'string' || p.rule.length === 0) throw new InvalidParametersError('rule must be a rule name')
  if (p.ruleParams === null || typeof p.ruleParams !== 'object') throw new InvalidParametersError('ruleParams must be an object')
  finite('serverLr', p.serverLr, 0, true)
  integer('maxRetries', p.maxRetries, 0, LIMITS.maxRetry)
  integer('fixedPointBits', p.fixedPointBits, 0, 24)
  return Object.freeze(p)
}

/** Noise std each contributor adds so a group sum of >= g - f noised updates carries N(0, (zC)^2). */
export function perContributorNoiseStd(p: Pick<RoundParams, 'noiseMultiplier' | 'clipNorm' | 'groupSize' | 'noiseDropTolerance'>): number {
  // D's formula (src/model/privacy/user-level.ts): z C / sqrt(minHonest), minHonest = g - f.
  return perMemberNoiseStd(p.clipNorm, p.noiseMultiplier, p.groupSize, p.groupSize - p.noiseDropTolerance)
}

/** Upper bound on ||encoded update|| in real units (see the header comment), excluding rounding. */
function normBoundNoRounding(p: RoundParams, dim: number): number {
  const s = perContributorNoiseStd(p)
  return p.clipNorm + (s > 0 ? s * (Math.sqrt(dim) + 6) : 0)
}

export interface FixedPointPlan {
  /** scale = 2^bits */
  bits: number
  scale: number
  /** Largest accepted squared norm of an encoded update, in field units (scale^2 * real^2). */
  normBoundField: number
  /** The same bound in real units (norm, not squared). */
  normBound: number
}

/**
 * The fixed-point scale and the norm bound used by the norm check, for model
 * dimension `dim`. Throws InvalidParametersError when no precision >= 4 bits keeps
 * honest squared norms below p / 2.
 */
export function fixedPointPlan(p: RoundParams, dim: number): FixedPointPlan {
  integer('dim', dim, 1, LIMITS.maxDim)
  const base = normBoundNoRounding(p, dim)
  const boundAt = (bits: number): number => base + Math.sqrt(dim) / (2 * 2 ** bits)
  const fits = (bits: number): boolean => (boundAt(bits) * 2 ** bits) ** 2 <= (P - 1) / HEADROOM
  let bits = p.fixedPointBits
  if (bits === 0) {
    for (let b = 24; b >= 1; b--) if (fits(b)) { bits = b; break }
  }
  if (bits < 4 || !fits(bits)) {
    throw new InvalidParametersError(`no fixed-point precision of >= 4 bits keeps the squared norm bound below (p - 1) / 4 for dim ${dim}, clip ${p.clipNorm}, noise std ${perContributorNoiseStd(p)}`)
  }
  const scale = 2 ** bits
  const normBound = boundAt(bits)
  return { bits, scale, normBound, normBoundField: Math.floor((normBound * scale) ** 2) }
}

/** Quorum for a checkpoint: ceil(2m/3) signatures of the round's committee (DESIGN.md "The ledger"). */
export function checkpointQuorum(m: number): number {
  return Math.ceil((2 * m) / 3)
}

/** Cumulative deadlines (absolute times) of retry k of a round started at `start`. */
export function phaseDeadlines(p: RoundParams, start: number, retry: number): { share: number, receipt: number, plan: number, partial: number, checkpoint: number, retryStart: number } {
  const d = p.deadlines
  const total = d.shareMs + d.receiptMs + d.planMs + d.partialMs + d.checkpointMs
  const s = start + retry * total
  return {
    retryStart: s,
    share: s + d.shareMs,
    receipt: s + d.shareMs + d.receiptMs,
    plan: s + d.shareMs + d.receiptMs + d.planMs,
    partial: s + d.shareMs + d.receiptMs + d.planMs + d.partialMs,
    checkpoint: s + total
  }
}
