/**
 * Byzantine contributor updates for the simulator, applied to the attacker's
 * update before the round machine clips it (so an attacker uses at most the
 * whole norm budget, as in DESIGN.md's reference simulation). The attacker is
 * omniscient: it sees this round's honest updates.
 * Used until B's src/gossip-fl/attacks lands; then `attackByName` delegates.
 *
 * - sign-flip: -scale * own honest update (Damaskinos et al. 2018 / Allen-Zhu 2020 style)
 * - gaussian: N(0, std^2) per coordinate (Blanchard et al., NeurIPS 2017)
 * - ipm: -eps * mean of honest updates (Xie, Koyejo, Gupta, "Fall of empires", UAI 2019)
 * - alie: mean - z * std coordinate-wise (Baruch, Baruch, Goldberg, "A little is enough", NeurIPS 2019)
 */
import { gaussian, type Rng } from '../../util/rng.ts'
import { InvalidParametersError } from '../../util/errors.ts'

export type AttackFn = (own: Float32Array, honest: readonly Float32Array[], rng: Rng) => Float32Array

export const ATTACKS = ['sign-flip', 'gaussian', 'ipm', 'alie'] as const
export type AttackName = (typeof ATTACKS)[number]

function mean(vs: readonly Float32Array[], d: number): Float64Array {
  const m = new Float64Array(d)
  for (const v of vs) for (let i = 0; i < d; i++) m[i] = m[i]! + v[i]!
  if (vs.length > 0) for (let i = 0; i < d; i++) m[i] = m[i]! / vs.length
  return m
}

export function attackByName(name: string): AttackFn {
  switch (name) {
    case 'sign-flip':
      return (own) => own.map(x => -4 * x)
    case 'gaussian':
      return (own, _h, rng) => {
        const out = new Float32Array(own.length)
        for (let i = 0; i < out.length; i++) out[i] = gaussian(rng) * 1
        return out
      }
    case 'ipm':
      return (own, honest) => {
        const m = mean(honest, own.length)
        return Float32Array.from(m, x => -4 * x)
      }
    case 'alie':
      return (own, honest) => {
        const d = own.length
        const m = mean(honest, d)
        const sd = new Float64Array(d)
        for (const v of honest) for (let i = 0; i < d; i++) sd[i] = sd[i]! + (v[i]! - m[i]!) ** 2
        const z = 1
        return Float32Array.from(m, (x, i) => x - z * Math.sqrt(sd[i]! / Math.max(1, honest.length)))
      }
    default:
      throw new InvalidParametersError(`unknown attack '${name}' (known: ${ATTACKS.join(', ')})`)
  }
}
