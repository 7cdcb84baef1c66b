/**
 * Step 3 of DESIGN.md "A round" as pure functions of the public messages:
 * which members verifiably hold which shares, the masked norm check, and the
 * leader's plan (per group: admitted contributors and the members holding all of
 * their shares). Every member runs `normVerdicts` on the receipts it saw, so it
 * can refuse a plan that admits an update it has seen to be over the bound.
 */
import { assignGroups } from '../committee.ts'
import { comparePeerIds } from '../../reputation/peer-id.ts'
import { bytesEqual } from './util.ts'
import { decodeNormSquared, holderX } from './sharing.ts'
import type { ContributionMsg, PlanGroup, PlanMsg, ReceiptMsg, Refusal } from './messages.ts'

export interface NormInputs {
  committee: readonly string[]
  t: number
  receipts: ReadonlyMap<string, ReceiptMsg>
  contributions: ReadonlyMap<string, ContributionMsg>
  /** Largest admitted squared norm, in field units (params.ts fixedPointPlan). */
  normBoundField: number
}

export interface NormVerdicts {
  /** Contributors whose squared norm was reconstructed and is within the bound, in peer-id order. */
  admitted: string[]
  /** Contributors refused, with the reason ('over-norm', 'too-few-holders', 'norm-undecidable'). */
  refused: Refusal[]
  /** Members whose published norm point is off the polynomial ('wrong-norm-point'). */
  blamed: Refusal[]
  /** contributor -> members (committee order) holding a share that matches its commitment. */
  holders: Map<string, string[]>
  /** The dealer set whose masks the used points include. */
  dealers: string[]
}

/**
 * Norm check from the receipts: only points whose zero-masks come from the same
 * dealer set lie on one polynomial, so the largest class of receipts with an
 * identical dealer set of >= t members is used (>= t dealers: at least one is
 * honest while fewer than t collude, which makes the mask uniform). From >= 2t-1
 * points of that class, Berlekamp-Welch gives ||v||^2 and names wrong points.
 */
export function normVerdicts(inp: NormInputs): NormVerdicts {
  const { committee, t } = inp
  const index = new Map(committee.map((p, i) => [p, i]))
  const classes = new Map<string, string[]>()
  for (const [member, r] of inp.receipts) {
    if (r.dealers.length < t || !r.dealers.every(d => index.has(d))) continue
    const key = [...r.dealers].sort(comparePeerIds).join(',')
    const list = classes.get(key) ?? []
    list.push(member)
    classes.set(key, list)
  }
  let bestKey = ''
  let best: string[] = []
  for (const [key, members] of classes) {
    if (members.length > best.length || (members.length === best.length && key < bestKey)) { bestKey = key; best = members }
  }
  const inClass = new Set(best)
  const holders = new Map<string, string[]>()
  const points = new Map<string, Array<{ member: string, y: number }>>()
  for (const member of committee) {
    const r = inp.receipts.get(member)
    if (r === undefined) continue
    const j = index.get(member)!
    for (const item of r.held) {
      const c = inp.contributions.get(item.c)
      if (c === undefined || c.commitments.length !== committee.length || !bytesEqual(c.commitments[j]!, item.h)) continue
      const hs = holders.get(item.c) ?? []
      hs.push(member)
      holders.set(item.c, hs)
      if (inClass.has(member)) {
        const ps = points.get(item.c) ?? []
        ps.push({ member, y: item.y })
        points.set(item.c, ps)
      }
    }
  }
  const admitted: string[] = []
  const refused: Refusal[] = []
  const blamedSet = new Set<string>()
  const contributors = [...inp.contributions.keys()].sort(comparePeerIds)
  for (const c of contributors) {
    const ps = points.get(c) ?? []
    if (ps.length < 2 * t - 1) { refused.push({ peer: c, reason: 'too-few-holders' }); continue }
    let value: number
    try {
      const d = decodeNormSquared(ps.map(p => holderX(index.get(p.member)!)), ps.map(p => p.y), t)
      value = d.value
      for (const w of d.wrong) blamedSet.add(ps[w]!.member)
    } catch {
      refused.push({ peer: c, reason: 'norm-undecidable' })
      continue
    }
    if (value > inp.normBoundField) refused.push({ peer: c, reason: 'over-norm' })
    else admitted.push(c)
  }
  const blamed = [...blamedSet].sort(comparePeerIds).map(peer => ({ peer, reason: 'wrong-norm-point' }))
  return { admitted, refused, blamed, holders, dealers: bestKey === '' ? [] : bestKey.split(',') }
}

export interface Plan {
  groups: PlanGroup[]
  refused: Refusal[]
  blamed: Refusal[]
}

/**
 * The leader's plan: admitted contributors cut into balanced random groups of
 * >= g (F's assignGroups, seeded by the round seed s in every retry); per group the members
 * holding every member's share. A group whose common holders are fewer than t
 * loses its least-held contributors; a group that falls below g is dropped (its
 * sum would reveal too little aggregation).
 */
export function buildPlan(v: NormVerdicts, committee: readonly string[], seed: Uint8Array, g: number, t: number, opts: { recut?: boolean, exclude?: ReadonlySet<string> } = {}): Plan {
  if (opts.exclude !== undefined && opts.exclude.size > 0) return excludeThenPlan(v, committee, seed, g, t, opts.exclude, opts.recut === true)
  if (opts.recut === true) return buildRecutPlan(v, committee, seed, g, t)
  const refused = [...v.refused]
  const groups: PlanGroup[] = []
  const order = new Map(committee.map((p, i) => [p, i]))
  if (v.admitted.length >= g) {
    for (const members of assignGroups(seed, v.admitted, g)) {
      let ms = [...members]
      for (;;) {
        const common = committee.filter(m => ms.every(c => (v.holders.get(c) ?? []).includes(m)))
        if (common.length >= t || ms.length === 0) {
          if (ms.length >= g) groups.push({ members: ms, holders: common.sort((a, b) => order.get(a)! - order.get(b)!) })
          else for (const c of ms) refused.push({ peer: c, reason: 'group-too-small' })
          break
        }
        // drop the contributor held by the fewest members (ties: peer-id order)
        const worst = [...ms].sort((a, b) => ((v.holders.get(a)?.length ?? 0) - (v.holders.get(b)?.length ?? 0)) || comparePeerIds(a, b))[0]!
        refused.push({ peer: worst, reason: 'undeliverable' })
        ms = ms.filter(c => c !== worst)
      }
    }
  } else {
    for (const c of v.admitted) refused.push({ peer: c, reason: 'group-too-small' })
  }
  refused.sort((a, b) => comparePeerIds(a.peer, b.peer))
  return { groups, refused, blamed: v.blamed }
}

/**
 * Contributors excluded by reputation (src/reputation/outliers.ts: a conclusively negative
 * own projection on the aggregate, a deterministic function of earlier checkpoints' group
 * sums and plans) are refused with reason
 * 'excluded' before the groups are cut; the rest is planned as usual. Additive: an empty
 * set gives exactly the plan without it.
 */
function excludeThenPlan(v: NormVerdicts, committee: readonly string[], seed: Uint8Array, g: number, t: number, exclude: ReadonlySet<string>, recut: boolean): Plan {
  const out = v.admitted.filter(c => exclude.has(c))
  const kept: NormVerdicts = { ...v, admitted: v.admitted.filter(c => !exclude.has(c)) }
  const plan = buildPlan(kept, committee, seed, g, t, { recut })
  const refused = [...plan.refused, ...out.map(peer => ({ peer, reason: 'excluded' }))].sort((a, b) => comparePeerIds(a.peer, b.peer))
  return { ...plan, refused }
}

/**
 * The plan whose groups are exactly `assignGroups(seed, planned, g)` of the
 * contributors it keeps (what E's ledger checks for a plan entry): cut the
 * admitted contributors; in each group whose common holders are fewer than t,
 * drop the contributor held by the fewest members ('undeliverable'); re-cut the
 * remaining ones; repeat until every group has t common holders (each pass
 * drops at least one contributor, so at most |admitted| passes). Fewer than g
 * left: no group ('group-too-small').
 */
function buildRecutPlan(v: NormVerdicts, committee: readonly string[], seed: Uint8Array, g: number, t: number): Plan {
  const refused = [...v.refused]
  const order = new Map(committee.map((p, i) => [p, i]))
  const held = (c: string): string[] => v.holders.get(c) ?? []
  let admitted = [...v.admitted]
  let groups: PlanGroup[] = []
  for (let pass = 0; pass <= v.admitted.length; pass++) {
    if (admitted.length < g) {
      for (const c of admitted) refused.push({ peer: c, reason: 'group-too-small' })
      groups = []
      break
    }
    groups = []
    const drop: string[] = []
    for (const members of assignGroups(seed, admitted, g)) {
      const common = committee.filter(m => members.every(c => held(c).includes(m)))
      if (common.length >= t) groups.push({ members, holders: common.sort((a, b) => order.get(a)! - order.get(b)!) })
      else drop.push([...members].sort((a, b) => (held(a).length - held(b).length) || comparePeerIds(a, b))[0]!)
    }
    if (drop.length === 0) break
    for (const c of drop) refused.push({ peer: c, reason: 'undeliverable' })
    const gone = new Set(drop)
    admitted = admitted.filter(c => !gone.has(c))
  }
  refused.sort((a, b) => comparePeerIds(a.peer, b.peer))
  return { groups, refused, blamed: v.blamed }
}

/**
 * A member's check of the leader's plan against its own view. Returns the reason
 * the plan is provably wrong, or null. Differences explained by message timing
 * (a receipt the member has not seen) are not grounds to refuse.
 */
/**
 * `excluded`: contributors the ledger excludes from this round as persistent outliers
 * (src/reputation/outliers.ts, derived by every member from the same checkpoints): a plan
 * that groups one is refused ('groups-excluded').
 */
export function checkPlan(plan: Pick<PlanMsg, 'groups' | 'dealers'>, committee: readonly string[], eligible: ReadonlySet<string>, g: number, t: number, mine: NormVerdicts, groupSeed?: Uint8Array, excluded?: ReadonlySet<string>): string | null {
  const members = new Set(committee)
  const seen = new Set<string>()
  const overNorm = new Set(mine.refused.filter(r => r.reason === 'over-norm').map(r => r.peer))
  if (plan.groups.length === 0) return 'empty-plan'
  if (plan.dealers.length < t || !plan.dealers.every(d => members.has(d))) return 'bad-dealer-set'
  for (let i = 1; i < plan.dealers.length; i++) if (comparePeerIds(plan.dealers[i - 1]!, plan.dealers[i]!) >= 0) return 'bad-dealer-set'
  for (const grp of plan.groups) {
    if (grp.members.length < g) return 'group-below-g'
    if (grp.holders.length < t) return 'holders-below-t'
    for (const h of grp.holders) if (!members.has(h)) return 'holder-not-member'
    for (const c of grp.members) {
      if (!eligible.has(c)) return 'not-contributor'
      if (seen.has(c)) return 'contributor-twice'
      if (overNorm.has(c)) return 'admits-over-norm'
      if (excluded?.has(c) === true) return 'groups-excluded'
      seen.add(c)
    }
  }
  if (groupSeed !== undefined) {
    // With a schedule (the ledger's rule): the groups are assignGroups(seed of the retry, planned, g).
    const expected = assignGroups(groupSeed, [...seen], g)
    const same = expected.length === plan.groups.length && expected.every((e, j) => e.join(',') === plan.groups[j]!.members.join(','))
    if (!same) return 'groups-not-assigned'
  }
  return null
}
