/**
 * Peer-level accounting and the per-peer privacy ledger.
 * The closed forms checked here follow from the formulas in
 * src/model/privacy/user-level.ts (derivations in docs/architecture/privacy.md).
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  perMemberNoiseStd, groupSumNoiseMultiplier, peerEpsilonPoisson, peerEpsilonKnownRounds
} from '../../src/model/privacy/user-level.ts'
import { PrivacyLedger, ledgerFromRounds, type Mechanism } from '../../src/model/privacy/ledger.ts'
import { computeRdp, DEFAULT_RDP_ORDERS } from '../../src/model/privacy/rdp.ts'
import { epsilonFromRdp } from '../../src/model/privacy/conversion.ts'
import { seededRng, gaussian } from '../../src/util/rng.ts'

const isParamError = (e: Error): boolean => e.name === 'InvalidPrivacyParameterError'
const isLedgerError = (e: Error): boolean => e.name === 'PrivacyLedgerError'

describe('model/privacy/user-level: noise split and peer epsilon', function () {
  this.timeout(60000)

  it('perMemberNoiseStd = z C / sqrt(minHonest)', () => {
    assert.equal(perMemberNoiseStd(1, 1.1, 5, 1), 1.1)
    assert.equal(perMemberNoiseStd(2, 1, 4, 4), 1)
    assert.ok(Math.abs(perMemberNoiseStd(0.5, 2, 3, 2) - 2 * 0.5 / Math.SQRT2) < 1e-15)
  })

  it('simulated: a group sum from exactly minHonest noisers has std z C; from all g, z C sqrt(g/h)', () => {
    const C = 0.7; const z = 1.3; const g = 5; const h = 3
    const s = perMemberNoiseStd(C, z, g, h)
    const rng = seededRng('privacy-noise-split')
    const n = 40000
    for (const noisers of [h, g]) {
      let s2 = 0
      for (let t = 0; t < n; t++) {
        let sum = 0
        for (let k = 0; k < noisers; k++) sum += s * gaussian(rng)
        s2 += sum * sum
      }
      const std = Math.sqrt(s2 / n)
      const expected = z * C * Math.sqrt(noisers / h)
      // Sample std of 40,000 normals: relative standard error 1/sqrt(2n) ~ 0.35%; allow 4 sigma.
      assert.ok(Math.abs(std / expected - 1) < 0.015, `noisers ${noisers}: std ${std} expected ${expected}`)
      assert.ok(Math.abs(groupSumNoiseMultiplier(z, noisers, h) - expected / C) < 1e-12)
    }
  })

  it('known rounds: k public rounds are a k-fold Gaussian, eps = min over orders of k a/(2 z^2) + log((a-1)/a) - (log delta + log a)/(a-1)', () => {
    const z = 1.5; const k = 40; const delta = 1e-5
    const got = peerEpsilonKnownRounds({ roundsTaken: k, noiseMultiplier: z, delta })
    let best = Infinity
    for (const a of DEFAULT_RDP_ORDERS) {
      const e = k * a / (2 * z * z) + Math.log((a - 1) / a) - (Math.log(delta) + Math.log(a)) / (a - 1)
      if (e < best) best = e
    }
    assert.ok(Math.abs(got.epsilon - best) < 1e-12 * best)
    assert.equal(peerEpsilonKnownRounds({ roundsTaken: 0, noiseMultiplier: z, delta }).epsilon, 0)
  })

  it('Poisson participation with q_user = 1 equals the known-rounds accounting; q_user < 1 is smaller', () => {
    const z = 1.2; const R = 100; const delta = 1e-5
    const all = peerEpsilonPoisson({ participation: 1, noiseMultiplier: z, rounds: R, delta })
    const known = peerEpsilonKnownRounds({ roundsTaken: R, noiseMultiplier: z, delta })
    assert.equal(all.epsilon, known.epsilon)
    assert.ok(peerEpsilonPoisson({ participation: 0.1, noiseMultiplier: z, rounds: R, delta }).epsilon < all.epsilon)
    assert.equal(peerEpsilonPoisson({ participation: 0, noiseMultiplier: z, rounds: R, delta }).epsilon, 0)
  })

  it('properties: peer epsilon decreases in z, increases in rounds and in q_user', () => {
    const zA = fc.double({ min: 0.6, max: 10, noNaN: true })
    const qA = fc.double({ min: 1e-3, max: 1, noNaN: true })
    const rA = fc.integer({ min: 1, max: 5000 })
    fc.assert(fc.property(zA, zA, qA, rA, (z1, z2, q, R) => {
      const [lo, hi] = z1 < z2 ? [z1, z2] : [z2, z1]
      const e = (z: number): number => peerEpsilonPoisson({ participation: q, noiseMultiplier: z, rounds: R, delta: 1e-5 }).epsilon
      assert.ok(e(hi) <= e(lo) * (1 + 1e-9) + 1e-12)
    }), { numRuns: 20 })
    fc.assert(fc.property(zA, qA, rA, rA, (z, q, r1, r2) => {
      const [lo, hi] = r1 < r2 ? [r1, r2] : [r2, r1]
      const e = (R: number): number => peerEpsilonPoisson({ participation: q, noiseMultiplier: z, rounds: R, delta: 1e-5 }).epsilon
      assert.ok(e(lo) <= e(hi) * (1 + 1e-9) + 1e-12)
    }), { numRuns: 20 })
    fc.assert(fc.property(zA, qA, qA, rA, (z, q1, q2, R) => {
      const [lo, hi] = q1 < q2 ? [q1, q2] : [q2, q1]
      const e = (q: number): number => peerEpsilonPoisson({ participation: q, noiseMultiplier: z, rounds: R, delta: 1e-5 }).epsilon
      assert.ok(e(lo) <= e(hi) * (1 + 1e-9) + 1e-12)
    }), { numRuns: 20 })
  })

  it('hostile inputs: typed errors', () => {
    const bad: Array<() => unknown> = [
      () => perMemberNoiseStd(0, 1, 3, 1), () => perMemberNoiseStd(-1, 1, 3, 1), () => perMemberNoiseStd(1, -1, 3, 1),
      () => perMemberNoiseStd(1, Number.NaN, 3, 1), () => perMemberNoiseStd(1, 1, 3, 0), () => perMemberNoiseStd(1, 1, 3, 4),
      () => perMemberNoiseStd(1, 1, 0, 0), () => perMemberNoiseStd(1, 1, 2.5, 1), () => perMemberNoiseStd(1, 1, 1e12, 1),
      () => groupSumNoiseMultiplier(1, -1, 1), () => groupSumNoiseMultiplier(1, 1, 0),
      () => peerEpsilonPoisson({ participation: 1.5, noiseMultiplier: 1, rounds: 10, delta: 1e-5 }),
      () => peerEpsilonPoisson({ participation: Number.NaN, noiseMultiplier: 1, rounds: 10, delta: 1e-5 }),
      () => peerEpsilonPoisson({ participation: 0.1, noiseMultiplier: 1, rounds: -1, delta: 1e-5 }),
      () => peerEpsilonPoisson({ participation: 0.1, noiseMultiplier: 1, rounds: 2.5, delta: 1e-5 }),
      () => peerEpsilonPoisson({ participation: 0.1, noiseMultiplier: 1, rounds: 10, delta: 1 }),
      () => peerEpsilonPoisson(undefined as unknown as Parameters<typeof peerEpsilonPoisson>[0]),
      () => peerEpsilonKnownRounds({ roundsTaken: 3, noiseMultiplier: 1, delta: 0 }),
      () => peerEpsilonKnownRounds({ roundsTaken: Infinity, noiseMultiplier: 1, delta: 1e-5 })
    ]
    for (const f of bad) assert.throws(f, isParamError, String(f))
  })
})

describe('model/privacy/ledger: per-peer privacy ledger', function () {
  this.timeout(60000)
  const update = (z: number): Mechanism => ({ kind: 'update', noiseMultiplier: z })

  it('composes rounds by adding RDP; spent() equals the closed-form Gaussian composition', () => {
    let l = PrivacyLedger.create({ unit: 'peer', delta: 1e-5, epsilonBudget: 10 })
    assert.equal(l.spent().epsilon, 0)
    for (const r of [3, 7, 8, 20]) l = l.record(r, update(1.5))
    const expected = epsilonFromRdp(DEFAULT_RDP_ORDERS, computeRdp(1, 1.5, 4, DEFAULT_RDP_ORDERS), 1e-5)
    assert.deepEqual(l.spent(), expected)
    assert.deepEqual(l.entries.map((e) => e.round), [3, 7, 8, 20])
    assert.equal(peerEpsilonKnownRounds({ roundsTaken: 4, noiseMultiplier: 1.5, delta: 1e-5 }).epsilon, l.spent().epsilon)
  })

  it('is a value: record returns a new ledger and leaves the old one unchanged', () => {
    const a = PrivacyLedger.create({ unit: 'peer', delta: 1e-5, epsilonBudget: 5 })
    const b = a.record(1, update(1))
    assert.equal(a.entries.length, 0)
    assert.equal(a.spent().epsilon, 0)
    assert.equal(b.entries.length, 1)
    const rdp = b.rdp(); rdp[0] = 1e9
    assert.notEqual(b.rdp()[0], 1e9)
    assert.ok(Object.isFrozen(b.entries))
  })

  it('ledgerFromRounds equals repeated record, in any order of rounds', () => {
    const cfg = { unit: 'record' as const, delta: 1e-6, epsilonBudget: 8 }
    const mech = (r: number): Mechanism => r % 2 === 0
      ? { kind: 'dp-sgd', sampling: 0.01, noiseMultiplier: 1.1, steps: 50 }
      : { kind: 'update', noiseMultiplier: 2 }
    const rounds = [5, 1, 2, 9, 4]
    const bulk = ledgerFromRounds(cfg, rounds, mech)
    let inc = PrivacyLedger.create(cfg)
    for (const r of [...rounds].reverse()) inc = inc.record(r, mech(r))
    const a = bulk.rdp(); const b = inc.rdp()
    for (let k = 0; k < a.length; k++) assert.ok(Math.abs(a[k]! - b[k]!) <= 1e-12 * Math.abs(a[k]!))
  })

  it('budget check: refuses the round that would cross the charter budget, and only that one', () => {
    const z = 1.0; const budget = 3; const delta = 1e-5
    let l = PrivacyLedger.create({ unit: 'peer', delta, epsilonBudget: budget })
    let round = 0
    while (l.canAfford(update(z))) {
      l = l.record(round++, update(z))
      assert.ok(round < 10000, 'bounded')
    }
    assert.ok(l.spent().epsilon <= budget)
    const c = l.check(update(z))
    assert.equal(c.exceeds, true)
    assert.ok(c.after.epsilon > budget)
    // Same answer from the closed form: round k is allowed iff eps(k) <= budget.
    const eps = (k: number): number => peerEpsilonKnownRounds({ roundsTaken: k, noiseMultiplier: z, delta }).epsilon
    assert.ok(eps(round) <= budget && eps(round + 1) > budget)
    assert.ok(l.remaining() >= 0)
  })

  it('a retried round that revealed a second sum is a second entry (round, attempt); the same (round, attempt) twice is refused', () => {
    const l = PrivacyLedger.create({ unit: 'peer', delta: 1e-5, epsilonBudget: Infinity })
      .record(7, update(1.2)).record(7, update(1.2), 1)
    assert.deepEqual(l.entries.map((e) => [e.round, e.attempt]), [[7, 0], [7, 1]])
    assert.deepEqual(Array.from(l.rdp()), Array.from(computeRdp(1, 1.2, 2, DEFAULT_RDP_ORDERS)))
    assert.throws(() => l.record(7, update(1.2), 1), isLedgerError)
    assert.throws(() => l.record(8, update(1.2), -1), isParamError)
    assert.throws(() => l.record(8, update(1.2), 0.5), isParamError)
  })

  it('record-level view of an update round uses sensitivity 2C (noise multiplier z/2)', () => {
    const peer = PrivacyLedger.create({ unit: 'peer', delta: 1e-5, epsilonBudget: Infinity }).record(0, update(2))
    const rec = PrivacyLedger.create({ unit: 'record', delta: 1e-5, epsilonBudget: Infinity }).record(0, update(2))
    assert.deepEqual(Array.from(rec.rdp()), Array.from(computeRdp(1, 1, 1, DEFAULT_RDP_ORDERS)))
    assert.ok(rec.spent().epsilon > peer.spent().epsilon)
  })

  it('secret participation: an update with sampling q composes the sampled Gaussian', () => {
    const l = PrivacyLedger.create({ unit: 'peer', delta: 1e-5, epsilonBudget: Infinity })
      .record(0, { kind: 'update', noiseMultiplier: 1.1, sampling: 0.05 })
    assert.deepEqual(Array.from(l.rdp()), Array.from(computeRdp(0.05, 1.1, 1, DEFAULT_RDP_ORDERS)))
  })

  it('hostile inputs: typed errors', () => {
    const l = PrivacyLedger.create({ unit: 'peer', delta: 1e-5, epsilonBudget: 1 }).record(4, update(1))
    const ledgerBad: Array<() => unknown> = [
      () => l.record(4, update(1)), // duplicate round
      () => l.record(5, { kind: 'dp-sgd', sampling: 0.1, noiseMultiplier: 1, steps: 10 }), // wrong unit
      () => l.record(5, { kind: 'magic' } as unknown as Mechanism),
      () => l.record(5, null as unknown as Mechanism),
      () => ledgerFromRounds({ unit: 'peer', delta: 1e-5, epsilonBudget: 1 }, [1, 1], () => update(1)),
      () => ledgerFromRounds({ unit: 'peer', delta: 1e-5, epsilonBudget: 1 }, 'x' as unknown as number[], () => update(1)),
      () => l.recordAll([null as unknown as { round: number, mechanism: Mechanism }])
    ]
    for (const f of ledgerBad) assert.throws(f, isLedgerError, String(f))
    const paramBad: Array<() => unknown> = [
      () => l.record(-1, update(1)), () => l.record(1.5, update(1)), () => l.record(Number.NaN, update(1)),
      () => l.record(5, update(-1)), () => l.record(5, update(Number.NaN)),
      () => l.record(5, { kind: 'update', noiseMultiplier: 1, sampling: 2 }),
      () => PrivacyLedger.create({ unit: 'peer', delta: 0, epsilonBudget: 1 }),
      () => PrivacyLedger.create({ unit: 'peer', delta: 1e-5, epsilonBudget: 0 }),
      () => PrivacyLedger.create({ unit: 'peer', delta: 1e-5, epsilonBudget: Number.NaN }),
      () => PrivacyLedger.create({ unit: 'group' as 'peer', delta: 1e-5, epsilonBudget: 1 }),
      () => PrivacyLedger.create({ unit: 'peer', delta: 1e-5, epsilonBudget: 1, orders: [1] }),
      () => PrivacyLedger.create({ unit: 'record', delta: 1e-5, epsilonBudget: 1 }).record(0, { kind: 'dp-sgd', sampling: 0.1, noiseMultiplier: 1, steps: -3 })
    ]
    for (const f of paramBad) assert.throws(f, isParamError, String(f))
    // The failed calls left the ledger as it was.
    assert.deepEqual(l.entries.map((e) => e.round), [4])
  })
})
