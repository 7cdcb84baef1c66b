/**
 * `tessera init`: write a network charter, i.e. the genesis entry signed by the
 * founder's key (the identity in --dir, created if absent), from flags or a
 * JSON file. Writes `<dir>/genesis.cbor` (the envelope every peer starts from:
 * copy it into each peer's data dir or pass `tessera peer --genesis FILE`) and
 * `<dir>/charter.json` (a readable copy). Prints the genesis CID and network id.
 */
import { writeFile, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseFlags, numberFlag } from '../../util/args.ts'
import { InvalidParametersError } from '../../util/errors.ts'
import { defaultCharter, makeCharter, decodeEnvelope, toHex, type CharterInput } from '../../ledger/index.ts'
import { LOCAL_OPTIMIZERS, defaultRuleParams, type LocalOptimizer } from '../../ledger/charter.ts'
import { FEATURE_NAMES, isFeatureName } from '../../model/features/index.ts'
import { charterModelSpec, charterRoundParams } from '../peer/charter-params.ts'
import { loadOrCreateIdentity } from '../identity.ts'
import { networkIdFromGenesis } from '../protocol-ids.ts'
import { writeGenesis, GENESIS_FILE } from '../peer/peer.ts'
import { isPeerId, peerIdBytes } from '../../reputation/peer-id.ts'

export const summary = 'write a network charter (the genesis entry signed by the founder) from flags or a JSON file'

const HELP = `usage: tessera init --dir DIR [options]

  --dir DIR            founder's data dir (its identity.key signs the genesis); genesis.cbor is written there
  --charter FILE       charter JSON (src/ledger/charter.ts CharterInput); flags below override it
  --peers-file FILE    JSON: an array of founder peer ids (hex Ed25519 keys), or { "founders": [...] }
  --founders A,B,...   founder peer ids (default: the founder alone)
  --mode M             open | consortium (default open)
  --k N                consortium: founders' approvals to admit a peer
  --network-id NAME    (default tessera-mnist)
  --model A            softmax | mlp | cnn (default mlp)
  --m N --t N --g N    committee size, Shamir threshold, group size (default 5, 2, 2)
  --clip C             clip norm (default 8)
  --noise Z            noise multiplier of each group sum (default 0)
  --rule NAME          aggregation rule (default coordinate-median)
  --tau X              centered-clipping radius (default: the clip norm)
  --iterations L       centered-clipping iterations (default 3)
  --deadlines S,R,P,Q,C  phase deadlines in ms: share, receipt, plan, partial, checkpoint
  --exclusion on|off|JSON  persistent-outlier exclusion, binding on every checkpoint (charter v3;
                       default on, window 20, minObservations 10, tCritical 4.3); JSON: overrides
                       of { "window", "minObservations", "tCritical" } (turns it on)
  --json               print the result as JSON

Local training, the same for every peer (charter.training; defaults: the charter's, the
robustness table's default defence and npm start's recipe):
  --optimizer O        ${LOCAL_OPTIMIZERS.join(' | ')} (default adam; fresh each round)
  --lr X --batch N     learning rate and batch size (default 0.003, 64)
  --steps N            local optimizer steps per round (default 60)
  --momentum B         worker momentum: peers send m = B m + (1 - B) update (default 0.5)
  --local-momentum B   momentum of the 'momentum' optimizer (default 0.9)
  --full-budget yes|no honest updates rescaled to exactly the clip norm (default yes)
  --features F         ${FEATURE_NAMES.join(' | ')}: feature map each peer applies to its own data
                       before training; the model's input is its output (default none)`

function parseFounders (v: unknown, where: string): string[] {
  const list = Array.isArray(v) ? v : (v !== null && typeof v === 'object' && Array.isArray((v as { founders?: unknown }).founders)) ? (v as { founders: unknown[] }).founders : undefined
  if (list === undefined) throw new InvalidParametersError(`${where}: expected an array of peer ids or { "founders": [...] }`)
  for (const p of list) if (!isPeerId(p)) throw new InvalidParametersError(`${where}: '${String(p).slice(0, 80)}' is not a peer id (64 lowercase hex)`)
  return list as string[]
}

/**
 * The charter's `exclusion` (v3): on by default for a new network (the --charter file's
 * value, if any, then the flag): `on`, `off`, or JSON overrides of the outlier parameters
 * (which turn it on). Validated by makeCharter (InvalidParametersError).
 */
export function initExclusion (flag: unknown, fromFile: CharterInput['exclusion']): NonNullable<CharterInput['exclusion']> {
  const base = { enabled: true, ...(fromFile ?? {}) }
  if (flag === undefined) return base
  if (flag === 'on') return { ...base, enabled: true }
  if (flag === 'off') return { ...base, enabled: false }
  let o: unknown
  try { o = JSON.parse(String(flag)) } catch { throw new InvalidParametersError(`--exclusion takes on, off or a JSON object, got '${String(flag).slice(0, 80)}'`) }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new InvalidParametersError('--exclusion JSON must be an object of { window, minObservations, tCritical }')
  for (const k of Object.keys(o)) if (!['window', 'minObservations', 'tCritical'].includes(k)) throw new InvalidParametersError(`--exclusion: unknown parameter '${k}'`)
  return { ...base, ...(o as object), enabled: true }
}

export async function run (argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    dir: { type: 'string' }, charter: { type: 'string' }, 'peers-file': { type: 'string' }, founders: { type: 'string' },
    mode: { type: 'string' }, k: { type: 'string' }, 'network-id': { type: 'string' }, model: { type: 'string' },
    m: { type: 'string' }, t: { type: 'string' }, g: { type: 'string' }, clip: { type: 'string' }, noise: { type: 'string' },
    rule: { type: 'string' }, tau: { type: 'string' }, iterations: { type: 'string' }, lr: { type: 'string' }, batch: { type: 'string' }, deadlines: { type: 'string' },
    optimizer: { type: 'string' }, steps: { type: 'string' }, momentum: { type: 'string' }, 'local-momentum': { type: 'string' }, 'full-budget': { type: 'string' }, features: { type: 'string' },
    exclusion: { type: 'string' },
    json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }
  })
  if (values.help === true) { console.log(HELP); return 0 }
  if (typeof values.dir !== 'string') throw new InvalidParametersError('--dir is required')
  const dir = values.dir
  let base: CharterInput = {}
  if (typeof values.charter === 'string') {
    try { base = JSON.parse(await readFile(values.charter, 'utf8')) as CharterInput } catch (err) { throw new InvalidParametersError(`--charter ${values.charter}: ${(err as Error).message}`) }
    if (base === null || typeof base !== 'object') throw new InvalidParametersError('--charter must hold a JSON object')
  }
  const identity = await loadOrCreateIdentity(dir)
  let founders: string[] = [identity.name]
  if (typeof values['peers-file'] === 'string') {
    let raw: unknown
    try { raw = JSON.parse(await readFile(values['peers-file'], 'utf8')) } catch (err) { throw new InvalidParametersError(`--peers-file: ${(err as Error).message}`) }
    founders = parseFounders(raw, '--peers-file')
  }
  if (typeof values.founders === 'string') founders = parseFounders(values.founders.split(',').map(s => s.trim()).filter(s => s !== ''), '--founders')
  const mode = String(values.mode ?? 'open')
  if (mode !== 'open' && mode !== 'consortium') throw new InvalidParametersError('--mode must be open or consortium')
  // Defaults are the charter's (src/ledger/charter.ts), then the --charter file's, then the flags.
  const d = defaultCharter()
  const clip = numberFlag(values, 'clip', base.dp?.clipNorm ?? d.dp.clipNorm)
  const rule = String(values.rule ?? base.aggregation?.rule ?? d.aggregation.rule)
  const bt = base.training ?? {}
  let optimizer: LocalOptimizer = bt.optimizer ?? d.training.optimizer
  if (values.optimizer !== undefined) {
    if (!(LOCAL_OPTIMIZERS as readonly string[]).includes(String(values.optimizer))) throw new InvalidParametersError(`--optimizer must be ${LOCAL_OPTIMIZERS.join(', ')}, got '${String(values.optimizer)}'`)
    optimizer = values.optimizer as LocalOptimizer
  }
  let fullBudget = bt.fullBudget ?? d.training.fullBudget
  if (values['full-budget'] !== undefined) {
    const v = String(values['full-budget'])
    if (v !== 'yes' && v !== 'no') throw new InvalidParametersError(`--full-budget takes yes or no, got '${v}'`)
    fullBudget = v === 'yes'
  }
  if (values.features !== undefined && !isFeatureName(values.features)) throw new InvalidParametersError(`--features must be one of ${FEATURE_NAMES.join(', ')}, got '${String(values.features)}'`)
  const features = values.features !== undefined && isFeatureName(values.features) ? values.features : (bt.features ?? d.training.features)
  // The rule's params: the charter's defaults for it (defaultRuleParams: centered clipping tau = clip),
  // then the --charter file's when it names the same rule, then --tau / --iterations (centered clipping only).
  const ruleParams = { ...defaultRuleParams(rule, clip), ...(base.aggregation?.rule === rule ? base.aggregation?.params ?? {} : {}) }
  if (rule !== 'centered-clipping' && (values.tau !== undefined || values.iterations !== undefined)) {
    throw new InvalidParametersError(`--tau and --iterations are centered clipping's parameters; the rule is ${rule} (--rule centered-clipping to use them)`)
  }
  if (rule === 'centered-clipping') {
    ruleParams.tau = numberFlag(values, 'tau', clip)
    if (values.iterations !== undefined) ruleParams.iterations = numberFlag(values, 'iterations')
  }
  const input: CharterInput = {
    ...base,
    networkId: String(values['network-id'] ?? base.networkId ?? 'tessera-mnist'),
    model: { arch: String(values.model ?? base.model?.arch ?? 'mlp'), inputShape: [28, 28, 1], classes: 10, ...(base.model ?? {}), ...(values.model !== undefined ? { arch: String(values.model) } : {}) },
    training: {
      ...d.training,
      ...bt,
      batchSize: numberFlag(values, 'batch', bt.batchSize ?? d.training.batchSize),
      learningRate: numberFlag(values, 'lr', bt.learningRate ?? d.training.learningRate),
      optimizer,
      steps: numberFlag(values, 'steps', bt.steps ?? d.training.steps),
      workerMomentum: numberFlag(values, 'momentum', bt.workerMomentum ?? d.training.workerMomentum),
      localMomentum: numberFlag(values, 'local-momentum', bt.localMomentum ?? d.training.localMomentum),
      fullBudget,
      features
    },
    dp: { ...(base.dp ?? {}), clipNorm: clip, noiseMultiplier: numberFlag(values, 'noise', base.dp?.noiseMultiplier ?? 0) },
    committee: { m: numberFlag(values, 'm', base.committee?.m ?? 5), t: numberFlag(values, 't', base.committee?.t ?? 2), g: numberFlag(values, 'g', base.committee?.g ?? 2) },
    aggregation: { rule, params: ruleParams },
    admission: mode === 'open'
      ? { mode: 'open', founders: founders.map(peerIdBytes) }
      : { mode: 'consortium', founders: founders.map(peerIdBytes), k: numberFlag(values, 'k', 1) }
  }
  input.exclusion = initExclusion(values.exclusion, base.exclusion)
  if (typeof values.deadlines === 'string') {
    const d = values.deadlines.split(',').map(Number)
    if (d.length !== 5 || d.some(x => !Number.isInteger(x) || x <= 0)) throw new InvalidParametersError('--deadlines takes five positive integers (ms): share,receipt,plan,partial,checkpoint')
    input.deadlines = { share: d[0]!, receipt: d[1]!, plan: d[2]!, partial: d[3]!, checkpoint: d[4]! }
  }
  const charter = makeCharter(input)
  // What every peer will do at start: build the model (arch on the feature map's output) and the
  // round parameters. Refused here rather than by every peer of a network that can never run.
  charterModelSpec(charter)
  charterRoundParams(charter)
  const envelope = await writeGenesis(identity, charter)
  const g = decodeEnvelope(envelope)
  await writeFile(join(dir, GENESIS_FILE), envelope)
  const readable = JSON.parse(JSON.stringify(charter, (_k, v: unknown) => v instanceof Uint8Array ? toHex(v) : v)) as unknown
  await writeFile(join(dir, 'charter.json'), JSON.stringify(readable, null, 2) + '\n')
  const out = { genesis: g.cid.toString(), netId: networkIdFromGenesis(g.cid.bytes), founder: identity.name, founders, file: join(dir, GENESIS_FILE) }
  if (values.json === true) console.log(JSON.stringify(out))
  else console.log(`genesis ${out.genesis}\nnetwork id ${out.netId}\nfounder ${out.founder}\nfounders ${founders.length}\nwritten ${out.file}`)
  return 0
}
