import assert from 'node:assert/strict'
import fc from 'fast-check'
import { detLog } from '../../src/reputation/det-log.ts'

/** Distance in units in the last place between two finite doubles of the same sign. */
function ulps(a: number, b: number): number {
  const v = new DataView(new ArrayBuffer(16))
  v.setFloat64(0, a); v.setFloat64(8, b)
  const d = v.getBigInt64(0) - v.getBigInt64(8)
  return Number(d < 0n ? -d : d)
}

describe('reputation/det-log (fdlibm e_log.c port)', () => {
  it('special values follow IEEE 754 / fdlibm', () => {
    assert.equal(detLog(1), 0)
    assert.equal(detLog(0), -Infinity)
    assert.equal(detLog(-0), -Infinity)
    assert.ok(Number.isNaN(detLog(-1)))
    assert.ok(Number.isNaN(detLog(NaN)))
    assert.equal(detLog(Infinity), Infinity)
  })

  it('known values: ln 2, ln 10, ln e, ln 2^-1074 (correctly rounded references)', () => {
    assert.equal(detLog(2), 0.6931471805599453) // Math.LN2
    assert.equal(detLog(10), 2.302585092994046) // Math.LN10
    assert.equal(detLog(Math.E), 1)
    assert.equal(detLog(2 ** -1074), -744.4400719213812) // -1074 ln 2, subnormal path
    assert.equal(detLog(2 ** 1023), 709.0895657128241)
  })

  it('within 1 ulp of Math.log everywhere (and, on V8, which also uses fdlibm, identical)', () => {
    fc.assert(fc.property(fc.double({ min: 5e-324, max: Number.MAX_VALUE, noNaN: true }), x => {
      const a = detLog(x)
      const b = Math.log(x)
      assert.ok(ulps(a, b) <= 1, `x=${x}: ${a} vs ${b}`)
    }), { numRuns: 20000, seed: 3 })
  })

  it('on the committee-key domain (0,1) it agrees bit for bit with V8 Math.log on 100,000 points', () => {
    let same = 0
    for (let i = 0; i < 100000; i++) {
      const u = (i * 2654435761 % 4503599627370496 + 0.5) / 4503599627370496
      if (Object.is(detLog(u), Math.log(u))) same++
    }
    // V8 ports fdlibm's ieee754::log; a non-V8 engine may differ from its own Math.log,
    // which is exactly why Tessera does not call it.
    if (typeof process !== 'undefined' && process.versions.v8 !== undefined) assert.equal(same, 100000)
  })
})
