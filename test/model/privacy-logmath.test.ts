/**
 * Log-space arithmetic and log erfc.
 *
 * Reference values of log(erfc(x)) were computed with mpmath 1.3.0 at 40 decimal
 * digits: `mpmath.mp.dps = 40; mpmath.log(mpmath.erfc(x))`, printed to 20 digits.
 * erfc(1) = 0.15729920705028513066 is also in Abramowitz & Stegun, Table 7.1.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { logAdd, logSub, logSumExp, logErfc, erfc } from '../../src/model/privacy/logmath.ts'

const MPMATH_LOG_ERFC: Array<[number, number]> = [
  [-5, 0.69314718055917657952],
  [-1, 0.61123231767807049464],
  [-1e-8, 1.1283791607293148841e-8],
  [1e-8, -1.1283791734617103315e-8],
  [0.3, -0.3984300514400852726],
  [1, -1.8496055099332482486],
  [1.9999, -5.3644994577735301345],
  [2, -5.3649412646166375745],
  [2.5, -7.8068152727272643589],
  [5, -27.200889545537434422],
  [10, -102.87988902484488857],
  [26, -679.83119976319423026],
  [30, -903.97411711064387808],
  [100, -10005.177585122664333],
  [1e4, -100000009.7827053199],
  [1e6, -1000000000014.3878755]
]

describe('model/privacy/logmath', () => {
  it('logErfc matches mpmath to 1e-13 relative, including where erfc underflows', () => {
    for (const [x, ref] of MPMATH_LOG_ERFC) {
      const got = logErfc(x)
      assert.ok(Math.abs(got - ref) <= 1e-13 * Math.abs(ref), `x=${x}: ${got} vs ${ref}`)
    }
    assert.ok(logErfc(0) === 0)
    assert.equal(logErfc(Infinity), -Infinity)
    assert.equal(logErfc(-Infinity), Math.LN2)
    assert.ok(Number.isNaN(logErfc(Number.NaN)))
  })

  it('erfc(1) = 0.15729920705028513066 (A&S Table 7.1) and erfc(-x) = 2 - erfc(x)', () => {
    assert.ok(Math.abs(erfc(1) - 0.15729920705028513066) < 1e-15)
    fc.assert(fc.property(fc.double({ min: -6, max: 6, noNaN: true }), (x) => {
      assert.ok(Math.abs(erfc(-x) - (2 - erfc(x))) < 4e-16)
    }))
  })

  it('logErfc is continuous across the series/continued-fraction switch and strictly decreasing', () => {
    const a = logErfc(2 - 1e-12); const b = logErfc(2); const c = logErfc(2 + 1e-12)
    assert.ok(a > b && b > c)
    assert.ok(Math.abs(a - c) < 1e-10)
    fc.assert(fc.property(fc.double({ min: -50, max: 1e5, noNaN: true }), fc.double({ min: -50, max: 1e5, noNaN: true }), (x, y) => {
      if (x === y) return
      const [lo, hi] = x < y ? [x, y] : [y, x]
      if (hi - lo < 1e-9 * Math.max(1, Math.abs(hi))) return
      assert.ok(logErfc(lo) >= logErfc(hi))
    }))
  })

  it('logAdd / logSub / logSumExp agree with plain arithmetic where it does not overflow', () => {
    fc.assert(fc.property(fc.double({ min: -300, max: 300, noNaN: true }), fc.double({ min: -300, max: 300, noNaN: true }), (a, b) => {
      const s = logAdd(a, b)
      assert.ok(Math.abs(s - Math.log(Math.exp(a) + Math.exp(b))) <= 1e-13 * Math.max(1, Math.abs(s)))
      const [hi, lo] = a >= b ? [a, b] : [b, a]
      if (hi - lo > 1e-6) {
        const d = logSub(hi, lo)
        assert.ok(Math.abs(d - Math.log(Math.exp(hi) - Math.exp(lo))) <= 1e-9 * Math.max(1, Math.abs(d)))
      }
      assert.ok(Math.abs(logSumExp([a, b]) - s) <= 1e-13 * Math.max(1, Math.abs(s)))
    }))
    assert.equal(logAdd(-Infinity, 3), 3)
    assert.equal(logSub(3, -Infinity), 3)
    assert.equal(logSub(3, 3), -Infinity)
    assert.ok(Number.isNaN(logSub(2, 3)))
    assert.equal(logSumExp([]), -Infinity)
    // No overflow far beyond exp's range.
    assert.ok(Math.abs(logAdd(1e6, 1e6) - (1e6 + Math.LN2)) < 1e-9)
    assert.ok(Math.abs(logSumExp([5000, 5000, 5000]) - (5000 + Math.log(3))) < 1e-9)
  })
})
