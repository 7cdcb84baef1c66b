/**
 * The network charter: the body of the genesis entry (DESIGN.md, "The network
 * charter"). `makeCharter` merges caller values over defaults and validates
 * (House style 7); `parseCharter` validates a decoded genesis body.
 */
import { InvalidParametersError } from '../util/errors.ts'
import { LedgerVerificationError } from './errors.ts'
import { resolveReputationParams } from '../reputation/index.ts'
import * as s from './schema.ts'

export type AdmissionPolicy =
  /** Anyone joins with a self-signed join entry. `founders` run round 1 (empty = the genesis author). */
  | { mode: 'open', founders: Uint8Array[] }
  /** A peer is admitted once `k` distinct founders have signed an admit entry for it. */
  | { mode: 'consortium', founders: Uint8Array[], k: number }

export interface Charter {
  networkId: string
  model: { arch: string, inputShape: number[], classes: number }
  training: { epochs: number, batchSize: number, learningRate: number }
  dp: { clipNorm: number, noiseMultiplier: number, delta: number, epsilonBudget: number }
  /** Committee size m, Shamir threshold t, group size g. */
  committee: { m: number, t: number, g: number }
  aggregation: { rule: string, params: Record<string, number | string | boolean> }
  /** Milliseconds allowed for each phase of a round. */
  deadlines: { share: number, receipt: number, plan: number, partial: number, checkpoint: number }
  admission: AdmissionPolicy
  watermark: { required: boolean, schemes: string[] }
  /** Parameters handed to the reputation function (src/reputation), by name. */
  reputation: Record<string, number>
}

/** Hard caps that keep decoding and verification finite whatever a charter says. */
export const LIMITS = {
  maxEnvelopeBytes: 1 << 20,
  maxCommittee: 256,
  maxFounders: 256,
  maxListLength: 10_000,
  maxGroups: 10_000
} as const

export function defaultCharter(): Charter {
  return {
    networkId: 'tessera-mnist',
    model: { arch: 'mlp-784-100-10', inputShape: [28, 28, 1], classes: 10 },
    // Training, clip, g and the rule's parameters: the robustness table's default defence
    // (docs/results/robustness/README.md; local Adam, 60 steps and honest full-budget updates are
    // peer options, `tessera peer --optimizer adam --steps 60 --full-budget --momentum 0.5`,
    // since the charter has no field for them). `momentum` records the workers' momentum.
    training: { epochs: 1, batchSize: 64, learningRate: 0.003 },
    dp: { clipNorm: 8, noiseMultiplier: 1, delta: 1e-5, epsilonBudget: 8 },
    committee: { m: 5, t: 3, g: 2 },
    aggregation: { rule: 'centered-clipping', params: { tau: 8, iterations: 3, momentum: 0.5 } },
    deadlines: { share: 30_000, receipt: 10_000, plan: 10_000, partial: 20_000, checkpoint: 20_000 },
    admission: { mode: 'open', founders: [] },
    watermark: { required: false, schemes: ['trigger-set', 'weight-signature'] },
    reputation: {}
  }
}

export type CharterInput = Partial<Omit<Charter, 'model' | 'training' | 'dp' | 'committee' | 'aggregation' | 'deadlines' | 'watermark'>> & {
  model?: Partial<Charter['model']>
  training?: Partial<Charter['training']>
  dp?: Partial<Charter['dp']>
  committee?: Partial<Charter['committee']>
  aggregation?: Partial<Charter['aggregation']>
  deadlines?: Partial<Charter['deadlines']>
  watermark?: Partial<Charter['watermark']>
}

/** Defaults, then merge, then validate; throws InvalidParametersError naming the field. */
export function makeCharter(input: CharterInput = {}): Charter {
  const d = defaultCharter()
  const c: Charter = {
    networkId: input.networkId ?? d.networkId,
    model: { ...d.model, ...input.model },
    training: { ...d.training, ...input.training },
    dp: { ...d.dp, ...input.dp },
    committee: { ...d.committee, ...input.committee },
    aggregation: { ...d.aggregation, ...input.aggregation },
    deadlines: { ...d.deadlines, ...input.deadlines },
    admission: input.admission ?? d.admission,
    watermark: { ...d.watermark, ...input.watermark },
    reputation: input.reputation ?? d.reputation
  }
  try {
    return parseCharter(c)
  } catch (err) {
    if (err instanceof LedgerVerificationError) throw new InvalidParametersError(`charter ${err.message.replace(/^\[malformed\] /, '')}`)
    throw err
  }
}

const founderKey = (v: unknown, p: string): Uint8Array => s.bytes(v, p, 32)

/** Validate a decoded charter (the genesis body); throws LedgerVerificationError('malformed'). */
export function parseCharter(v: unknown, path = 'charter'): Charter {
  const o = s.obj(v, path, ['networkId', 'model', 'training', 'dp', 'committee', 'aggregation', 'deadlines', 'admission', 'watermark', 'reputation'])
  const model = s.obj(o.model, `${path}.model`, ['arch', 'inputShape', 'classes'])
  const training = s.obj(o.training, `${path}.training`, ['epochs', 'batchSize', 'learningRate'])
  const dp = s.obj(o.dp, `${path}.dp`, ['clipNorm', 'noiseMultiplier', 'delta', 'epsilonBudget'])
  const com = s.obj(o.committee, `${path}.committee`, ['m', 't', 'g'])
  const agg = s.obj(o.aggregation, `${path}.aggregation`, ['rule', 'params'])
  const dl = s.obj(o.deadlines, `${path}.deadlines`, ['share', 'receipt', 'plan', 'partial', 'checkpoint'])
  const adm = s.obj(o.admission, `${path}.admission`, ['mode', 'founders'], ['k'])
  const wm = s.obj(o.watermark, `${path}.watermark`, ['required', 'schemes'])
  const m = s.int(com.m, `${path}.committee.m`, 1, LIMITS.maxCommittee)
  const t = s.int(com.t, `${path}.committee.t`, 1, m)
  const g = s.int(com.g, `${path}.committee.g`, 1, LIMITS.maxListLength)
  const mode = s.oneOf(adm.mode, `${path}.admission.mode`, ['open', 'consortium'] as const)
  const founders = s.list(adm.founders, `${path}.admission.founders`, LIMITS.maxFounders, founderKey)
  const seen = new Set(founders.map((f) => f.join(',')))
  if (seen.size !== founders.length) s.fail(`${path}.admission.founders`, 'duplicate key')
  let admission: AdmissionPolicy
  if (mode === 'consortium') {
    if (founders.length === 0) s.fail(`${path}.admission.founders`, 'a consortium needs founders')
    admission = { mode, founders, k: s.int(adm.k, `${path}.admission.k`, 1, founders.length) }
  } else {
    if (adm.k !== undefined) s.fail(`${path}.admission.k`, 'only for consortium mode')
    admission = { mode, founders }
  }
  const paramsObj = s.obj(agg.params, `${path}.aggregation.params`, [], Object.keys(agg.params as object ?? {}))
  const params: Record<string, number | string | boolean> = {}
  for (const [k, val] of Object.entries(paramsObj)) {
    if (typeof val === 'string') params[k] = s.str(val, `${path}.aggregation.params.${k}`)
    else if (typeof val === 'boolean') params[k] = val
    else params[k] = s.num(val, `${path}.aggregation.params.${k}`)
  }
  const repObj = s.obj(o.reputation, `${path}.reputation`, [], Object.keys(o.reputation as object ?? {}))
  const reputation: Record<string, number> = {}
  for (const [k, val] of Object.entries(repObj)) reputation[k] = s.num(val, `${path}.reputation.${k}`)
  if ('round' in reputation) s.fail(`${path}.reputation.round`, 'is set per round by the ledger')
  try {
    resolveReputationParams(reputation)
  } catch (err) {
    s.fail(`${path}.reputation`, (err as Error).message)
  }
  const dim = (x: unknown, p: string): number => s.int(x, p, 1, 1 << 24)
  const ms = (x: unknown, p: string): number => s.int(x, p, 1, 24 * 3600 * 1000)
  return {
    networkId: s.str(o.networkId, `${path}.networkId`, 128, 1),
    model: {
      arch: s.str(model.arch, `${path}.model.arch`, 256, 1),
      inputShape: s.list(model.inputShape, `${path}.model.inputShape`, 8, dim, 1),
      classes: s.int(model.classes, `${path}.model.classes`, 2, 1 << 20)
    },
    training: {
      epochs: s.int(training.epochs, `${path}.training.epochs`, 1, 10_000),
      batchSize: s.int(training.batchSize, `${path}.training.batchSize`, 1, 1 << 20),
      learningRate: s.num(training.learningRate, `${path}.training.learningRate`, Number.MIN_VALUE, 1e3)
    },
    dp: {
      clipNorm: s.num(dp.clipNorm, `${path}.dp.clipNorm`, Number.MIN_VALUE, 1e9),
      noiseMultiplier: s.num(dp.noiseMultiplier, `${path}.dp.noiseMultiplier`, 0, 1e6),
      delta: s.num(dp.delta, `${path}.dp.delta`, 0, 1),
      epsilonBudget: s.num(dp.epsilonBudget, `${path}.dp.epsilonBudget`, Number.MIN_VALUE, 1e9)
    },
    committee: { m, t, g },
    aggregation: { rule: s.str(agg.rule, `${path}.aggregation.rule`, 64, 1), params },
    deadlines: {
      share: ms(dl.share, `${path}.deadlines.share`),
      receipt: ms(dl.receipt, `${path}.deadlines.receipt`),
      plan: ms(dl.plan, `${path}.deadlines.plan`),
      partial: ms(dl.partial, `${path}.deadlines.partial`),
      checkpoint: ms(dl.checkpoint, `${path}.deadlines.checkpoint`)
    },
    admission,
    watermark: {
      required: s.bool(wm.required, `${path}.watermark.required`),
      schemes: s.list(wm.schemes, `${path}.watermark.schemes`, 16, (x, p) => s.str(x, p, 64, 1))
    },
    reputation
  }
}
