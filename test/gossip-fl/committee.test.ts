import assert from 'node:assert/strict'
import fc from 'fast-check'
import { sha256 } from '@noble/hashes/sha2.js'
import { selectCommittee, groupOf, assignGroups, groupCount, groupIndexOf } from '../../src/gossip-fl/committee.ts'

const enc = new TextEncoder()
const hex = (b: Uint8Array): string => Array.from(b, x => x.toString(16).padStart(2, '0')).join('')
/** A well-formed peer id (hex of a 32-byte string) for index i. */
const pid = (i: number | string): string => hex(sha256(enc.encode(`peer-${i}`)))
const seedOf = (i: number | string): Uint8Array => sha256(enc.encode(`seed-${i}`))

/** Chi-square upper critical values at p = 0.001 (NIST/SEMATECH e-Handbook, table 1.3.6.7.4). */
const CHI2_999: Record<number, number> = { 4: 18.467, 5: 20.515, 6: 22.458, 7: 24.322, 9: 27.877 }

function chiSquare(observed: number[], expected: number[]): number {
  let x = 0
  for (let i = 0; i < observed.length; i++) x += (observed[i]! - expected[i]!) ** 2 / expected[i]!
  return x
}

/** Shuffle by a seeded Fisher-Yates (for order-independence checks). */
function shuffled<T>(xs: readonly T[], salt: number): T[] {
  const a = xs.slice()
  for (let i = a.length - 1; i > 0; i--) {
    const h = sha256(enc.encode(`shuffle-${salt}-${i}`))
    const j = ((h[0]! << 8) | h[1]!) % (i + 1)
    ;[a[i], a[j]] = [a[j]!, a[i]!]
  }
  return a
}

/**
 * Exact inclusion probabilities of successive weighted sampling without
 * replacement (draw i with probability w_i / remaining weight), by enumerating every
 * ordered draw. This is the distribution Efraimidis and Spirakis (2006) prove their
 * key method samples from (their Theorem 1).
 */
function exactInclusion(w: number[], m: number): number[] {
  const incl = new Array<number>(w.length).fill(0)
  const rec = (taken: number[], prob: number): void => {
    if (taken.length === m) {
      for (const i of taken) incl[i]! += prob
      return
    }
    let rest = 0
    for (let i = 0; i < w.length; i++) if (!taken.includes(i)) rest += w[i]!
    for (let i = 0; i < w.length; i++) {
      if (taken.includes(i)) continue
      rec([...taken, i], prob * w[i]! / rest)
    }
  }
  rec([], 1)
  return incl
}

describe('gossip-fl/committee: selectCommittee', () => {
  const peers = Array.from({ length: 12 }, (_, i) => pid(i))
  const cands = peers.map((peer, i) => ({ peer, weight: 1 + (i % 4) * 0.5 }))

  it('is deterministic and independent of the candidates order', () => {
    for (let s = 0; s < 30; s++) {
      const a = selectCommittee(seedOf(s), cands, 5)
      const b = selectCommittee(seedOf(s), shuffled(cands, s), 5)
      const c = selectCommittee(seedOf(s), shuffled(cands, s + 1000).map(x => ({ ...x })), 5)
      assert.deepEqual(a, b)
      assert.deepEqual(a, c)
      assert.equal(new Set(a).size, 5, 'no peer drawn twice')
      for (const p of a) assert.ok(peers.includes(p))
    }
  })

  it('changes with the seed (rotation) and a prefix of a larger committee is the smaller one', () => {
    const seen = new Set<string>()
    for (let s = 0; s < 40; s++) {
      const big = selectCommittee(seedOf(s), cands, 8)
      const small = selectCommittee(seedOf(s), cands, 3)
      assert.deepEqual(small, big.slice(0, 3))
      seen.add(big[0]!)
    }
    assert.ok(seen.size >= 6, `leaders rotate over seeds, saw ${seen.size}`)
  })

  it('matches an independent reference implementation of the Efraimidis-Spirakis keys', () => {
    // Reference: same u derivation, Math.log and BigInt arithmetic, plain sort.
    const ref = (seed: Uint8Array, cs: Array<{ peer: string, weight: number }>, m: number): string[] => {
      const tag = enc.encode('tessera/committee/v1')
      const max = Math.max(...cs.map(c => c.weight))
      return cs.filter(c => c.weight > 0).map(c => {
        const pk = Uint8Array.from(c.peer.match(/../g)!.map(h => parseInt(h, 16)))
        const len = new Uint8Array(4); new DataView(len.buffer).setUint32(0, seed.length)
        const h = sha256(new Uint8Array([...tag, 0, ...len, ...seed, ...pk]))
        const x = BigInt('0x' + hex(h.slice(0, 7))) >> 4n // top 52 bits
        const u = (Number(x) + 0.5) / 2 ** 52
        return { peer: c.peer, key: Math.log(u) / (c.weight / max) }
      }).sort((a, b) => b.key - a.key || (a.peer < b.peer ? -1 : 1)).slice(0, m).map(k => k.peer)
    }
    for (let s = 0; s < 50; s++) assert.deepEqual(selectCommittee(seedOf(s), cands, 6), ref(seedOf(s), cands, 6))
  })

  it('pinned vector: a fixed seed and candidates give this exact committee (guards cross-version drift)', () => {
    const got = selectCommittee(enc.encode('tessera'), cands.slice(0, 6), 3)
    assert.deepEqual(got.map(p => peers.indexOf(p)), PINNED_COMMITTEE)
  })

  it('m = 1: the leader is drawn exactly proportionally to weight (chi-square, p = 0.001)', () => {
    const w = [1, 2, 3, 4, 0.5, 6, 2.5, 1]
    const cs = w.map((weight, i) => ({ peer: pid(`m1-${i}`), weight }))
    const N = 10000
    const counts = new Array<number>(w.length).fill(0)
    for (let s = 0; s < N; s++) {
      const [leader] = selectCommittee(seedOf(`m1-${s}`), cs, 1)
      counts[cs.findIndex(c => c.peer === leader)]!++
    }
    const W = w.reduce((a, b) => a + b, 0)
    const x2 = chiSquare(counts, w.map(x => (N * x) / W))
    assert.ok(x2 < CHI2_999[7]!, `chi-square ${x2.toFixed(2)} >= ${CHI2_999[7]} (df 7), counts ${counts}`)
  })

  it('m > 1: inclusion frequencies match the exact probabilities of weighted sampling without replacement', () => {
    const w = [1, 2, 3, 5, 8, 0.5]
    const m = 3
    const cs = w.map((weight, i) => ({ peer: pid(`m3-${i}`), weight }))
    const exact = exactInclusion(w, m)
    assert.ok(Math.abs(exact.reduce((a, b) => a + b, 0) - m) < 1e-12)
    const N = 8000
    const counts = new Array<number>(w.length).fill(0)
    const firstCounts = new Array<number>(w.length).fill(0)
    for (let s = 0; s < N; s++) {
      const c = selectCommittee(seedOf(`m3-${s}`), cs, m)
      for (const p of c) counts[cs.findIndex(x => x.peer === p)]!++
      firstCounts[cs.findIndex(x => x.peer === c[0])]!++
    }
    // Each peer's inclusion count is binomial(N, p_i); allow 4.5 standard deviations.
    for (let i = 0; i < w.length; i++) {
      const sd = Math.sqrt(N * exact[i]! * (1 - exact[i]!))
      assert.ok(Math.abs(counts[i]! - N * exact[i]!) < 4.5 * sd, `peer ${i}: ${counts[i]} vs ${N * exact[i]!}`)
    }
    // The test has power: the naive allocation m w_i / W (what sampling WITH
    // replacement would give) is rejected by far for the lightest peers (z > 8).
    const W0 = w.reduce((a, b) => a + b, 0)
    for (const i of [0, 1, 5]) {
      const naive = (m * w[i]!) / W0
      assert.ok(Math.abs(counts[i]! - N * naive) > 8 * Math.sqrt(N * naive * (1 - naive)), `peer ${i} also fits the naive allocation`)
    }
    const x2 = chiSquare(firstCounts, w.map(x => (N * x) / W0))
    assert.ok(x2 < CHI2_999[5]!, `leader chi-square ${x2.toFixed(2)}`)
  })

  it('never draws a weight-0 candidate; one positive weight among zeros always leads', () => {
    const cs = peers.map((peer, i) => ({ peer, weight: i === 7 ? 1e-300 : 0 }))
    for (let s = 0; s < 20; s++) assert.deepEqual(selectCommittee(seedOf(s), cs, 1), [peers[7]])
    const mixed = peers.map((peer, i) => ({ peer, weight: i % 3 === 0 ? 0 : 1 }))
    for (let s = 0; s < 20; s++) {
      for (const p of selectCommittee(seedOf(s), mixed, 8)) assert.notEqual(peers.indexOf(p) % 3, 0)
    }
  })

  it('hostile inputs give typed errors', () => {
    const seed = seedOf(1)
    const throwsName = (f: () => unknown, name: string): void => {
      assert.throws(f, (e: Error) => e.name === name, `expected ${name}`)
    }
    throwsName(() => selectCommittee(seed, cands, 13), 'InsufficientPeersError')
    throwsName(() => selectCommittee(seed, cands.map((c, i) => ({ ...c, weight: i < 2 ? 1 : 0 })), 3), 'InsufficientPeersError')
    throwsName(() => selectCommittee(seed, [], 1), 'InsufficientPeersError')
    for (const m of [0, -1, 1.5, NaN, Infinity, '3' as unknown as number]) throwsName(() => selectCommittee(seed, cands, m), 'InvalidParametersError')
    for (const weight of [-1, NaN, Infinity, -Infinity, '1' as unknown as number, -0.0001]) {
      throwsName(() => selectCommittee(seed, [{ peer: pid(0), weight }, { peer: pid(1), weight: 1 }], 1), 'InvalidParametersError')
    }
    throwsName(() => selectCommittee(new Uint8Array(0), cands, 1), 'InvalidParametersError')
    throwsName(() => selectCommittee(new Uint8Array(1025), cands, 1), 'InvalidParametersError')
    throwsName(() => selectCommittee('seed' as unknown as Uint8Array, cands, 1), 'InvalidParametersError')
    for (const peer of ['', 'zz', pid(0).toUpperCase(), pid(0).slice(2), pid(0) + '00', '__proto__', 42 as unknown as string, ` ${pid(0).slice(1)}`]) {
      throwsName(() => selectCommittee(seed, [{ peer, weight: 1 }], 1), 'InvalidPeerIdError')
    }
    throwsName(() => selectCommittee(seed, [{ peer: pid(0), weight: 1 }, { peer: pid(0), weight: 2 }], 1), 'InvalidParametersError')
    throwsName(() => selectCommittee(seed, [null as unknown as { peer: string, weight: number }], 1), 'InvalidParametersError')
    throwsName(() => selectCommittee(seed, 'x' as unknown as [], 1), 'InvalidParametersError')
  })

  it('fuzz: arbitrary inputs return a valid committee or throw a TesseraError, never anything else', () => {
    const names = new Set(['InvalidParametersError', 'InvalidPeerIdError', 'InsufficientPeersError'])
    fc.assert(fc.property(
      fc.uint8Array({ maxLength: 40 }),
      fc.array(fc.record({ peer: fc.oneof(fc.constantFrom(...peers), fc.string()), weight: fc.oneof(fc.double(), fc.integer()) }), { maxLength: 15 }),
      fc.oneof(fc.integer({ min: -2, max: 16 }), fc.double()),
      (seed, cs, m) => {
        try {
          const out = selectCommittee(seed, cs, m)
          assert.equal(out.length, m)
          assert.equal(new Set(out).size, m)
        } catch (e) {
          assert.ok(names.has((e as Error).name), `unexpected ${(e as Error).name}: ${(e as Error).message}`)
        }
      },
    ), { numRuns: 300, seed: 7 })
  })
})

/** Computed once by this implementation; a change means every deployed peer would disagree. */
const PINNED_COMMITTEE = [0, 2, 4]

describe('gossip-fl/committee: groups', () => {
  it('groupCount is floor(n / g)', () => {
    assert.equal(groupCount(10, 3), 3)
    assert.equal(groupCount(2, 3), 0)
    assert.equal(groupCount(9, 3), 3)
  })

  it('property: a balanced partition — every contributor once, floor(n/g) groups, sizes in [g, 2g-1] differing by <= 1', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 120 }), fc.uint8Array({ minLength: 1, maxLength: 32 }), (g, extra, seed) => {
      const n = g + extra
      const cs = Array.from({ length: n }, (_, i) => pid(`g-${i}`))
      const groups = assignGroups(seed, cs, g)
      assert.equal(groups.length, Math.floor(n / g))
      const all = groups.flat()
      assert.equal(all.length, n)
      assert.deepEqual(new Set(all), new Set(cs))
      const sizes = groups.map(x => x.length)
      assert.ok(Math.min(...sizes) >= g, `sizes ${sizes}`)
      assert.ok(Math.max(...sizes) <= 2 * g - 1 || g === 1, `sizes ${sizes}`)
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1)
      for (const grp of groups) assert.deepEqual(grp, grp.slice().sort(), 'members listed in peer-id order')
      assert.deepEqual(assignGroups(seed, shuffled(cs, n), g), groups, 'input order does not matter')
      for (const p of cs.slice(0, 3)) assert.ok(groupIndexOf(groups, p) >= 0)
    }), { numRuns: 150, seed: 11 })
  })

  it('regroups at random each round: a peer lands in group j with probability |group j| / n (chi-square)', () => {
    const cs = Array.from({ length: 20 }, (_, i) => pid(`r-${i}`))
    const g = 4 // G = 5 groups of 4
    const N = 4000
    const counts = [0, 0, 0, 0, 0]
    let together = 0 // how often peers 0 and 1 share a group
    for (let s = 0; s < N; s++) {
      const groups = assignGroups(seedOf(`rg-${s}`), cs, g)
      const j = groupIndexOf(groups, cs[0]!)
      counts[j]!++
      if (groups[j]!.includes(cs[1]!)) together++
    }
    const x2 = chiSquare(counts, counts.map(() => N / 5))
    assert.ok(x2 < CHI2_999[4]!, `chi-square ${x2.toFixed(2)}`)
    // P(two given peers share a group) = (4 - 1) / (20 - 1).
    const p = 3 / 19
    const sd = Math.sqrt(N * p * (1 - p))
    assert.ok(Math.abs(together - N * p) < 4.5 * sd, `co-membership ${together} vs ${N * p}`)
  })

  it('groupOf is H(s, peer) mod G: in range, deterministic, uniform (chi-square)', () => {
    const G = 7
    const counts = new Array<number>(G).fill(0)
    const N = 7000
    for (let i = 0; i < N; i++) {
      const j = groupOf(seedOf('go'), pid(`go-${i}`), G)
      assert.ok(Number.isInteger(j) && j >= 0 && j < G)
      counts[j]!++
    }
    assert.equal(groupOf(seedOf('go'), pid('go-1'), G), groupOf(seedOf('go'), pid('go-1'), G))
    const x2 = chiSquare(counts, counts.map(() => N / G))
    assert.ok(x2 < CHI2_999[6]!, `chi-square ${x2.toFixed(2)}`)
    assert.equal(groupOf(seedOf('go'), pid(1), 1), 0)
    // A large G (2^32 - 1) still yields values in range.
    const big = groupOf(seedOf('go'), pid(1), 0xffffffff)
    assert.ok(big >= 0 && big < 0xffffffff)
  })

  it('groupOf alone leaves groups below g, which is why assignGroups is used', () => {
    // n = 20, g = 4, G = 5: with H mod G some group is smaller than 4 for most seeds.
    const cs = Array.from({ length: 20 }, (_, i) => pid(`u-${i}`))
    let undersized = 0
    for (let s = 0; s < 200; s++) {
      const sizes = [0, 0, 0, 0, 0]
      for (const p of cs) sizes[groupOf(seedOf(`u-${s}`), p, 5)]!++
      if (Math.min(...sizes) < 4) undersized++
    }
    assert.ok(undersized > 100, `undersized in ${undersized}/200 seeds`)
  })

  it('hostile inputs give typed errors', () => {
    const cs = Array.from({ length: 6 }, (_, i) => pid(i))
    const throwsName = (f: () => unknown, name: string): void => {
      assert.throws(f, (e: Error) => e.name === name, `expected ${name}`)
    }
    throwsName(() => assignGroups(seedOf(1), cs, 7), 'InsufficientPeersError')
    throwsName(() => assignGroups(seedOf(1), [], 1), 'InsufficientPeersError')
    for (const g of [0, -1, 2.5, NaN]) throwsName(() => assignGroups(seedOf(1), cs, g), 'InvalidParametersError')
    throwsName(() => assignGroups(new Uint8Array(0), cs, 2), 'InvalidParametersError')
    throwsName(() => assignGroups(seedOf(1), [...cs, cs[0]!], 2), 'InvalidParametersError')
    throwsName(() => assignGroups(seedOf(1), [...cs, 'ABC'], 2), 'InvalidPeerIdError')
    for (const G of [0, -1, 1.5, NaN, 2 ** 32]) throwsName(() => groupOf(seedOf(1), cs[0]!, G), 'InvalidParametersError')
    throwsName(() => groupOf(seedOf(1), 'nothex', 3), 'InvalidPeerIdError')
    throwsName(() => groupOf(new Uint8Array(0), cs[0]!, 3), 'InvalidParametersError')
  })
})
