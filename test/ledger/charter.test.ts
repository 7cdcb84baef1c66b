/**
 * The charter's schema versions and its training fields (src/ledger/charter.ts):
 * version 2 carries how peers train; a version 1 genesis (no `version`, three
 * training fields) still decodes with V1_TRAINING; every field is validated with
 * a typed error; the aggregation rule's parameters are checked by the rule, so a
 * charter whose rounds could never aggregate is refused when it is made.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import {
  CHARTER_VERSION, LOCAL_OPTIMIZERS, V1_TRAINING, checkCharterRule, defaultCharter, makeCharter, parseCharter, type Charter
} from '../../src/ledger/charter.ts'
import { makeGenesis, decodeEnvelope } from '../../src/ledger/index.ts'
import { nodeSigner } from '../../src/ledger/signature-node.ts'
import { LedgerState } from '../../src/ledger/state.ts'
import { FEATURE_NAMES } from '../../src/model/features/index.ts'

const signer = nodeSigner(new Uint8Array(32).fill(7))

/** A charter as a version 1 genesis body: no `version`, training { epochs, batchSize, learningRate }. */
function v1Body (): Record<string, unknown> {
  const { version: _v, training, exclusion: _e, ...rest } = defaultCharter()
  return { ...rest, aggregation: { rule: 'centered-clipping', params: { tau: 2 } }, training: { epochs: 1, batchSize: 32, learningRate: 0.05 } }
}

describe('ledger: charter versions and training fields', () => {
  it('makeCharter writes version 3 with the default recipe (Adam, 60 steps, worker momentum 0.5, full budget, raw pixels)', () => {
    const c = makeCharter()
    assert.equal(c.version, CHARTER_VERSION)
    assert.equal(CHARTER_VERSION, 3)
    assert.deepEqual(c.training, { epochs: 1, batchSize: 64, learningRate: 0.003, optimizer: 'adam', localMomentum: 0.9, steps: 60, workerMomentum: 0.5, fullBudget: true, features: 'none' })
    // The rule chosen from the robustness table (charter.ts defaultCharter).
    assert.deepEqual(c.aggregation, { rule: 'coordinate-median', params: {} })
    assert.equal(c.dp.clipNorm, 8)
  })

  it('a version 3 genesis round-trips: the decoded charter equals the one written', async () => {
    const c = makeCharter({ training: { optimizer: 'momentum', localMomentum: 0.8, steps: 7, workerMomentum: 0, fullBudget: false, features: 'pool2' } })
    const g = await makeGenesis(signer, c)
    const back = decodeEnvelope(g.envelope).entry.body as Charter
    assert.deepEqual(back, c)
    assert.equal((dagCbor.decode(g.bytes) as { body: { version: number } }).body.version, 3)
  })

  it('a version 1 genesis (written before the training fields) still loads, as version 1 with V1_TRAINING', async () => {
    const g = await makeGenesis(signer, v1Body() as unknown as Charter)
    const e = decodeEnvelope(g.envelope)
    const c = e.entry.body as Charter
    assert.equal(c.version, 1)
    assert.deepEqual(c.training, { epochs: 1, batchSize: 32, learningRate: 0.05, ...V1_TRAINING })
    assert.deepEqual({ ...V1_TRAINING }, { optimizer: 'sgd', localMomentum: 0.9, steps: 50, workerMomentum: 0, fullBudget: false, features: 'none' })
    // The ledger accepts it and computes round 1's committee from it as before.
    const st = new LedgerState()
    st.apply(e)
    assert.equal(st.charter!.version, 1)
    // Its bytes are the v1 bytes: no field was added to what was signed.
    assert.equal('version' in (dagCbor.decode(g.bytes) as { body: object }).body, false)
  })

  it('refuses malformed versions and training fields with LedgerVerificationError (malformed) naming the field', () => {
    const v2 = defaultCharter() as unknown as Record<string, unknown>
    const tr = (extra: Record<string, unknown>): Record<string, unknown> => ({ ...v2, training: { ...(v2.training as object), ...extra } })
    const cases: Array<[string, unknown, RegExp]> = [
      ['explicit version 1 (one encoding per charter)', { ...v1Body(), version: 1 }, /version/],
      ['a later version', { ...v2, version: 4 }, /version/],
      ['version as a string', { ...v2, version: '2' }, /version/],
      ['v1 body with a v2 field', { ...v1Body(), training: { epochs: 1, batchSize: 32, learningRate: 0.05, steps: 10 } }, /training\.steps/],
      ['v2 body without steps', { ...v2, training: { ...(v2.training as object), steps: undefined } }, /steps/],
      ['unknown optimizer', tr({ optimizer: 'rmsprop' }), /optimizer/],
      ['steps 0', tr({ steps: 0 }), /steps/],
      ['steps 1.5', tr({ steps: 1.5 }), /steps/],
      ['steps NaN', tr({ steps: Number.NaN }), /steps/],
      ['steps huge', tr({ steps: 1e12 }), /steps/],
      ['worker momentum 1', tr({ workerMomentum: 1 }), /workerMomentum/],
      ['worker momentum negative', tr({ workerMomentum: -0.1 }), /workerMomentum/],
      ['local momentum Infinity', tr({ localMomentum: Infinity }), /localMomentum/],
      ['full budget as a string', tr({ fullBudget: 'yes' }), /fullBudget/],
      ['unknown feature map', tr({ features: 'fourier' }), /features/],
      ['an extra training field', tr({ dropout: 0.5 }), /dropout/]
    ]
    for (const [what, body, field] of cases) {
      // undefined is not a DAG-CBOR value: a missing field is an absent key.
      const clean = JSON.parse(JSON.stringify(body, (_k, v: unknown) => v instanceof Uint8Array ? Array.from(v) : v)) as Record<string, unknown>
      const adm = (body as { admission: unknown }).admission
      assert.throws(() => parseCharter({ ...clean, admission: adm }), (err: Error & { rule?: string }) => {
        assert.equal(err.name, 'LedgerVerificationError', what)
        assert.equal(err.rule, 'malformed', what)
        assert.match(err.message, field, what)
        return true
      }, what)
    }
  })

  it('makeCharter refuses bad training values with InvalidParametersError', () => {
    const bad: unknown[] = [
      { version: 1 }, { version: 2 }, { version: 4 },
      { training: { optimizer: 'adamw' } }, { training: { steps: 0 } }, { training: { steps: -3 } }, { training: { workerMomentum: 1.5 } },
      { training: { localMomentum: Number.NaN } }, { training: { fullBudget: 1 } }, { training: { features: 'SCATTER' } }, { training: { features: '' } }
    ]
    for (const b of bad) assert.throws(() => makeCharter(b as Parameters<typeof makeCharter>[0]), { name: 'InvalidParametersError' }, JSON.stringify(b))
  })

  it('refuses rule parameters the rule does not know (the key that stalled every round) and unknown rules', () => {
    // 45752c0's defaults: centered clipping with a `momentum` key. Every member's aggregation threw.
    assert.throws(() => makeCharter({ aggregation: { rule: 'centered-clipping', params: { tau: 8, iterations: 3, momentum: 0.5 } } }),
      (err: Error) => err.name === 'InvalidParametersError' && /momentum/.test(err.message))
    assert.throws(() => makeCharter({ aggregation: { rule: 'centered-clipping', params: { tau: -1 } } }), { name: 'InvalidParametersError' })
    assert.throws(() => makeCharter({ aggregation: { rule: 'centered-clipping', params: { iterations: 0 } } }), { name: 'InvalidParametersError' })
    assert.throws(() => makeCharter({ aggregation: { rule: 'no-such-rule', params: {} } }), (err: Error) => err.name === 'InvalidParametersError' && /no-such-rule/.test(err.message))
    assert.throws(() => checkCharterRule({ aggregation: { rule: 'trimmed-mean', params: { tau: 1 } } }), { name: 'InvalidParametersError' })
    // Another rule without params takes its own defaults, not centered clipping's tau.
    assert.deepEqual(makeCharter({ aggregation: { rule: 'coordinate-median' } }).aggregation, { rule: 'coordinate-median', params: {} })
    assert.deepEqual(makeCharter({ aggregation: { rule: 'centered-clipping' } }).aggregation.params, { tau: 8, iterations: 3 })
    // ... and its tau follows the charter's clip norm, as `tessera init` does.
    assert.deepEqual(makeCharter({ dp: { clipNorm: 2 }, aggregation: { rule: 'centered-clipping' } }).aggregation.params, { tau: 2, iterations: 3 })
  })

  it('property: any valid training recipe survives makeCharter -> genesis -> decode unchanged', async () => {
    await fc.assert(fc.asyncProperty(
      fc.record({
        optimizer: fc.constantFrom(...LOCAL_OPTIMIZERS),
        localMomentum: fc.double({ min: 0, max: 0.999, noNaN: true }),
        steps: fc.integer({ min: 1, max: 1_000_000 }),
        workerMomentum: fc.double({ min: 0, max: 0.999, noNaN: true }),
        fullBudget: fc.boolean(),
        features: fc.constantFrom(...FEATURE_NAMES),
        batchSize: fc.integer({ min: 1, max: 4096 }),
        learningRate: fc.double({ min: 1e-6, max: 10, noNaN: true })
      }),
      async (t) => {
        const c = makeCharter({ training: t })
        const g = await makeGenesis(signer, c, 1)
        assert.deepEqual((decodeEnvelope(g.envelope).entry.body as Charter).training, { epochs: 1, ...t })
      }), { numRuns: 40 })
  })

  it('property: random bytes and random maps never crash parseCharter (typed error or a charter)', () => {
    fc.assert(fc.property(fc.anything(), (v) => {
      try { parseCharter(v) } catch (err) { assert.equal((err as Error).name, 'LedgerVerificationError') }
    }), { numRuns: 300 })
    const v2 = defaultCharter() as unknown as Record<string, unknown>
    fc.assert(fc.property(fc.dictionary(fc.constantFrom('optimizer', 'steps', 'workerMomentum', 'localMomentum', 'fullBudget', 'features', 'epochs'), fc.anything()), (extra) => {
      try { parseCharter({ ...v2, training: { ...(v2.training as object), ...extra } }) } catch (err) { assert.equal((err as Error).name, 'LedgerVerificationError') }
    }), { numRuns: 300 })
  })
})
