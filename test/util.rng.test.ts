import assert from 'node:assert/strict'
import { seededRng, cryptoRng, gaussian } from '../src/util/rng.ts'

describe('util/rng', () => {
  it('seeded streams are reproducible and seed-dependent', () => {
    const a = new Uint32Array(10000); const b = new Uint32Array(10000); const c = new Uint32Array(10000)
    seededRng(42).fillU32(a); seededRng(42).fillU32(b); seededRng(43).fillU32(c)
    assert.deepEqual(a, b)
    assert.notDeepEqual(a, c)
  })
  it('nextFloat is uniform on [0,1) (mean and variance)', () => {
    const r = seededRng('u'); let s = 0; let s2 = 0; const n = 200000
    for (let i = 0; i < n; i++) { const x = r.nextFloat(); assert.ok(x >= 0 && x < 1); s += x; s2 += x * x }
    const mean = s / n; const v = s2 / n - mean * mean
    assert.ok(Math.abs(mean - 0.5) < 0.005, `mean ${mean}`)
    assert.ok(Math.abs(v - 1 / 12) < 0.002, `var ${v}`)
  })
  it('gaussian has mean 0 and variance 1', () => {
    const r = cryptoRng(); let s = 0; let s2 = 0; const n = 200000
    for (let i = 0; i < n; i++) { const x = gaussian(r); s += x; s2 += x * x }
    assert.ok(Math.abs(s / n) < 0.02); assert.ok(Math.abs(s2 / n - 1) < 0.02)
  })
  it('consecutive fills continue the keystream rather than repeating it', () => {
    const r = seededRng(7); const a = new Uint32Array(100); const b = new Uint32Array(100)
    r.fillU32(a); r.fillU32(b)
    assert.notDeepEqual(a, b)
  })
})
