/**
 * Experiment matrices (issue #5). Each is a list of configs that differ in the
 * defence and the attack only; everything else comes from `base`.
 *
 * robustness: MNIST, 25 peers, 5 Byzantine, Dirichlet 0.5 (DESIGN.md's reference
 * simulation), every attack against mean / coordinate-wise median / trimmed mean
 * / Multi-Krum / centered clipping with worker momentum over group sums with
 * g in {1, 2, 3} and the norm check on; plus the undefended mean (no norm check)
 * and the norm check alone (mean, g = 1).
 */
import { InvalidParametersError } from '../../util/errors.ts'
import { UPDATE_ATTACKS, type ExperimentConfig } from './config.ts'

export const ROBUST_RULES = ['mean', 'coordinate-median', 'trimmed-mean', 'multi-krum', 'centered-clipping'] as const
export const ROBUSTNESS_ATTACKS: readonly string[] = ['none', ...UPDATE_ATTACKS, 'label-flip']

/**
 * Rule parameters for G group means of which up to f are spoiled (f = the
 * Byzantine count, at most G): trimmed mean trims f per side (capped so
 * something remains), Multi-Krum assumes f (capped at (G-3)/2), centered
 * clipping uses tau = C/4 (a group mean of honest updates lies within about C/2
 * of the momentum centre; a full-budget attack lies about C away, so it is cut).
 */
export function ruleParamsFor(rule: string, peers: number, g: number, byzantine: number, clip: number): Record<string, unknown> {
  const G = Math.max(1, Math.floor(peers / g))
  const f = Math.min(byzantine, G)
  switch (rule) {
    case 'trimmed-mean': return { trimCount: Math.max(0, Math.min(f, Math.floor((G - 1) / 2))) }
    case 'multi-krum': return { f: Math.max(0, Math.min(f, Math.floor((G - 3) / 2))) }
    case 'centered-clipping': return { tau: clip / 4 }
    default: return {}
  }
}

export interface MatrixOptions {
  base?: Partial<ExperimentConfig>
  attacks?: readonly string[]
  rules?: readonly string[]
  groups?: readonly number[]
}

export function robustnessMatrix(o: MatrixOptions = {}): Array<Partial<ExperimentConfig>> {
  const base: Partial<ExperimentConfig> = { dataset: 'mnist', peers: 25, byzantine: 5, partition: 'dirichlet:0.5', model: 'mlp', clip: 0.4, ...o.base }
  const peers = base.peers ?? 25
  const clip = base.clip ?? 0.4
  const f = base.byzantine ?? 5
  const attacks = o.attacks ?? ROBUSTNESS_ATTACKS
  // 'undefended' in an explicit rules list asks for the undefended row; the default list has it.
  const withUndefended = o.rules === undefined || o.rules.includes('undefended')
  const rules = (o.rules ?? ROBUST_RULES).filter(r => r !== 'undefended')
  const groups = o.groups ?? [1, 2, 3]
  const out: Array<Partial<ExperimentConfig>> = []
  for (const attack of attacks) {
    const byz = attack === 'none' ? 0 : base.byzantine
    const k = base.undefendedBudget ?? 0
    if (withUndefended) out.push({ ...base, attack, byzantine: byz, rule: 'mean', group: 1, normCheck: false, label: `undefended mean${k > 0 ? ` (budget ${k}C)` : ''} | ${attack}` })
    for (const g of groups) {
      for (const rule of rules) {
        const label = rule === 'mean' && g === 1 ? `norm check only | ${attack}` : `${rule} g=${g} | ${attack}`
        out.push({ ...base, attack, byzantine: byz, rule, ruleParams: ruleParamsFor(rule, peers, g, f, clip), group: g, normCheck: true, label })
      }
    }
  }
  return out
}

/**
 * privacy: accuracy against per-peer epsilon (delta 1e-5) on MNIST, 25 peers,
 * no attack, centered clipping over groups of 2: update-level Gaussian noise of
 * each group sum (z in NOISE_LEVELS) and record-level DP-SGD per peer (per-example
 * clip 1, z in DP_SGD_LEVELS), each with the loss-threshold membership attack.
 */
export const NOISE_LEVELS = [0, 0.5, 1, 2] as const
export const DP_SGD_LEVELS = [0.8, 1.1, 1.5] as const

export function privacyMatrix(o: MatrixOptions = {}): Array<Partial<ExperimentConfig>> {
  const base: Partial<ExperimentConfig> = { dataset: 'mnist', peers: 25, byzantine: 0, attack: 'none', partition: 'dirichlet:0.5', model: 'mlp', clip: 0.4, rule: 'centered-clipping', group: 2, membership: 1000, ...o.base }
  const clip = base.clip ?? 0.4
  const out: Array<Partial<ExperimentConfig>> = []
  for (const z of NOISE_LEVELS) out.push({ ...base, noise: z, ruleParams: { tau: clip / 4 }, label: `update-level z=${z}` })
  for (const z of DP_SGD_LEVELS) out.push({ ...base, noise: 0, dpSgd: { clip: 1, noiseMultiplier: z }, ruleParams: { tau: clip / 4 }, label: `DP-SGD z=${z}` })
  return out
}

export function matrixByName(name: string, o: MatrixOptions = {}): Array<Partial<ExperimentConfig>> {
  if (name === 'robustness') return robustnessMatrix(o)
  if (name === 'privacy') return privacyMatrix(o)
  throw new InvalidParametersError(`unknown matrix '${name}' (expected robustness or privacy)`)
}

/** Every n-th config starting at i: `--shard i/n` splits a matrix over processes. */
export function shardOf<T>(items: readonly T[], shard: { index: number, count: number }): T[] {
  return items.filter((_, k) => k % shard.count === shard.index)
}
