import assert from 'node:assert/strict'
import { conclusivelyNegative, ownProjections, persistentOutliers, resolveOutlierParams, DEFAULT_OUTLIER_PARAMS, type OutlierRound } from '../../src/reputation/outliers.ts'
import { buildPlan, type NormVerdicts } from '../../src/gossip-fl/round/plan.ts'
import { assignGroups } from '../../src/gossip-fl/committee.ts'
import { seededRng, gaussian } from '../../src/util/rng.ts'

const id = (i: number): string => i.toString(16).padStart(64, '0')
const seedOf = (r: number): Uint8Array => { const s = new Uint8Array(32); s[0] = r & 255; s[1] = r >> 8; return s }

/**
 * Rounds of random regrouping (assignGroups, g = 2): each contributor has its own mean
 * projection on the aggregate (`own`), plus Gaussian noise of std `noise` per round; a
 * group's projection is its members' mean. The evidence the round plan produces.
 */
function simulateRounds(own: Map<string, number>, rounds: number, seed: string, noise = 0.3, exclude = true): { history: OutlierRound[], excludedAt: Map<string, number> } {
  const rng = seededRng(seed)
  const history: OutlierRound[] = []
  const excludedAt = new Map<string, number>()
  const peers = [...own.keys()]
  for (let r = 0; r < rounds; r++) {
    const out = new Set(exclude ? persistentOutliers(history) : [])
    for (const p of out) if (!excludedAt.has(p)) excludedAt.set(p, r)
    const groups = assignGroups(seedOf(r), peers.filter(p => !out.has(p)), 2)
    const projections = groups.map(g => g.reduce((a, p) => a + own.get(p)! + noise * gaussian(rng), 0) / g.length)
    history.push({ groups, projections })
  }
  return { history, excludedAt }
}

describe('reputation/outliers: exclusion of contributors whose own projection on the aggregate is conclusively negative', () => {
  it('conclusivelyNegative: the one-sided t test, hand-computed', () => {
    // mean -1, sample variance 1 (values -2, -1, 0): t = -1 * sqrt(3) / 1 = -1.73
    assert.equal(conclusivelyNegative([-2, -1, 0], 1.7), true)
    assert.equal(conclusivelyNegative([-2, -1, 0], 1.8), false)
    assert.equal(conclusivelyNegative([1, 2, 3], 0), false)
    assert.equal(conclusivelyNegative([-1, -1], 100), true) // zero variance, negative mean
    assert.equal(conclusivelyNegative([-1], 0), false) // one observation decides nothing
  })

  it('own projection estimate: g p_j - (g - 1) M recovers a member\'s value when its partners sit at the median', () => {
    const a = id(1); const b = id(2); const c = id(3); const d = id(4); const e = id(5); const f = id(6)
    // groups [a,b] [c,d] [e,f] with projections 0.5, 0.5, -0.25: median 0.5; e -> 2(-0.25) - 0.5 = -1
    const xs = ownProjections([{ groups: [[a, b], [c, d], [e, f]], projections: [0.5, 0.5, -0.25] }], 20)
    assert.deepEqual(xs.get(e), [-1])
    assert.deepEqual(xs.get(a), [0.5])
  })

  it('excludes IPM-like (-1) and sign-flip-like (-0.6) contributors (noise 0.3 per member and round), no honest one, including weakly aligned non-IID peers (25 peers, g = 2, 40 rounds, 10 seeds)', () => {
    for (let s = 0; s < 10; s++) {
      const own = new Map<string, number>()
      for (let i = 0; i < 20; i++) own.set(id(i + 1), i < 4 ? 0.02 : 0.3) // 4 honest peers barely aligned (non-IID)
      for (let i = 20; i < 23; i++) own.set(id(i + 1), -1)
      for (let i = 23; i < 25; i++) own.set(id(i + 1), -0.6)
      const { excludedAt } = simulateRounds(own, 40, `outliers/${s}`)
      assert.deepEqual([...excludedAt.keys()].sort(), Array.from({ length: 5 }, (_, i) => id(i + 21)).sort(), `seed ${s}`)
      // the IPM-like ones within one window (10 observations is the first possible verdict)
      for (let i = 20; i < 23; i++) {
        const r = excludedAt.get(id(i + 1))!
        assert.ok(r >= DEFAULT_OUTLIER_PARAMS.minObservations && r <= DEFAULT_OUTLIER_PARAMS.window, `round ${r}`)
      }
    }
  })

  it('honest peers at exactly zero alignment (the worst honest case): false exclusions stay rare (20 seeds x 25 peers x 60 rounds)', () => {
    let falseExclusions = 0
    for (let s = 0; s < 20; s++) {
      const own = new Map(Array.from({ length: 25 }, (_, i) => [id(i + 1), 0] as [string, number]))
      falseExclusions += simulateRounds(own, 60, `outliers/zero/${s}`).excludedAt.size
    }
    // about 1e-3 per evaluation, 50 evaluations per peer with overlapping windows
    assert.ok(falseExclusions <= 5, `${falseExclusions} false exclusions in 500 peer-runs`)
  })

  it('exclusion is sticky: an excluded peer keeps its evidence while it is not planned', () => {
    const a = id(1)
    const b = id(2)
    const c = id(3)
    const h: OutlierRound[] = []
    for (let r = 0; r < 10; r++) h.push({ groups: [[a], [b], [c]], projections: [-1 - (r % 2) * 0.1, 1, 1] })
    assert.deepEqual(persistentOutliers(h), [a])
    for (let r = 0; r < 50; r++) h.push({ groups: [[b], [c]], projections: [1, 1 + (r % 2) * 0.1] })
    assert.deepEqual(persistentOutliers(h), [a])
    assert.equal(ownProjections(h, 20).get(b)!.length, 20)
  })

  it('buildPlan refuses excluded contributors with reason "excluded" and is unchanged by an empty set', () => {
    const committee = [id(101), id(102), id(103)]
    const admitted = Array.from({ length: 9 }, (_, i) => id(i + 1))
    const v: NormVerdicts = { admitted, refused: [], blamed: [], holders: new Map(admitted.map(c => [c, [...committee]])), dealers: [...committee] }
    const seed = seedOf(7)
    assert.deepEqual(buildPlan(v, committee, seed, 2, 2, { exclude: new Set() }), buildPlan(v, committee, seed, 2, 2))
    for (const recut of [false, true]) {
      const plan = buildPlan(v, committee, seed, 2, 2, { recut, exclude: new Set([id(3), id(5)]) })
      const planned = plan.groups.flatMap(x => x.members)
      assert.equal(planned.length, 7)
      assert.ok(!planned.includes(id(3)) && !planned.includes(id(5)))
      assert.deepEqual(plan.refused, [{ peer: id(3), reason: 'excluded' }, { peer: id(5), reason: 'excluded' }])
      assert.deepEqual(plan.groups.map(x => x.members), assignGroups(seed, admitted.filter(c => c !== id(3) && c !== id(5)), 2))
    }
  })

  it('hostile inputs: typed errors, never a hang', () => {
    const bad = (f: () => unknown, name = 'InvalidParametersError'): void => assert.throws(f, (e: Error) => e.name === name)
    bad(() => resolveOutlierParams({ window: 1 }))
    bad(() => resolveOutlierParams({ window: 1e9 }))
    bad(() => resolveOutlierParams({ tCritical: Number.NaN }))
    bad(() => resolveOutlierParams({ tCritical: -1 }))
    bad(() => resolveOutlierParams({ minObservations: 30 }))
    bad(() => resolveOutlierParams({ nope: 1 } as never))
    bad(() => resolveOutlierParams([] as never))
    bad(() => persistentOutliers([{ groups: [[id(1)]], projections: [] }]))
    bad(() => persistentOutliers([{ groups: [[id(1)]], projections: [Number.NaN] }]))
    bad(() => persistentOutliers([{ groups: [[]], projections: [1] }]))
    bad(() => persistentOutliers([null as never]))
    bad(() => persistentOutliers('x' as never))
    bad(() => persistentOutliers([{ groups: [['ZZ']], projections: [0] }]), 'InvalidPeerIdError')
  })
})
