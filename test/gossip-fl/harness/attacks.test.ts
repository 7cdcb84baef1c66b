/**
 * The attacks wired into `tessera sim` this session, CI-sized (softmax, 3,000
 * MNIST training images, 8 peers): scaled model replacement with a backdoor
 * (backdoor accuracy reported beside test accuracy), free riding, the censoring
 * leader (audit charges it, reputation falls), and shadow-model membership
 * inference with the DP bound beside it.
 */
import assert from 'node:assert/strict'
import { runExperiment, type ExperimentData } from '../../../src/gossip-fl/harness/experiment.ts'
import { resolveExperiment, ALL_ATTACKS } from '../../../src/gossip-fl/harness/config.ts'
import { robustnessMatrix } from '../../../src/gossip-fl/harness/matrix.ts'
import { toAttackMetricsMarkdown } from '../../../src/gossip-fl/harness/output.ts'
import { poisonWithBackdoor, backdoorTestSet, stampTrigger, resolveTrigger } from '../../../src/gossip-fl/attacks/backdoor.ts'
import { loadHarnessData } from './mnist-data.ts'

const SMALL = { model: 'softmax' as const, peers: 8, trainExamples: 3000, testExamples: 1000, partition: 'dirichlet:1', localSteps: 5, lr: 0.1, momentum: 0.5, clip: 0.5, evalEvery: 5, seed: 'ci-attacks' }

describe('harness: backdoor, free riding, censoring leader, shadow MI', function () {
  this.timeout(180_000)
  let data: ExperimentData

  before(async () => {
    data = await loadHarnessData()
  })

  it('backdoor data: trigger in the bottom-right corner, copies relabelled to the target; typed errors', () => {
    const x = new Float32Array(2 * 16)
    stampTrigger(x, 1, [4, 4], resolveTrigger({ size: 2, target: 3 }))
    assert.deepEqual([...x.subarray(16)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1])
    assert.ok(x.subarray(0, 16).every(v => v === 0))
    const p = poisonWithBackdoor({ x, y: Uint8Array.from([5, 6]), shape: [4, 4] }, 1, resolveTrigger({ size: 2, target: 3 }), 's')
    assert.deepEqual([...p.y], [5, 6, 3, 3])
    const t = backdoorTestSet({ x, y: Uint8Array.from([3, 6]), shape: [4, 4] }, resolveTrigger({ size: 2, target: 3 }))
    assert.equal(t.y.length, 1) // the target class's own image is left out
    for (const bad of [() => resolveTrigger({ target: 10 }), () => resolveTrigger({ size: 0 }), () => stampTrigger(x, 5, [4, 4], resolveTrigger({ size: 2 })),
      () => stampTrigger(x, 0, [16], resolveTrigger({ size: 2 })), () => poisonWithBackdoor({ x, y: new Uint8Array(2), shape: [4, 4] }, 2, resolveTrigger({ size: 2 }), 's')]) {
      assert.throws(bad, (e: Error) => e.name === 'InvalidParametersError')
    }
  })

  it('scaled model replacement: the backdoor takes the undefended mean; backdoor accuracy is reported beside test accuracy', async () => {
    const common = { ...SMALL, rounds: 10, byzantine: 2, attack: 'model-replacement' }
    const clean = await runExperiment({ ...common, backdoorFraction: 0, rule: 'mean', group: 1, normCheck: false }, data)
    const attacked = await runExperiment({ ...common, rule: 'mean', group: 1, normCheck: false }, data)
    assert.ok(clean.backdoorAccuracy !== null && clean.backdoorAccuracy < 0.2, `clean ${clean.backdoorAccuracy}`)
    assert.ok(attacked.backdoorAccuracy !== null && attacked.backdoorAccuracy > 0.8, `attacked ${attacked.backdoorAccuracy}`)
    // Every evaluated round carries both metrics.
    for (const r of attacked.records.filter(x => x.accuracy !== null)) assert.ok(typeof r.backdoorAccuracy === 'number')
    assert.match(toAttackMetricsMarkdown([clean, attacked]), /model-replacement/)
  })

  it('free riding: the riders send the stale global update and the run still learns; reputation of riders and honest peers reported', async () => {
    const r = await runExperiment({ ...SMALL, rounds: 6, byzantine: 2, attack: 'free-riding' }, data)
    assert.ok(r.finalAccuracy > r.initialAccuracy + 0.2, `${r.initialAccuracy} -> ${r.finalAccuracy}`)
    assert.ok(r.reputation !== null && r.reputation.byzantine !== null && r.reputation.byzantine > 0 && r.reputation.byzantine < 1)
    const zero = await runExperiment({ ...SMALL, rounds: 6, byzantine: 2, attack: 'free-riding', attackParams: { mode: 'zero' } }, data)
    assert.notEqual(zero.finalModelHash, r.finalModelHash)
  })

  it('censoring leader: censored rounds are all charged by the audit, and the censors end with a lower reputation', async () => {
    const r = await runExperiment({ ...SMALL, rounds: 12, byzantine: 2, attack: 'censoring-leader', censorTargets: 3 }, data)
    const censored = r.records.filter(x => (x.censored ?? 0) > 0)
    assert.ok(censored.length > 0, 'a Byzantine peer led at least one round')
    for (const x of censored) { assert.equal(x.censored, 3); assert.equal(x.leaderCharged, true) }
    for (const x of r.records.filter(y => y.censored === 0)) assert.equal(x.leaderCharged, false)
    assert.equal(r.reputation!.censorsCharged, censored.length)
    assert.equal(r.reputation!.byzantineLedRounds, censored.length)
    assert.ok(r.reputation!.byzantine! < r.reputation!.honest, JSON.stringify(r.reputation))
    // Committees weighted by the audited reputation (E's rule): other committees, every censorship still charged.
    const w = await runExperiment({ ...SMALL, rounds: 12, byzantine: 2, attack: 'censoring-leader', censorTargets: 3, reputationCommittees: true }, data)
    assert.notEqual(w.finalModelHash, r.finalModelHash)
    assert.equal(w.reputation!.censorsCharged, w.reputation!.byzantineLedRounds)
    assert.equal(w.records.filter(x => x.leaderCharged === true).length, w.reputation!.censorsCharged)
  })

  it('silent leader (the former "censoring-leader", full engine): no plan, the round retries with a new committee', async () => {
    const r = await runExperiment({ ...SMALL, peers: 6, rounds: 1, evalEvery: 1, engine: 'full', committee: 5, threshold: 2, group: 2, attack: 'silent-leader', byzantine: 1 }, data)
    assert.ok(r.records[0]!.retries >= 1, 'retried')
    assert.ok(r.finalAccuracy > r.initialAccuracy)
  })

  it('shadow-model membership inference on the global and a local model, with and without DP, beside the DP bound', async () => {
    const common = { ...SMALL, peers: 4, committee: 3, rounds: 4, localSteps: 20, membership: 150, shadowModels: 2 }
    const plain = await runExperiment(common, data)
    const dp = await runExperiment({ ...common, dpSgd: { clip: 1, noiseMultiplier: 1.1 } }, data)
    for (const r of [plain, dp]) {
      const s = r.shadowMembership!
      for (const rep of [s.global, s.local]) {
        assert.ok(rep.auc >= 0 && rep.auc <= 1 && rep.members === 150 && rep.nonMembers === 150)
        assert.ok(rep.advantage >= -1 && rep.advantage <= 1 && rep.bestAdvantage >= 0)
      }
      assert.ok(s.perShadow > 0 && s.shadows === 2)
    }
    assert.equal(plain.shadowMembership!.dpBoundGlobal, null)
    const b = dp.shadowMembership!.dpBoundGlobal!
    assert.ok(b > 0 && b <= 1 && dp.shadowMembership!.dpBoundLocal === b)
  })

  it('configs: new attacks valid on the fast engine, in the robustness matrix; engine restrictions are typed errors', () => {
    for (const a of ['model-replacement', 'free-riding', 'censoring-leader', 'silent-leader']) assert.ok(ALL_ATTACKS.includes(a))
    const m = new Set(robustnessMatrix().map(c => c.attack))
    assert.ok(m.has('model-replacement') && m.has('free-riding'))
    for (const c of robustnessMatrix()) resolveExperiment(c)
    const bad: Array<Record<string, unknown>> = [
      { attack: 'censoring-leader', byzantine: 1, engine: 'full' }, { attack: 'silent-leader', byzantine: 1 }, { shadowModels: 2 },
      { backdoorFraction: 2 }, { backdoorTarget: 10 }, { attackParams: [] }, { censorTargets: 30 }, { engine: 'libp2p', attack: 'ipm', byzantine: 1 }, { engine: 'libp2p', peers: 65 }, { reputationCommittees: true, engine: 'full' }
    ]
    for (const b of bad) assert.throws(() => resolveExperiment(b), (e: Error) => e.name === 'InvalidParametersError', JSON.stringify(b))
  })
})
