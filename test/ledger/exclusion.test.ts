/**
 * Persistent-outlier exclusion as a ledger rule (charter v3 `exclusion`, issue #5):
 * LedgerState derives the excluded set of round r from the projections on checkpoints
 * < r (src/reputation/outliers.ts over src/reputation/outlier-evidence.ts), refuses a plan
 * that groups an excluded contributor and a checkpoint whose evidence is missing or
 * malformed; v1 / v2 charters never exclude and never carry evidence.
 */
import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { defaultCharter, makeCharter, NO_EXCLUSION, parseCharter, type Charter } from '../../src/ledger/charter.ts'
import { makeGenesis, makeEntry } from '../../src/ledger/author.ts'
import { decodeEnvelope, parseBody, type CheckpointCore } from '../../src/ledger/entry.ts'
import { LedgerState } from '../../src/ledger/state.ts'
import { toHex } from '../../src/ledger/bytes.ts'
import { persistentOutliers } from '../../src/reputation/outliers.ts'
import { checkpointEvidence, PROJECTION_SCALE } from '../../src/reputation/outlier-evidence.ts'
import { accept, makeNet, runRound, signerOf, type Net } from './fixture.ts'

const EXCL = { enabled: true, window: 5, minObservations: 3, tCritical: 3 }

/** q for the group holding `bad`: -3 (its members' own projection estimate g p - (g - 1) M is about -7); others about +1. */
function evidence(bad: string) {
  return (groups: string[][]): number[] => groups.map((g, j) => Math.round((g.includes(bad) ? -3 : 1 + 0.1 * j) * PROJECTION_SCALE))
}

async function rejects(p: Promise<unknown>, rule: string, re?: RegExp): Promise<void> {
  await assert.rejects(p, (err: Error & { rule?: string }) => {
    assert.equal(err.name, 'LedgerVerificationError')
    assert.equal(err.rule, rule, err.message)
    if (re !== undefined) assert.match(err.message, re)
    return true
  })
}

async function attackedNet(rounds: number): Promise<{ net: Net, bad: string, sets: string[][] }> {
  const net = await makeNet({ peers: 6, exclusion: EXCL })
  const bad = toHex(net.peers[0]!.publicKey)
  const sets: string[][] = []
  for (let r = 1; r <= rounds; r++) {
    sets.push(net.state.outlierExclusion(r))
    await runRound(net, { projections: evidence(bad) })
  }
  return { net, bad, sets }
}

describe('ledger: persistent-outlier exclusion (charter v3)', function () {
  this.timeout(60_000)
  let genesis: Uint8Array | undefined
  before(async () => {
    genesis = (await makeGenesis(signerOf(0, 'founder'), makeCharter())).envelope
  })

  it('a contributor whose group projections are negative is excluded from round minObservations + 1 on, sticky; nobody else; a replay gets the same sets', async () => {
    const { net, bad, sets } = await attackedNet(7)
    // Rounds 1..3: fewer than minObservations = 3 observations, nobody is excluded.
    assert.deepEqual(sets.slice(0, 3), [[], [], []])
    // From round 4 on (three negative observations of about -7), the attacker and only it, every round.
    for (let r = 4; r <= 7; r++) assert.deepEqual(sets[r - 1], [bad], `round ${r}`)
    assert.deepEqual(net.state.outlierExclusion(8), [bad])
    // It contributed but was planned in no group from round 4 on.
    for (let r = 4; r <= 7; r++) assert.ok(!net.state.checkpoints[r]!.body.groups.flat().map(toHex).includes(bad), `round ${r} groups it`)
    // The ledger's set is persistentOutliers over the checkpoints' decoded evidence.
    const history = net.state.checkpoints.slice(1).map((c) => checkpointEvidence(c.body.groups.map((g) => g.map(toHex)), c.body.projections))
    assert.deepEqual(persistentOutliers(history, { window: 5, minObservations: 3, tCritical: 3 }), [bad])
    assert.deepEqual(history, net.state.outlierHistory)
    // A verifier that replays the ledger from its entries derives the same sets.
    const replay = new LedgerState()
    for (const e of net.log) replay.apply(decodeEnvelope(e.envelope))
    for (let r = 1; r <= 8; r++) assert.deepEqual(replay.outlierExclusion(r), net.state.outlierExclusion(r), `round ${r}`)
    // Only rounds whose predecessor is checkpointed have a set.
    assert.throws(() => net.state.outlierExclusion(10), (e: Error & { rule?: string }) => e.name === 'LedgerVerificationError' && e.rule === 'reference')
  })

  it('refuses a plan that groups an excluded contributor (rule outlier)', async () => {
    const { net, bad } = await attackedNet(4)
    assert.deepEqual(net.state.outlierExclusion(5), [bad])
    const all = net.peers.map((p) => toHex(p.publicKey))
    await rejects(runRound(net, { planned: all }), 'outlier', /excluded as a persistent outlier/)
  })

  it('refuses a checkpoint without projections, with the wrong number, or non-zero for an empty group', async () => {
    const net = await makeNet({ peers: 6, exclusion: EXCL })
    await rejects(runRound(net, { projections: null }), 'outlier', /carries no projections/)
    // Hostile evidence is refused when the entry is made (the body fails to decode): wrong length.
    const net2 = await makeNet({ peers: 6, exclusion: EXCL })
    await rejects(runRound(net2, { projections: (g) => [...g.map(() => 0), 0] }), 'malformed', /projections/)
    const net3 = await makeNet({ peers: 6, exclusion: EXCL })
    await rejects(runRound(net3, { projections: (g) => g.map(() => 0.5) }), 'malformed', /projections\[0\]/)
  })

  it('a version 2 genesis loads with exclusion off: it never excludes, and refuses checkpoints with projections', async () => {
    const founders = [0, 1, 2].map((i) => signerOf(i, 'founder'))
    const { exclusion: _e, ...rest } = makeCharter({ committee: { m: 3, t: 2, g: 2 }, admission: { mode: 'open', founders: founders.map((f) => f.publicKey) }, reputation: { rampRounds: 0 } })
    const v2 = { ...rest, version: 2 } as unknown as Charter
    const state = new LedgerState()
    const log = [await accept(state, await makeGenesis(founders[0]!, v2))]
    assert.equal(state.charter!.version, 2)
    assert.deepEqual(state.charter!.exclusion, { ...NO_EXCLUSION })
    assert.equal('exclusion' in (dagCbor.decode(log[0]!.bytes) as { body: object }).body, false)
    const peers = Array.from({ length: 6 }, (_, i) => signerOf(i))
    const net: Net = { state, founders, peers, log, byHex: new Map([...founders, ...peers].map((s) => [toHex(s.publicKey), s])), charter: state.charter! }
    for (const p of peers) log.push(await accept(state, await makeEntry(state, p, 'join', {})))
    const bad = toHex(peers[0]!.publicKey)
    for (let r = 1; r <= 5; r++) {
      assert.deepEqual(state.outlierExclusion(r), [])
      await runRound(net)
    }
    assert.equal(state.exclusionEnabled, false)
    assert.ok(state.checkpoints[5]!.body.groups.flat().map(toHex).includes(bad) || state.checkpoints[4]!.body.groups.flat().map(toHex).includes(bad))
    await rejects(runRound(net, { projections: evidence(bad) }), 'outlier', /without exclusion/)
  })

  it('a v3 charter with exclusion disabled behaves like v2 (no evidence, nobody excluded)', async () => {
    const net = await makeNet({ peers: 6, exclusion: { enabled: false } })
    assert.equal(net.charter.version, 3)
    await runRound(net)
    assert.deepEqual(net.state.outlierExclusion(2), [])
    await rejects(runRound(net, { projections: (g) => g.map(() => 0) }), 'outlier')
  })

  it('hostile evidence in a decoded checkpoint body is a typed malformed error: NaN, floats, huge, too many, wrong length', () => {
    const core = (projections: unknown, groups: unknown[] = [[new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)]]): Record<string, unknown> => {
      const cid = decodeEnvelope(genesis!).cid
      const c: Record<string, unknown> = { round: 1, retry: 0, prev: cid, modelHash: new Uint8Array(32), groups, groupSumsHash: new Uint8Array(32), blame: [], refused: [], farGroups: [], heads: [], cosigs: [] }
      if (projections !== undefined) c.projections = projections
      return c
    }
    // A well-formed body decodes, with and without evidence.
    assert.deepEqual((parseBody('checkpoint', core([5])) as CheckpointCore).projections, [5])
    assert.equal('projections' in (parseBody('checkpoint', core(undefined)) as object), false)
    const cases: Array<[string, unknown, unknown[]?]> = [
      ['NaN', [Number.NaN]], ['Infinity', [Infinity]], ['a float', [0.5]], ['beyond 2^53', [2 ** 60]], ['a string', ['1']], ['null', [null]],
      ['a map', { 0: 1 }], ['too few', []], ['too many', [1, 2]], ['huge', new Array(20_000).fill(0)],
      ['non-zero for an empty group', [0, 7], [[new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)], []]]
    ]
    for (const [what, ps, groups] of cases) {
      assert.throws(() => parseBody('checkpoint', core(ps, groups)), (e: Error & { rule?: string }) => e.name === 'LedgerVerificationError' && e.rule === 'malformed', what)
    }
  })

  it('charter exclusion parameters: defaults, merge, validate (typed errors)', () => {
    assert.deepEqual(makeCharter().exclusion, { enabled: false, window: 20, minObservations: 10, tCritical: 4.3 })
    assert.deepEqual(makeCharter({ exclusion: { enabled: true, tCritical: 3 } }).exclusion, { enabled: true, window: 20, minObservations: 10, tCritical: 3 })
    const bad = [{ window: 1 }, { window: 1.5 }, { minObservations: 30 }, { tCritical: -1 }, { tCritical: Number.NaN }, { enabled: 'yes' }, { bogus: 1 }]
    for (const b of bad) assert.throws(() => makeCharter({ exclusion: b as never }), (e: Error) => e.name === 'InvalidParametersError' && /exclusion/.test(e.message), JSON.stringify(b))
    const v3 = defaultCharter() as unknown as Record<string, unknown>
    assert.throws(() => parseCharter({ ...v3, exclusion: undefined }), (e: Error & { rule?: string }) => e.rule === 'malformed' && /exclusion/.test(e.message))
    const { exclusion: _x, ...noEx } = v3
    assert.throws(() => parseCharter(noEx), (e: Error & { rule?: string }) => e.rule === 'malformed' && /exclusion/.test(e.message))
    assert.throws(() => parseCharter({ ...noEx, version: 2, exclusion: { enabled: true, window: 5, minObservations: 3, tCritical: 3 } }), (e: Error & { rule?: string }) => e.rule === 'malformed' && /exclusion/.test(e.message))
  })
})
