import assert from 'node:assert/strict'
import fc from 'fast-check'
import { seededRng } from '../../src/util/rng.ts'
import { TesseraError } from '../../src/util/errors.ts'
import { P, share, reconstruct, sumVectors, randomFieldElements, interpolate, onPolynomial, lagrangeWeightsAtZero, MAX_HOLDERS, type Share } from '../../src/secret-sharing/index.ts'

function pick<T>(xs: readonly T[], k: number, seed: number): T[] {
  // deterministic shuffle from the seed, then the first k
  const rng = seededRng(`pick${seed}`)
  const a = [...xs]
  for (let i = a.length - 1; i > 0; i--) { const j = rng.nextU32() % (i + 1); [a[i], a[j]] = [a[j]!, a[i]!] }
  return a.slice(0, k)
}

function sharesOf(ys: Uint32Array[]): Share[] {
  return ys.map((y, j) => ({ x: j + 1, y }))
}

/** Two-sample chi-square statistic over matching bins. */
function chiSquare2(a: number[], b: number[]): number {
  let s = 0
  for (let i = 0; i < a.length; i++) if (a[i]! + b[i]! > 0) s += (a[i]! - b[i]!) ** 2 / (a[i]! + b[i]!)
  return s
}

/** Two-sample Kolmogorov-Smirnov statistic D. */
function ks2(a: Float64Array, b: Float64Array): number {
  a.sort(); b.sort()
  let i = 0; let j = 0; let d = 0
  while (i < a.length && j < b.length) {
    if (a[i]! <= b[j]!) i++; else j++
    d = Math.max(d, Math.abs(i / a.length - j / b.length))
  }
  return d
}

describe('secret-sharing/shamir', () => {
  it('standard example (Wikipedia, "Shamir\'s secret sharing", worked example): f(x) = 1234 + 166x + 94x^2', () => {
    // Points (1,1494), (2,1942), (3,2578), (4,3402), (5,4414), (6,5614); any 3 give 1234.
    const pts: Share[] = [[1, 1494], [2, 1942], [3, 2578], [4, 3402], [5, 4414], [6, 5614]].map(([x, y]) => ({ x: x!, y: Uint32Array.of(y!) }))
    for (const [a, b, c] of [[0, 1, 2], [1, 3, 4], [5, 2, 0], [3, 4, 5]]) assert.equal(reconstruct([pts[a!]!, pts[b!]!, pts[c!]!], 3)[0], 1234)
    assert.deepEqual([...interpolate([2, 4, 5], [1942, 3402, 4414])], [1234, 166, 94])
  })

  it('any t (or more) of m shares reconstruct the secret, whatever the order; all m shares lie on one degree-(t-1) polynomial (property, every evaluation strategy)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 24 }), fc.integer({ min: 0, max: 200 }), fc.integer(), fc.integer({ min: 0, max: 1000 }),
      (m, n, seed, r) => {
        const t = 1 + (r % m)
        const k = t + (r % (m - t + 1))
        const secret = randomFieldElements(seededRng(`s${seed}`), new Uint32Array(n))
        const ys = share(secret, m, t, seededRng(seed))
        assert.equal(ys.length, m)
        const rec = reconstruct(pick(sharesOf(ys), k, seed), t)
        assert.deepEqual(rec, secret)
        // all m points of every coordinate lie on one polynomial of degree t - 1
        if (n > 0) for (const i of [0, n - 1]) assert.ok(onPolynomial(ys.map((_, j) => j + 1), ys.map((y) => y[i]!), t - 1))
      }), { numRuns: 300 })
  })

  it('large committees and thresholds take the Horner path and still reconstruct (m = 100, t = 70)', () => {
    const secret = randomFieldElements(seededRng('big'), new Uint32Array(2000))
    const ys = share(secret, 100, 70, seededRng('big-share'))
    assert.deepEqual(reconstruct(pick(sharesOf(ys), 70, 1), 70), secret)
    // and the degree is really t - 1: 69 shares plus a wrong guess do not give the secret
    const partial = pick(sharesOf(ys), 69, 2)
    const fake = { x: 101, y: new Uint32Array(2000) }
    assert.notDeepEqual(reconstruct([...partial, fake], 70), secret)
  })

  it('share vectors are not the secret and every holder gets a different one (t >= 2)', () => {
    const secret = new Uint32Array(1000).fill(7)
    const ys = share(secret, 5, 3, seededRng('distinct'))
    for (const y of ys) assert.notDeepEqual(y, secret)
    assert.notDeepEqual(ys[0], ys[1])
    for (const y of ys) for (const v of y) assert.ok(v < P)
  })

  it('shares of a sum equal the sum of shares (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 9 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 100 }), fc.integer(), (m, c, n, seed) => {
      const t = Math.max(1, Math.floor(m / 2))
      const rng = seededRng(seed)
      const secrets = Array.from({ length: c }, () => randomFieldElements(rng, new Uint32Array(n)))
      const dealt = secrets.map((s) => share(s, m, t, rng))
      // holder j adds up what it received from every contributor
      const perHolder = Array.from({ length: m }, (_, j) => sumVectors(dealt.map((d) => d[j]!)))
      assert.deepEqual(reconstruct(pick(sharesOf(perHolder), t, seed), t), sumVectors(secrets))
    }), { numRuns: 100 })
  })

  it('fewer than t shares reveal nothing measurable: same distribution for two secrets (chi-square and KS)', () => {
    const n = 40_000
    const m = 5; const t = 3
    const holders = [1, 3] // t - 1 = 2 shares
    const hist = (secretValue: number, tt: number, seed: string): { bins: number[], first: Float64Array } => {
      const ys = share(new Uint32Array(n).fill(secretValue), m, tt, seededRng(seed))
      const bins = new Array<number>(64).fill(0)
      const first = new Float64Array(n)
      for (let i = 0; i < n; i++) {
        const a = ys[holders[0]!]![i]!; const b = ys[holders[1]!]![i]!
        bins[Math.floor(a / (P / 8)) * 8 + Math.floor(b / (P / 8))]!++ // joint distribution of the two shares
        first[i] = a / P
      }
      return { bins, first }
    }
    const A = hist(0, t, 'priv-a')
    const B = hist(P - 1, t, 'priv-b')
    const chi = chiSquare2(A.bins, B.bins)
    assert.ok(chi < 103.4, `chi-square ${chi} >= 99.9% quantile of chi2(63)`)
    const d = ks2(A.first, B.first)
    const crit = 1.95 * Math.sqrt(2 / n) // KS critical value at alpha = 0.001
    assert.ok(d < crit, `KS D = ${d} >= ${crit}`)
    // Control: the same statistics do see the difference when shares do carry the
    // secret (t = 1: the share is the secret; and secret values in one bin vs another).
    const A1 = hist(0, 1, 'ctl-a'); const B1 = hist(P - 1, 1, 'ctl-b')
    assert.ok(chiSquare2(A1.bins, B1.bins) > 1000)
    assert.ok(ks2(A1.first, B1.first) > 0.9)
  })

  it('Lagrange weights are cached per x-set and sum to 1 (f = 1 interpolates to 1)', () => {
    const w1 = lagrangeWeightsAtZero([3, 7, 9])
    assert.equal(lagrangeWeightsAtZero([3, 7, 9]), w1)
    assert.equal(w1.reduce((s, w) => (s + w) % P, 0), 1)
  })

  describe('hostile inputs throw typed errors', () => {
    const rng = seededRng('hostile')
    const ok = new Uint32Array(4)
    it('share: bad t, m, secret', () => {
      for (const [m, t] of [[3, 4], [3, 0], [3, -1], [3, 1.5], [0, 0], [MAX_HOLDERS + 1, 2], [P + 1, 2], [NaN, 1], [3, NaN], [Infinity, 2]]) {
        assert.throws(() => share(ok, m!, t!, rng), { name: 'ShareParametersError' }, `m=${m} t=${t}`)
      }
      assert.throws(() => share(Uint32Array.of(1, P), 3, 2, rng), { name: 'FieldElementError' })
      assert.throws(() => share(Uint32Array.of(0xffffffff), 3, 2, rng), { name: 'FieldElementError' })
      assert.throws(() => share([1, 2] as unknown as Uint32Array, 3, 2, rng), { name: 'ShareFormatError' })
      assert.throws(() => share(new Float32Array(2) as unknown as Uint32Array, 3, 2, rng), { name: 'ShareFormatError' })
    })
    it('reconstruct: x = 0, duplicate x, non-integer x, x >= p, wrong lengths, too few, values >= p', () => {
      const ys = share(Uint32Array.of(1, 2, 3, 4), 5, 3, rng)
      const s = sharesOf(ys)
      const cases: Array<[Share[], number, string]> = [
        [[{ x: 0, y: ys[0]! }, s[1]!, s[2]!], 3, 'ShareFormatError'],
        [[s[0]!, { x: 1, y: ys[1]! }, s[2]!], 3, 'ShareFormatError'],
        [[{ x: 1.5, y: ys[0]! }, s[1]!, s[2]!], 3, 'ShareFormatError'],
        [[{ x: P, y: ys[0]! }, s[1]!, s[2]!], 3, 'ShareFormatError'],
        [[{ x: NaN, y: ys[0]! }, s[1]!, s[2]!], 3, 'ShareFormatError'],
        [[{ x: -1, y: ys[0]! }, s[1]!, s[2]!], 3, 'ShareFormatError'],
        [[s[0]!, { x: 2, y: ys[1]!.subarray(1) }, s[2]!], 3, 'ShareFormatError'],
        [[s[0]!, s[1]!], 3, 'ShareFormatError'],
        [[], 1, 'ShareFormatError'],
        [[s[0]!, { x: 2, y: Uint32Array.of(P, 0, 0, 0) }, s[2]!], 3, 'FieldElementError'],
        [[s[0]!, { x: 2, y: [1, 2, 3, 4] as unknown as Uint32Array }, s[2]!], 3, 'ShareFormatError'],
        [[s[0]!, null as unknown as Share, s[2]!], 3, 'ShareFormatError'],
        [s, 0, 'ShareParametersError'],
        [s, 2.5, 'ShareParametersError'],
        [s, NaN, 'ShareParametersError'],
      ]
      for (const [sh, t, name] of cases) assert.throws(() => reconstruct(sh, t), { name }, `${name} t=${t}`)
      assert.throws(() => reconstruct('nope' as unknown as Share[], 1), { name: 'ShareFormatError' })
    })
    it('fuzz: arbitrary share lists give the secret or a TesseraError, never anything else', () => {
      fc.assert(fc.property(
        fc.array(fc.record({ x: fc.oneof(fc.integer({ min: -2, max: 8 }), fc.double()), y: fc.oneof(fc.constant(Uint32Array.of(1, 2)), fc.constant(Uint32Array.of(P, 0)), fc.constant(new Uint32Array(3)), fc.constant(null)) }), { maxLength: 6 }),
        fc.oneof(fc.integer({ min: -1, max: 7 }), fc.double()),
        (sh, t) => {
          try { reconstruct(sh as unknown as Share[], t) } catch (e) { assert.ok(e instanceof TesseraError, String(e)) }
        }), { numRuns: 500 })
    })
  })
})
