/**
 * Record-level privacy of DP-SGD (Abadi et al. 2016, "Deep Learning with
 * Differential Privacy"): `steps` steps of the sampled Gaussian mechanism with
 * sampling rate q = batch / examples (modelled as Poisson sampling) and noise
 * multiplier z. Mirrors TF Privacy's `compute_dp_sgd_privacy(n, batch_size,
 * noise_multiplier, epochs, delta)`: steps = ceil(epochs * n / batch_size), the
 * DP_SGD_ORDERS, and the improved RDP -> (epsilon, delta) conversion.
 */
import { InvalidPrivacyParameterError, requireFinite, requireInRange } from './errors.ts'
import { computeRdp, DP_SGD_ORDERS, validateOrders } from './rdp.ts'
import { epsilonFromRdp, type Conversion } from './conversion.ts'

export interface DpSgdParams {
  /** Number of training examples N (integer >= 1). */
  readonly examples: number
  /** Expected batch size B (integer, 1 <= B <= N). */
  readonly batchSize: number
  /** Noise multiplier z: noise std / clip norm (> 0). */
  readonly noiseMultiplier: number
  /** Epochs (> 0, may be fractional). */
  readonly epochs: number
  /** Target delta in (0, 1). */
  readonly delta: number
  /** RDP orders; default DP_SGD_ORDERS (TF Privacy's compute_dp_sgd_privacy list). */
  readonly orders?: ArrayLike<number>
  /** RDP -> DP conversion; default 'improved'. */
  readonly conversion?: Conversion
}

export interface DpSgdPrivacy {
  readonly epsilon: number
  readonly order: number
  readonly q: number
  readonly steps: number
}

/** Largest step count accepted: beyond it a run is not a plausible training job, and the caller has mixed up units. */
export const MAX_STEPS = 1e12

export function validateDpSgdParams(p: DpSgdParams): { q: number, steps: number } {
  if (p === null || typeof p !== 'object') throw new InvalidPrivacyParameterError('DP-SGD parameters must be an object')
  const n = requireFinite('examples', p.examples)
  const b = requireFinite('batch size', p.batchSize)
  if (!Number.isInteger(n) || n < 1) throw new InvalidPrivacyParameterError(`examples must be an integer >= 1, got ${n}`)
  if (!Number.isInteger(b) || b < 1) throw new InvalidPrivacyParameterError(`batch size must be an integer >= 1, got ${b}`)
  if (b > n) throw new InvalidPrivacyParameterError(`batch size (${b}) must not exceed the number of examples (${n})`)
  requireInRange('noise multiplier', p.noiseMultiplier, 0, Infinity, { loOpen: true, hiOpen: true })
  requireInRange('epochs', p.epochs, 0, Infinity, { loOpen: true, hiOpen: true })
  requireInRange('delta', p.delta, 0, 1, { loOpen: true, hiOpen: true })
  if (p.orders !== undefined) validateOrders(p.orders)
  if (p.conversion !== undefined && p.conversion !== 'improved' && p.conversion !== 'classic') {
    throw new InvalidPrivacyParameterError(`conversion must be 'improved' or 'classic', got ${String(p.conversion)}`)
  }
  // Same float expression as TF Privacy: ceil(epochs * n / batch_size).
  const steps = Math.ceil(p.epochs * n / b)
  if (steps > MAX_STEPS) throw new InvalidPrivacyParameterError(`epochs * examples / batch gives ${steps} steps, more than ${MAX_STEPS}`)
  return { q: b / n, steps }
}

/** Epsilon of DP-SGD at the target delta, and the order that achieves it. */
export function computeDpSgdPrivacy(p: DpSgdParams): DpSgdPrivacy {
  const { q, steps } = validateDpSgdParams(p)
  const orders = p.orders ?? DP_SGD_ORDERS
  const rdp = computeRdp(q, p.noiseMultiplier, steps, orders)
  const { epsilon, order } = epsilonFromRdp(orders, rdp, p.delta, p.conversion ?? 'improved')
  return { epsilon, order, q, steps }
}
