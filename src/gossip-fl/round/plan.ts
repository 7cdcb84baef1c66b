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
  /**
   * Decode over this dealer block only (an index into `dealerBlocks(committee, t)`): a
   * member checking the leader's plan uses the plan's block. Default: the leader's choice,
   * the block that admits the most contributors.
   */
  block?: number
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
  /** The dealer block whose masks the used points include, in peer-id order ([] if none). */
  dealers: string[]
  /** Its index in `dealerBlocks(committee, t)` (-1: no block; absent: built outside normVerdicts). */
  block?: number
  /** Members whose receipts carry points over each block (block index -> count): diagnostics. */
  blockHolders?: number[]
}

/**
 * The norm masks' dealer blocks (round.md "Norm check"): the committee, in committee
 * order, cut into floor(m / t) runs of t consecutive members, the last run taking the
 * remainder. A member publishes one masked norm point per block whose masks it holds
 * completely, so any member holding a SUPERSET of a block answers for that block and
 * the leader needs only >= 2t - 1 members holding one common block (not an identical
 * dealer set: at 40 peers masks reached members in different subsets and no class of
 * identical sets reached 2t - 1, issue #4).
 *
 * Why disjoint blocks of >= t and nothing else: (1) fewer than t members collude, so
 * every block has an honest dealer, whose uniform mask hides every coefficient of the
 * norm polynomial but its constant term; (2) a member's points over several dealer sets
 * must not combine into an unmasked point: with sets S_1..S_L and coefficients a_l,
 * sum a_l y_l = (sum a_l) P(x) + sum_d (sum_{l: d in S_l} a_l) Z_d(x), so P(x) leaks
 * iff some combination has sum a_l != 0 and zero weight on every honest dealer (e.g.
 * points over {h1}, {h2} and {h1, h2}: y_1 + y_2 - y_12 = P(x)). For disjoint blocks
 * each honest dealer's weight is its block's a_l, so zero weight on all of them forces
 * every a_l = 0. Points over the member's whole dealer set as well would break (2).
 */
export function dealerBlocks(committee: readonly string[], t: number): string[][] {
  const n = t >= 1 ? Math.floor(committee.length / t) : 0
  const out: string[][] = []
  for (let b = 0; b < n; b++) out.push(committee.slice(b * t, b === n - 1 ? committee.length : (b + 1) * t))
  return out
}

/** Indices of the blocks all of whose dealers are in `dealers` (increasing). */
export function blocksHeld(blocks: readonly (readonly string[])[], dealers: Iterable<string>): number[] {
  const have = new Set(dealers)
  const out: number[] = []
  blocks.forEach((bl, b) => { if (bl.every(d => have.has(d))) out.push(b) })
  return out
}

/**
 * Why a receipt's shape is wrong for this committee (a provable fault: receipts are
 * signed), or null: dealers must be members, and every held item must carry exactly
 * one point per block its dealer set covers.
 */
export function receiptShapeError(r: Pick<ReceiptMsg, 'dealers' | 'held'>, committee: readonly string[], t: number): string | null {
  const members = new Set(committee)
  if (!r.dealers.every(d => members.has(d))) return 'dealer-not-member'
  const n = blocksHeld(dealerBlocks(committee, t), r.dealers).length
  for (const it of r.held) if (it.y.length !== n) return 'points-per-block'
  return null
}

interface BlockVerdict { admitted: string[], refused: Refusal[], blamed: Refusal[], points: number }

function decideBlock(contributors: readonly string[], points: ReadonlyMap<string, Array<{ member: string, y: number }>>, index: ReadonlyMap<string, number>, t: number, bound: number): BlockVerdict {
  const admitted: string[] = []
  const refused: Refusal[] = []
  const blamedSet = new Set<string>()
  let total = 0
  for (const c of contributors) {
    const ps = points.get(c) ?? []
    total += ps.length
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
    if (value > bound) refused.push({ peer: c, reason: 'over-norm' })
    else admitted.push(c)
  }
  const blamed = [...blamedSet].sort(comparePeerIds).map(peer => ({ peer, reason: 'wrong-norm-point' }))
  return { admitted, refused, blamed, points: total }
}

/**
 * Norm check from the receipts. Points over one dealer block lie on one polynomial
 * (the block's masks are shares of zero: its constant term is ||v||^2); a member
 * holding a superset of the block has a point over it (`dealerBlocks`). Per block, each
 * contributor's points from the members holding its share and the block: from >= 2t-1
 * of them Berlekamp-Welch gives ||v||^2 and names wrong points. The leader uses the
 * block admitting the most contributors (ties: more points, so more members can answer
 * the zero check; then the lower index); `inp.block` forces one (a member checking a plan).
 */
export function normVerdicts(inp: NormInputs): NormVerdicts {
  const { committee, t } = inp
  const index = new Map(committee.map((p, i) => [p, i]))
  const blocks = dealerBlocks(committee, t)
  const holders = new Map<string, string[]>()
  // points[b]: contributor -> points over block b
  const points = blocks.map(() => new Map<string, Array<{ member: string, y: number }>>())
  const blockHolders = blocks.map(() => 0)
  for (const member of committee) {
    const r = inp.receipts.get(member)
    if (r === undefined) continue
    const j = index.get(member)!
    // A receipt of the wrong shape (the machine rejects it on arrival) contributes holdings, no points.
    const held = receiptShapeError(r, committee, t) === null ? blocksHeld(blocks, r.dealers) : []
    for (const b of held) blockHolders[b]!++
    for (const item of r.held) {
      const c = inp.contributions.get(item.c)
      if (c === undefined || c.commitments.length !== committee.length || !bytesEqual(c.commitments[j]!, item.h)) continue
      const hs = holders.get(item.c) ?? []
      hs.push(member)
      holders.set(item.c, hs)
      held.forEach((b, q) => {
        const ps = points[b]!.get(item.c) ?? []
        ps.push({ member, y: item.y[q]! })
        points[b]!.set(item.c, ps)
      })
    }
  }
  const contributors = [...inp.contributions.keys()].sort(comparePeerIds)
  const candidates = inp.block === undefined ? blocks.map((_, b) => b) : (Number.isInteger(inp.block) && inp.block >= 0 && inp.block < blocks.length ? [inp.block] : [])
  let best = -1
  let verdict: BlockVerdict = decideBlock(contributors, new Map(), index, t, inp.normBoundField)
  for (const b of candidates) {
    const v = decideBlock(contributors, points[b]!, index, t, inp.normBoundField)
    if (best < 0 || v.admitted.length > verdict.admitted.length || (v.admitted.length === verdict.admitted.length && v.points > verdict.points)) { best = b; verdict = v }
  }
  const dealers = best < 0 ? [] : [...blocks[best]!].sort(comparePeerIds)
  return { admitted: verdict.admitted, refused: verdict.refused, blamed: verdict.blamed, holders, dealers, block: best, blockHolders }
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

/** Index of the dealer block the plan's (peer-id sorted) dealer list names, or -1 (unknown, duplicated, unsorted or not a block). */
export function planBlock(dealers: readonly string[], committee: readonly string[], t: number): number {
  const key = dealers.join(',')
  return dealerBlocks(committee, t).findIndex(bl => [...bl].sort(comparePeerIds).join(',') === key)
}

/**
 * A member's check of the leader's plan against its own view. Returns the reason
 * the plan is provably wrong, or null. Differences explained by message timing
 * (a receipt the member has not seen) are not grounds to refuse.
 *
 * `mine`: this member's verdicts over the plan's block (normVerdicts with `block`).
 * `excluded`: contributors the ledger excludes from this round as persistent outliers
 * (src/reputation/outliers.ts, derived by every member from the same checkpoints): a plan
 * that groups one is refused ('groups-excluded').
 * `complete`: `mine` was computed from all m receipts; then a grouped contributor with
 * fewer than 2t - 1 points over the plan's block in my view had no verified norm in the
 * leader's either (more receipts only add points): 'admits-unverified'.
 */
export function checkPlan(plan: Pick<PlanMsg, 'groups' | 'dealers'>, committee: readonly string[], eligible: ReadonlySet<string>, g: number, t: number, mine: NormVerdicts, groupSeed?: Uint8Array, excluded?: ReadonlySet<string>, complete?: boolean): string | null {
  const members = new Set(committee)
  const seen = new Set<string>()
  const overNorm = new Set(mine.refused.filter(r => r.reason === 'over-norm').map(r => r.peer))
  const unverified = new Set(complete === true ? mine.refused.filter(r => r.reason === 'too-few-holders').map(r => r.peer) : [])
  if (plan.groups.length === 0) return 'empty-plan'
  // The dealer set must be one of the committee's dealer blocks (round.md "Norm check").
  if (planBlock(plan.dealers, committee, t) < 0) return 'bad-dealer-set'
  for (const grp of plan.groups) {
    if (grp.members.length < g) return 'group-below-g'
    if (grp.holders.length < t) return 'holders-below-t'
    for (const h of grp.holders) if (!members.has(h)) return 'holder-not-member'
    for (const c of grp.members) {
      if (!eligible.has(c)) return 'not-contributor'
      if (seen.has(c)) return 'contributor-twice'
      if (overNorm.has(c)) return 'admits-over-norm'
      if (unverified.has(c)) return 'admits-unverified'
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
