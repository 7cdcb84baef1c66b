/**
 * The attack model of shadow-model membership inference (Shokri, Stronati, Song,
 * Shmatikov, "Membership Inference Attacks Against Machine Learning Models",
 * IEEE S&P 2017, section V): shadow models trained on data from the target's
 * distribution, whose membership the attacker knows, give labelled examples
 * (confidence vector, in/out); an attack model learns to tell "in" from "out"
 * and is then applied to the target model's confidence vectors.
 *
 * Features of one example: its confidence vector sorted in decreasing order
 * (Salem et al., "ML-Leaks", NDSS 2019: sorted posteriors let one attack model
 * serve every class) and the confidence of its true label (what Shokri et al.'s
 * per-class attack models condition on), all as log(p + 1e-12). The attack model
 * is L2-regularised logistic regression on standardised features, trained by
 * full-batch gradient descent in float64: pure and deterministic (no RNG).
 *
 * Evaluation against the target: ROC AUC and the best advantage TPR - FPR over
 * all thresholds (optimistic: the threshold is picked on the evaluation data),
 * and the advantage of the attack's own decision p(in) >= 1/2, chosen on shadow
 * data only (unbiased). Bound: any attack on an (eps, delta)-DP mechanism has
 * advantage <= (e^eps - 1 + 2 delta)/(e^eps + 1) (membership.ts
 * `maxAdvantageUnderDp`, Kairouz, Oh, Viswanath 2015; Yeom et al. 2018 give the
 * looser e^eps - 1).
 */
import { InvalidPrivacyParameterError } from './errors.ts'
import { membershipAuc, maxMembershipAdvantage, advantageAtThreshold } from './membership.ts'

/** Largest number of examples the attack model trains on or scores (float64 features of (classes + 1) each). */
export const MAX_ATTACK_EXAMPLES = 1 << 22
const EPS = 1e-12

/**
 * Attack features of n examples from their probability vectors (row-major n x classes)
 * and labels: (classes + 1) values per example, see the file comment.
 */
export function attackFeatures(probs: Float64Array | Float32Array, labels: Uint8Array, classes: number): Float64Array {
  if (!Number.isInteger(classes) || classes < 2 || classes > 1024) throw new InvalidPrivacyParameterError(`classes must be an integer in [2, 1024], got ${String(classes)}`)
  const n = labels.length
  if (n > MAX_ATTACK_EXAMPLES) throw new InvalidPrivacyParameterError(`at most ${MAX_ATTACK_EXAMPLES} examples, got ${n}`)
  if (probs.length !== n * classes) throw new InvalidPrivacyParameterError(`probabilities of length ${probs.length}, expected ${n} x ${classes}`)
  const d = classes + 1
  const out = new Float64Array(n * d)
  const row = new Float64Array(classes)
  for (let e = 0; e < n; e++) {
    for (let k = 0; k < classes; k++) {
      const p = probs[e * classes + k]!
      if (!(p >= 0 && p <= 1 + 1e-6)) throw new InvalidPrivacyParameterError(`probability ${String(p)} of example ${e} is not in [0, 1]`)
      row[k] = p
    }
    if (labels[e]! >= classes) throw new InvalidPrivacyParameterError(`label ${labels[e]} of example ${e} is not below ${classes}`)
    const y = labels[e]!
    const trueP = row[y]!
    row.sort()
    for (let k = 0; k < classes; k++) out[e * d + k] = Math.log(row[classes - 1 - k]! + EPS)
    out[e * d + classes] = Math.log(trueP + EPS)
  }
  return out
}

export interface AttackModel {
  dim: number
  mean: Float64Array
  std: Float64Array
  weights: Float64Array
  bias: number
}

export interface AttackTrainOptions {
  /** Gradient-descent steps (default 500). */
  steps?: number
  /** Step size (default 0.5). */
  lr?: number
  /** L2 penalty on the weights (default 1e-3). */
  l2?: number
}

function checkFeatures(name: string, f: Float64Array, dim: number): number {
  if (!(f instanceof Float64Array)) throw new InvalidPrivacyParameterError(`${name} must be a Float64Array`)
  if (f.length % dim !== 0) throw new InvalidPrivacyParameterError(`${name} of length ${f.length} is not a multiple of ${dim}`)
  for (let i = 0; i < f.length; i++) if (!Number.isFinite(f[i]!)) throw new InvalidPrivacyParameterError(`${name}[${i}] is not finite`)
  return f.length / dim
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z))
}

/** Logistic regression "in" (members of the shadow models) vs "out" (their held-out data), classes balanced by weighting. */
export function trainAttackModel(inside: Float64Array, outside: Float64Array, dim: number, o: AttackTrainOptions = {}): AttackModel {
  if (!Number.isInteger(dim) || dim < 1 || dim > 4096) throw new InvalidPrivacyParameterError(`dim must be an integer in [1, 4096], got ${String(dim)}`)
  const nIn = checkFeatures('inside', inside, dim)
  const nOut = checkFeatures('outside', outside, dim)
  if (nIn === 0 || nOut === 0) throw new InvalidPrivacyParameterError('the attack model needs "in" and "out" examples')
  const steps = o.steps ?? 500
  const lr = o.lr ?? 0.5
  const l2 = o.l2 ?? 1e-3
  if (!Number.isInteger(steps) || steps < 1 || steps > 100_000) throw new InvalidPrivacyParameterError(`steps must be an integer in [1, 100000], got ${String(steps)}`)
  if (!(lr > 0 && lr < 100)) throw new InvalidPrivacyParameterError(`lr must be in (0, 100), got ${String(lr)}`)
  if (!(l2 >= 0 && l2 < 100)) throw new InvalidPrivacyParameterError(`l2 must be in [0, 100), got ${String(l2)}`)
  const n = nIn + nOut
  const mean = new Float64Array(dim)
  const std = new Float64Array(dim)
  const each = (f: (x: Float64Array, off: number, y: number) => void): void => {
    for (let e = 0; e < nIn; e++) f(inside, e * dim, 1)
    for (let e = 0; e < nOut; e++) f(outside, e * dim, 0)
  }
  each((x, off) => { for (let j = 0; j < dim; j++) mean[j] += x[off + j]! / n })
  each((x, off) => { for (let j = 0; j < dim; j++) { const t = x[off + j]! - mean[j]!; std[j] += t * t / n } })
  for (let j = 0; j < dim; j++) std[j] = std[j]! > 1e-24 ? Math.sqrt(std[j]!) : 1
  const w = new Float64Array(dim)
  let b = 0
  const g = new Float64Array(dim)
  const z = new Float64Array(dim)
  // Balanced classes: each side carries half the loss.
  const wIn = 0.5 / nIn
  const wOut = 0.5 / nOut
  for (let s = 0; s < steps; s++) {
    g.fill(0)
    let gb = 0
    each((x, off, y) => {
      let a = b
      for (let j = 0; j < dim; j++) { z[j] = (x[off + j]! - mean[j]!) / std[j]!; a += w[j]! * z[j]! }
      const r = (sigmoid(a) - y) * (y === 1 ? wIn : wOut)
      for (let j = 0; j < dim; j++) g[j] += r * z[j]!
      gb += r
    })
    for (let j = 0; j < dim; j++) w[j] -= lr * (g[j]! + l2 * w[j]!)
    b -= lr * gb
  }
  return { dim, mean, std, weights: w, bias: b }
}

/** p(member) of each example under the attack model. */
export function attackScores(m: AttackModel, features: Float64Array): Float64Array {
  const n = checkFeatures('features', features, m.dim)
  const out = new Float64Array(n)
  for (let e = 0; e < n; e++) {
    let a = m.bias
    for (let j = 0; j < m.dim; j++) a += m.weights[j]! * (features[e * m.dim + j]! - m.mean[j]!) / m.std[j]!
    out[e] = sigmoid(a)
  }
  return out
}

export interface ShadowReport {
  auc: number
  /** Best TPR - FPR over all thresholds on the evaluation data (optimistic). */
  bestAdvantage: number
  /** TPR - FPR of the attack's own decision p(member) >= 1/2 (threshold from shadow data only). */
  advantage: number
  members: number
  nonMembers: number
}

/** Score the target's members and non-members with the attack model; AUC and advantages. */
export function evaluateShadowAttack(m: AttackModel, memberFeatures: Float64Array, nonMemberFeatures: Float64Array): ShadowReport {
  const sm = attackScores(m, memberFeatures)
  const sn = attackScores(m, nonMemberFeatures)
  if (sm.length === 0 || sn.length === 0) throw new InvalidPrivacyParameterError('need at least one member and one non-member')
  // membership.ts ranks "lower is member" (losses): pass -p(member).
  const lm = sm.map(x => -x)
  const ln = sn.map(x => -x)
  return {
    auc: membershipAuc(lm, ln),
    bestAdvantage: maxMembershipAdvantage(lm, ln).advantage,
    advantage: advantageAtThreshold(lm, ln, -0.5).advantage,
    members: sm.length,
    nonMembers: sn.length
  }
}
