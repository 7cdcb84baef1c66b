/**
 * A per-peer privacy ledger: the rounds a peer took part in, the mechanism each
 * applied to its data, the composed RDP curve, the epsilon spent at the charter's
 * delta, and whether one more round would overrun the charter's per-peer epsilon
 * budget.
 *
 * It is a value: `record` returns a new ledger and never mutates the old one, so
 * a ledger can be recomputed from the signed ledger's entries at any checkpoint
 * and two peers that saw the same entries agree on it. RDP composes by addition
 * at every order (Mironov 2017, Prop. 1); epsilon is read off the sum with the
 * improved conversion (conversion.ts).
 *
 * Unit of privacy: a 'peer' ledger protects the presence of the peer's whole data
 * set; a 'record' ledger protects one of its records.
 * - An 'update' mechanism (the peer's clipped update, noise multiplier z on its
 *   group sum) has sensitivity C for the peer: noise multiplier z. For one record
 *   under add/remove adjacency, the clipped update moves between two points of the
 *   C-ball, so the sensitivity is at most 2C: noise multiplier z/2.
 * - A 'dp-sgd' mechanism (record-level DP-SGD steps inside local training, with
 *   their own sampling rate and noise multiplier) protects records only. A 'peer'
 *   ledger refuses it: without a bound on records per peer it says nothing there.
 */
import { PrivacyLedgerError, InvalidPrivacyParameterError, requireInRange, requireNonNegativeInteger } from './errors.ts'
import { computeRdp, DEFAULT_RDP_ORDERS, validateOrders } from './rdp.ts'
import { epsilonFromRdp, type EpsilonResult } from './conversion.ts'

export type PrivacyUnit = 'peer' | 'record'

export type Mechanism =
  /** One release of the peer's clipped update with group-sum noise multiplier z; `sampling` = probability the peer was included, if that choice is secret (default 1). */
  | { readonly kind: 'update', readonly noiseMultiplier: number, readonly sampling?: number }
  /** `steps` steps of record-level DP-SGD with Poisson sampling rate `sampling` and noise multiplier z. */
  | { readonly kind: 'dp-sgd', readonly noiseMultiplier: number, readonly sampling: number, readonly steps: number }

export interface LedgerEntry {
  readonly round: number
  /**
   * Retry index within the round (default 0). A retried round that revealed another
   * group sum containing the same noised update is a second release and gets its own
   * entry (round, attempt). Counting it as an independent Gaussian release is
   * conservative: the two sums share the peer's own noise, which makes the pair less
   * informative than two independent releases (see docs/architecture/privacy.md).
   */
  readonly attempt?: number
  readonly mechanism: Mechanism
}

/** Largest retry index accepted. */
export const MAX_ATTEMPT = 1 << 20

export interface PrivacyLedgerConfig {
  readonly unit: PrivacyUnit
  /** The charter's delta, in (0, 1). */
  readonly delta: number
  /** The charter's per-peer epsilon budget (> 0; Infinity for none). */
  readonly epsilonBudget: number
  readonly orders?: ArrayLike<number>
}

export interface BudgetCheck {
  /** True when recording the mechanism would push epsilon above the budget. */
  readonly exceeds: boolean
  /** Epsilon (and order) after the hypothetical round. */
  readonly after: EpsilonResult
  readonly budget: number
}

/** Largest round number accepted (rounds are counted, not timestamps). */
export const MAX_ROUND = Number.MAX_SAFE_INTEGER
/** At most this many entries per ledger: a bound on work and memory per peer. */
export const MAX_ENTRIES = 1_000_000

function validateMechanism(m: Mechanism, unit: PrivacyUnit): void {
  if (m === null || typeof m !== 'object') throw new PrivacyLedgerError('mechanism must be an object')
  if (m.kind === 'update') {
    requireInRange('noise multiplier', m.noiseMultiplier, 0, Infinity, { hiOpen: true })
    if (m.sampling !== undefined) requireInRange('sampling', m.sampling, 0, 1)
  } else if (m.kind === 'dp-sgd') {
    if (unit === 'peer') throw new PrivacyLedgerError("a 'dp-sgd' (record-level) mechanism gives no peer-level guarantee; record it in a 'record' ledger")
    requireInRange('noise multiplier', m.noiseMultiplier, 0, Infinity, { hiOpen: true })
    requireInRange('sampling', m.sampling, 0, 1)
    requireNonNegativeInteger('steps', m.steps, 1e12)
  } else {
    throw new PrivacyLedgerError(`unknown mechanism kind '${String((m as { kind?: unknown }).kind)}'`)
  }
}

/** (q, z, steps) of the sampled Gaussian mechanism a mechanism amounts to, for this unit. */
function asSampledGaussian(m: Mechanism, unit: PrivacyUnit): { q: number, z: number, steps: number } {
  if (m.kind === 'update') {
    const z = unit === 'record' ? m.noiseMultiplier / 2 : m.noiseMultiplier
    return { q: m.sampling ?? 1, z, steps: 1 }
  }
  return { q: m.sampling, z: m.noiseMultiplier, steps: m.steps }
}

export class PrivacyLedger {
  readonly unit: PrivacyUnit
  readonly delta: number
  readonly epsilonBudget: number
  readonly orders: readonly number[]
  readonly entries: readonly LedgerEntry[]
  private readonly total: Float64Array
  /** RDP per step, per (q, z): shared by every ledger derived from the same root, since it only depends on its key. */
  private readonly cache: Map<string, Float64Array>

  private constructor(cfg: { unit: PrivacyUnit, delta: number, epsilonBudget: number, orders: readonly number[] }, entries: readonly LedgerEntry[], total: Float64Array, cache: Map<string, Float64Array>) {
    this.unit = cfg.unit
    this.delta = cfg.delta
    this.epsilonBudget = cfg.epsilonBudget
    this.orders = cfg.orders
    this.entries = entries
    this.total = total
    this.cache = cache
  }

  /** An empty ledger for one peer under the charter's (delta, epsilon budget). */
  static create(config: PrivacyLedgerConfig): PrivacyLedger {
    if (config === null || typeof config !== 'object') throw new InvalidPrivacyParameterError('ledger config must be an object')
    if (config.unit !== 'peer' && config.unit !== 'record') throw new InvalidPrivacyParameterError(`unit must be 'peer' or 'record', got ${String(config.unit)}`)
    requireInRange('delta', config.delta, 0, 1, { loOpen: true, hiOpen: true })
    if (typeof config.epsilonBudget !== 'number' || Number.isNaN(config.epsilonBudget) || config.epsilonBudget <= 0) {
      throw new InvalidPrivacyParameterError(`epsilon budget must be a number > 0 (Infinity for none), got ${String(config.epsilonBudget)}`)
    }
    const orders = config.orders ?? DEFAULT_RDP_ORDERS
    validateOrders(orders)
    const frozen = Object.freeze(Array.from(orders))
    return new PrivacyLedger({ unit: config.unit, delta: config.delta, epsilonBudget: config.epsilonBudget, orders: frozen }, Object.freeze([]), new Float64Array(frozen.length), new Map())
  }

  private rdpOf(m: Mechanism): Float64Array {
    const { q, z, steps } = asSampledGaussian(m, this.unit)
    const key = `${q}/${z}`
    let perStep = this.cache.get(key)
    if (perStep === undefined) {
      perStep = computeRdp(q, z, 1, this.orders)
      this.cache.set(key, perStep)
    }
    const out = new Float64Array(perStep.length)
    for (let k = 0; k < out.length; k++) out[k] = steps === 0 ? 0 : perStep[k]! * steps
    return out
  }

  /** A new ledger with this release recorded. Each (round, attempt) may be recorded once; they need not arrive in order. */
  record(round: number, mechanism: Mechanism, attempt = 0): PrivacyLedger {
    return this.recordAll([{ round, attempt, mechanism }])
  }

  /** A new ledger with all these entries recorded (same checks as `record`, one pass). */
  recordAll(entries: readonly LedgerEntry[]): PrivacyLedger {
    if (!Array.isArray(entries)) throw new PrivacyLedgerError('entries must be an array')
    if (this.entries.length + entries.length > MAX_ENTRIES) throw new PrivacyLedgerError(`a ledger holds at most ${MAX_ENTRIES} entries`)
    const key = (round: number, attempt: number): string => `${round}/${attempt}`
    const seen = new Set(this.entries.map((e) => key(e.round, e.attempt ?? 0)))
    const total = this.total.slice()
    const added: LedgerEntry[] = []
    for (const e of entries) {
      if (e === null || typeof e !== 'object') throw new PrivacyLedgerError('entry must be an object { round, mechanism }')
      requireNonNegativeInteger('round', e.round, MAX_ROUND)
      const attempt = e.attempt ?? 0
      requireNonNegativeInteger('attempt', attempt, MAX_ATTEMPT)
      validateMechanism(e.mechanism, this.unit)
      const k = key(e.round, attempt)
      if (seen.has(k)) throw new PrivacyLedgerError(`round ${e.round} attempt ${attempt} is already recorded`)
      seen.add(k)
      const add = this.rdpOf(e.mechanism)
      for (let k = 0; k < total.length; k++) total[k] = total[k]! + add[k]!
      added.push(Object.freeze({ round: e.round, attempt, mechanism: Object.freeze({ ...e.mechanism }) }))
    }
    return new PrivacyLedger(this, Object.freeze([...this.entries, ...added]), total, this.cache)
  }

  /** The composed RDP at each of `orders` (a copy). */
  rdp(): Float64Array {
    return this.total.slice()
  }

  /** Epsilon spent so far at the charter's delta, and the best order. */
  spent(): EpsilonResult {
    return epsilonFromRdp(this.orders, this.total, this.delta)
  }

  /** Budget left (may be negative if a round was recorded over budget; Infinity without a budget). */
  remaining(): number {
    return this.epsilonBudget - this.spent().epsilon
  }

  /** Would one more round with this mechanism push the peer over its epsilon budget? */
  check(mechanism: Mechanism): BudgetCheck {
    validateMechanism(mechanism, this.unit)
    const add = this.rdpOf(mechanism)
    const after = new Float64Array(this.total.length)
    for (let k = 0; k < after.length; k++) after[k] = this.total[k]! + add[k]!
    const res = epsilonFromRdp(this.orders, after, this.delta)
    return { exceeds: res.epsilon > this.epsilonBudget, after: res, budget: this.epsilonBudget }
  }

  /** Shorthand for `!check(mechanism).exceeds`. */
  canAfford(mechanism: Mechanism): boolean {
    return !this.check(mechanism).exceeds
  }
}

/**
 * A ledger from the rounds a peer took part in and the mechanism of each round,
 * built in one pass (linear in the number of rounds, unlike repeated `record`).
 */
export function ledgerFromRounds(config: PrivacyLedgerConfig, rounds: readonly number[], mechanismOf: (round: number) => Mechanism): PrivacyLedger {
  if (!Array.isArray(rounds)) throw new PrivacyLedgerError('rounds must be an array of round numbers')
  if (typeof mechanismOf !== 'function') throw new PrivacyLedgerError('mechanismOf must be a function of the round')
  return PrivacyLedger.create(config).recordAll(rounds.map((round) => ({ round, mechanism: mechanismOf(round) })))
}
