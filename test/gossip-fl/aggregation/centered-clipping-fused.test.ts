import assert from 'node:assert/strict'
import fc from 'fast-check'
import { centeredClipping } from '../../../src/gossip-fl/aggregation/centered-clipping.ts'

/**
 * The plain three-pass form of centered clipping (Karimireddy, He, Jaggi, ICML 2021), exactly as
 * src/gossip-fl/aggregation/centered-clipping.ts computed it before its passes were fused
 * (issue #4): kept here as the reference the fused kernel must equal bit for bit. Every peer
 * re-runs the rule and checks the model hash, so "close" is not enough.
 */
function referenceCenteredClipping (inputs: readonly Float32Array[], center: Float32Array | undefined, tau: number, iterations: number): Float32Array {
  const n = inputs.length
  const d = inputs[0]!.length
  const v = new Float64Array(d)
  if (center !== undefined) for (let j = 0; j < d; j++) v[j] = center[j]!
  const factor = new Float64Array(n)
  const acc = new Float64Array(d)
  for (let l = 0; l < iterations; l++) {
    for (let i = 0; i < n; i++) {
      const x = inputs[i]!
      let s = 0
      for (let j = 0; j < d; j++) {
        const t = x[j]! - v[j]!
        s += t * t
      }
      const norm = Math.sqrt(s)
      factor[i] = norm <= tau ? 1 : tau / norm
    }
    acc.fill(0)
    for (let i = 0; i < n; i++) {
      const x = inputs[i]!
      const c = factor[i]!
      for (let j = 0; j < d; j++) acc[j] += c * (x[j]! - v[j]!)
    }
    for (let j = 0; j < d; j++) v[j] += acc[j]! / n
  }
  const out = new Float32Array(d)
  for (let j = 0; j < d; j++) out[j] = v[j]!
  return out
}

const bits = (v: Float32Array): Uint32Array => new Uint32Array(v.buffer, v.byteOffset, v.length)

function assertSameBits (a: Float32Array, b: Float32Array): void {
  assert.equal(a.length, b.length)
  const x = bits(a)
  const y = bits(b)
  for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) assert.fail(`element ${j}: ${a[j]} (0x${x[j]!.toString(16)}) vs ${b[j]} (0x${y[j]!.toString(16)})`)
}

/** Floats with the awkward cases: signed zeros, subnormals, huge and tiny magnitudes. */
const floatEntry = fc.oneof(
  { weight: 6, arbitrary: fc.float({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -0, 1.4e-45, -1.4e-45, 3e38, -3e38, 1e-30) },
  { weight: 1, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true }) }
)

describe('aggregation/centeredClipping: fused passes equal the plain three-pass form bit for bit', () => {
  // Small and odd dimensions, and some past 1024.
  const dims = [1, 2, 7, 1023, 1024, 1025, 2049, 3000]

  it('property: random inputs, centers, tau and iterations (several dimensions)', () => {
    fc.assert(fc.property(
      fc.constantFrom(...dims), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }),
      fc.oneof(fc.double({ min: 1e-6, max: 1e3, noNaN: true }), fc.constant(Number.MIN_VALUE)),
      fc.boolean(), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.array(floatEntry, { minLength: 1, maxLength: 64 }),
      (d, n, iterations, tau, withCenter, seed, pool) => {
        // Inputs from a fast-check pool, spread over d coordinates by a seeded walk (shrinks well, covers every block).
        let k = seed
        const next = (): number => { k = (k * 1103515245 + 12345) >>> 0; return pool[k % pool.length]! }
        const inputs = Array.from({ length: n }, () => Float32Array.from({ length: d }, next))
        const center = withCenter ? Float32Array.from({ length: d }, next) : undefined
        const state = center === undefined ? undefined : { rule: 'centered-clipping' as const, center }
        // Inputs of +-3e38 make float64 sums overflow to Infinity: the plain form's NaN/Infinity then must match too.
        const got = centeredClipping(inputs, state, { tau, iterations })
        const want = referenceCenteredClipping(inputs, center, tau, iterations)
        assertSameBits(got.aggregate, want)
        assert.equal(got.state.rule, 'centered-clipping')
        assertSameBits(got.state.rule === 'centered-clipping' ? got.state.center : new Float32Array(0), want)
        assert.notEqual(got.state.rule === 'centered-clipping' ? got.state.center.buffer : undefined, got.aggregate.buffer)
      }), { numRuns: 300 })
  })

  it('the benchmark\'s shape (MLP, d = 101,770, 5 group means, 3 iterations) and signed zeros', () => {
    let k = 7
    const rnd = (): number => { k = (k * 1103515245 + 12345) >>> 0; return (k / 2 ** 32 - 0.5) * 0.02 }
    const d = 101_770
    const inputs = Array.from({ length: 5 }, () => Float32Array.from({ length: d }, rnd))
    const center = Float32Array.from({ length: d }, rnd)
    for (const tau of [0.01, 0.3, 100]) {
      assertSameBits(centeredClipping(inputs, { rule: 'centered-clipping', center }, { tau, iterations: 3 }).aggregate, referenceCenteredClipping(inputs, center, tau, 3))
    }
    // Signed zeros in inputs and center.
    const z = [new Float32Array(3), Float32Array.from([-0, 0, -0])]
    const negCenter = Float32Array.from([-0, -0, 0])
    assertSameBits(centeredClipping(z, { rule: 'centered-clipping', center: negCenter }, { tau: 1, iterations: 2 }).aggregate, referenceCenteredClipping(z, negCenter, 1, 2))
    assertSameBits(centeredClipping(z, undefined, { tau: 1, iterations: 1 }).aggregate, referenceCenteredClipping(z, undefined, 1, 1))
  })

  it('hostile inputs still give typed errors (checks run before the fused kernel)', () => {
    const ok = Float32Array.from([1, 2, 3])
    assert.throws(() => centeredClipping([ok, Float32Array.from([1, NaN, 3])]), (e: Error) => e.name === 'AggregationInputError')
    assert.throws(() => centeredClipping([ok, new Float32Array(2)]), (e: Error) => e.name === 'AggregationInputError')
    assert.throws(() => centeredClipping([]), (e: Error) => e.name === 'AggregationInputError')
    assert.throws(() => centeredClipping([ok], { rule: 'centered-clipping', center: new Float32Array(2) }), (e: Error) => e.name.length > 0)
    assert.throws(() => centeredClipping([ok], undefined, { tau: 0 }), (e: Error) => e.name === 'InvalidParametersError')
    assert.throws(() => centeredClipping([ok], undefined, { iterations: 0 }), (e: Error) => e.name === 'InvalidParametersError')
  })
})
