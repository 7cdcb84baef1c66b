/**
 * `tessera sim`: the researchers' harness (issue #5). N peers of the real round
 * protocol in one process (src/gossip-fl/harness: the full protocol through
 * H's simulate, or the bit-identical fast path), attacks, non-IID splits, DP,
 * and result files (JSONL, CSV, Markdown, Vega-Lite spec + SVG plot).
 * `--matrix robustness` runs the attack x defence matrix; `--shard i/n` runs a
 * slice of it (for several processes) and `--merge DIR...` joins slices.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseFlags, numberFlag } from '../../util/args.ts'
import { InvalidParametersError } from '../../util/errors.ts'
import { ALL_ATTACKS, DEFAULTS, resolveExperiment, type ExperimentConfig, type Engine } from '../../gossip-fl/harness/config.ts'
import { runExperiment, type ExperimentResult, type RoundRecord } from '../../gossip-fl/harness/experiment.ts'
import { matrixByName, shardOf } from '../../gossip-fl/harness/matrix.ts'
import { writeResults } from '../../gossip-fl/harness/write-node.ts'
import { toMarkdown, toAttackMetricsMarkdown } from '../../gossip-fl/harness/output.ts'
import { loadMnist, loadFashionMnist } from '../../model/data-node.ts'
import { initBackend } from '../../model/backend.ts'
import { roundSignerFrom, roundVerifyFrom } from '../../gossip-fl/round/signer.ts'
import { nodeSigner, nodeVerifier } from '../../ledger/signature-node.ts'
import type { Arch } from '../../model/spec.ts'

export const summary = 'researchers\' harness: N peers of the round protocol in one process, attacks, non-IID data, DP; JSONL/CSV/Markdown/SVG results; --matrix robustness'

const HELP = `usage: tessera sim [options]            one run
       tessera sim --matrix robustness [--shard i/n] [options]
       tessera sim --merge DIR [DIR...] --out DIR [--title T]

  --peers N             peers (default ${DEFAULTS.peers})
  --byzantine X         Byzantine peers: a count, or a fraction < 1 of --peers (default 0);
                        committee-side attacks: misbehaving committee members
  --attack NAME         ${ALL_ATTACKS.join(' | ')}
  --attack-params JSON  parameters of B's attack, e.g. '{"epsilon":0.5}' (ipm), '{"mode":"zero","noiseStd":0.01}' (free-riding)
  --backdoor-fraction F model-replacement: share of the attackers' examples copied with the trigger (default ${DEFAULTS.backdoorFraction})
  --backdoor-target C   model-replacement: the backdoor's target class (default ${DEFAULTS.backdoorTarget})
  --reputation-committees  committees weighted by the reputation of the audited evidence so far (E's rule; default weight 1)
  --exclusion on|off|JSON  exclude contributors whose own projection on the aggregate is conclusively negative
                        (t-test, src/reputation/outliers.ts); JSON overrides {window, minObservations, tCritical}; every engine
  --exclusion-on-checkpoint  fast engine: record the evidence as the live protocol does (fixed-point projections on the
                        checkpoint; bit-identical to --engine full); default off, so archived fast-engine results reproduce
  --censor-targets K    censoring-leader: contributors (the first honest peers) a Byzantine leader omits (default min(5, honest))
  --dataset D           mnist | fashion-mnist (default mnist)
  --partition P         iid | dirichlet:ALPHA | shards:K (default ${DEFAULTS.partition})
  --model A             softmax | mlp | cnn (default mlp)
  --rounds N            rounds (default ${DEFAULTS.rounds})
  --local-steps N       local SGD steps per round (default ${DEFAULTS.localSteps})
  --local-epochs E      local epochs per round instead of steps
  --batch N             batch size (default ${DEFAULTS.batchSize})
  --lr X                local learning rate (default ${DEFAULTS.lr})
  --momentum B          worker momentum (default ${DEFAULTS.momentum})
  --optimizer O         local optimizer: sgd | momentum | adam (default ${DEFAULTS.optimizer}; a fresh one each round)
  --full-budget         honest peers rescale their update to exactly C (as full-budget attackers do; tessera peer --full-budget)
  --no-full-budget      honest updates as trained (the robustness matrix otherwise rescales them)
  --committee M         committee size m (default ${DEFAULTS.committee})
  --threshold T         Shamir threshold t (default ${DEFAULTS.threshold})
  --group G             group size g (default ${DEFAULTS.group})
  --rule NAME           aggregation rule over group means (default ${DEFAULTS.rule})
  --rule-params JSON    rule parameters, e.g. '{"tau":0.1}' (centered clipping: tau defaults to --clip)
  --norm-check on|off   off = the undefended baseline (fast engine only) (default on)
  --undefended-budget K with --norm-check off: attackers spend K * C (default 0: B's attacks, unbounded, own defaults)
  --clip C              clip norm of an update (default ${DEFAULTS.clip})
  --noise Z             update-level noise multiplier of each group sum (default 0)
  --dp-sgd CLIP:Z       record-level DP-SGD per peer (per-example clip, noise multiplier)
  --sampling-rate Q     with --dp-sgd: every peer's batch is round(Q x its shard), one q for all (default 0: --batch for every peer)
  --features F          data-independent feature map before the model: none | scatter | scatter2 | pool2 (default none; no privacy cost)
  --label TEXT          label of a single run in tables and plots (default: derived from the defence and attack)
  --seed S              seed of everything (default ${DEFAULTS.seed})
  --eval-every K        evaluate every K rounds (default ${DEFAULTS.evalEvery})
  --test N              test examples evaluated (default ${DEFAULTS.testExamples})
  --train-examples N    use only the first N training examples (default all)
  --membership N        loss-threshold membership inference on the final model (N members of peer 0, N held-out)
  --shadow-models K     also the shadow-model attack (Shokri et al. 2017) with K shadows, on the global model and peer 0's local model
  --membership-nonmembers matched|test   non-members with the members' class mix (default) or the last test images
  --engine E            fast (exact fast path) | full (every share, norm point and partial sum) (default fast)
  --network N           memory (default) | libp2p: real libp2p peers on 127.0.0.1 in this process (E's ledger, co-signed
                        checkpoints); then checks that the fast path, given the network's groups, gives every round's model
  --out DIR             write results.jsonl, results.csv, results.md, summary.json, accuracy.vl.json, accuracy.svg
  --matrix NAME         robustness | privacy
  --attacks A,B         matrix: only these attacks
  --rules R,S           matrix: only these rules
  --groups 1,2,3        matrix: only these group sizes
  --shard i/n           matrix: run configs k with k mod n = i
  --quiet               no progress bar`

type Flags = Record<string, string | boolean | undefined>

function byzantineCount(v: string | undefined, peers: number): number {
  if (v === undefined) return 0
  const x = Number(v)
  if (!Number.isFinite(x) || x < 0) throw new InvalidParametersError(`--byzantine must be a count or a fraction, got '${v}'`)
  return x > 0 && x < 1 ? Math.round(x * peers) : x
}

function configFrom(values: Flags): Partial<ExperimentConfig> {
  const peers = numberFlag(values, 'peers', DEFAULTS.peers)
  const s = (k: string): string | undefined => values[k] as string | undefined
  const n = (k: string): number | undefined => values[k] === undefined ? undefined : numberFlag(values, k)
  let dpSgd: ExperimentConfig['dpSgd']
  if (s('dp-sgd') !== undefined) {
    const [clip, z] = s('dp-sgd')!.split(':').map(Number)
    if (!(clip! > 0) || !(z! >= 0)) throw new InvalidParametersError('--dp-sgd must be CLIP:Z, e.g. 1:1.1')
    dpSgd = { clip: clip!, noiseMultiplier: z! }
  }
  const nc = s('norm-check')
  if (nc !== undefined && nc !== 'on' && nc !== 'off') throw new InvalidParametersError('--norm-check must be on or off')
  const network = s('network')
  if (network !== undefined && network !== 'memory' && network !== 'libp2p') throw new InvalidParametersError(`--network must be memory or libp2p, got '${network}'`)
  if (network === 'libp2p' && s('engine') !== undefined) throw new InvalidParametersError('--network libp2p replaces --engine (the protocol runs on real peers)')
  const json = (k: string): Record<string, unknown> | undefined => {
    if (s(k) === undefined) return undefined
    let v: unknown
    try { v = JSON.parse(s(k)!) } catch { throw new InvalidParametersError(`--${k} must be JSON`) }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InvalidParametersError(`--${k} must be a JSON object`)
    return v as Record<string, unknown>
  }
  const ruleParams = json('rule-params')
  // --exclusion on | off | JSON of outlier parameters (src/reputation/outliers.ts).
  const ex = s('exclusion')
  const exclusion = ex === undefined ? undefined : ex === 'on' ? {} : ex === 'off' ? false as const : json('exclusion')
  const attackParams = json('attack-params')
  const byzantine = byzantineCount(s('byzantine'), peers)
  return {
    label: s('label'), peers, byzantine, attack: s('attack') ?? (byzantine > 0 ? 'ipm' : 'none'),
    dataset: s('dataset') as ExperimentConfig['dataset'] | undefined, partition: s('partition'), model: s('model') as Arch | undefined,
    rounds: n('rounds'), localSteps: n('local-steps'), localEpochs: n('local-epochs'), batchSize: n('batch'), lr: n('lr'), momentum: n('momentum'),
    optimizer: s('optimizer') as ExperimentConfig['optimizer'] | undefined, fullBudget: values['full-budget'] === true ? true : values['no-full-budget'] === true ? false : undefined,
    committee: n('committee'), threshold: n('threshold'), group: n('group'), rule: s('rule'), ruleParams,
    normCheck: nc === undefined ? undefined : nc === 'on', clip: n('clip'), noise: n('noise'), dpSgd, seed: s('seed'),
    evalEvery: n('eval-every'), testExamples: n('test'), trainExamples: n('train-examples'), engine: network === 'libp2p' ? 'libp2p' : s('engine') as Engine | undefined, undefendedBudget: n('undefended-budget'),
    membershipNonMembers: s('membership-nonmembers') as ExperimentConfig['membershipNonMembers'] | undefined,
    membership: n('membership'), shadowModels: n('shadow-models'), attackParams, features: s('features'), samplingRate: n('sampling-rate'),
    reputationCommittees: values['reputation-committees'] === true ? true : undefined, backdoorFraction: n('backdoor-fraction'), backdoorTarget: n('backdoor-target'), censorTargets: n('censor-targets'),
    exclusion, exclusionOnCheckpoint: values['exclusion-on-checkpoint'] === true ? true : undefined
  }
}

/** A one-line progress bar on stderr (redrawn in place on a terminal, every 10% otherwise). */
function progress(quiet: boolean): { update: (run: string, runIndex: number, runs: number, rec: RoundRecord, total: number) => void, done: () => void } {
  const tty = process.stderr.isTTY === true
  let lastPct = -1
  let lastAcc: number | null = null
  return {
    update(run, runIndex, runs, rec, total) {
      if (quiet) return
      if (rec.accuracy !== null) lastAcc = rec.accuracy
      const frac = rec.round / total
      const width = 30
      const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.')
      const line = `[${bar}] run ${runIndex + 1}/${runs} round ${rec.round}/${total} acc ${lastAcc === null ? '-' : lastAcc.toFixed(3)} | ${run}`
      if (tty) process.stderr.write(`\r${line.slice(0, (process.stderr.columns ?? 120) - 1).padEnd(Math.min(119, (process.stderr.columns ?? 120) - 1))}`)
      else {
        const pct = Math.floor(frac * 10)
        if (pct !== lastPct || rec.round === total) { lastPct = pct; process.stderr.write(line + '\n') }
      }
      if (rec.round === total) { lastPct = -1; lastAcc = null; if (tty) process.stderr.write('\n') }
    },
    done() { /* nothing buffered */ }
  }
}

async function loadData(dataset: string): Promise<{ train: Awaited<ReturnType<typeof loadMnist>>, test: Awaited<ReturnType<typeof loadMnist>> }> {
  const load = dataset === 'fashion-mnist' ? loadFashionMnist : loadMnist
  const [train, test] = await Promise.all([load('train'), load('test')])
  return { train, test }
}

/** Results of earlier slices: summary.json (everything but records) + results.jsonl (records). */
async function readResults(dir: string): Promise<ExperimentResult[]> {
  const summaryRows = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as Array<Omit<ExperimentResult, 'records'>>
  const recs = (await readFile(join(dir, 'results.jsonl'), 'utf8')).split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l) as RoundRecord & { seed: string })
  return summaryRows.map(s => ({ ...s, records: recs.filter(r => r.label === s.label && r.seed === s.config.seed).map(({ seed: _seed, ...r }) => r) }))
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    peers: { type: 'string' }, byzantine: { type: 'string' }, attack: { type: 'string' }, dataset: { type: 'string' }, partition: { type: 'string' },
    model: { type: 'string' }, rounds: { type: 'string' }, 'local-steps': { type: 'string' }, 'local-epochs': { type: 'string' }, batch: { type: 'string' },
    lr: { type: 'string' }, momentum: { type: 'string' }, optimizer: { type: 'string' }, 'full-budget': { type: 'boolean' }, 'no-full-budget': { type: 'boolean' }, committee: { type: 'string' }, threshold: { type: 'string' }, group: { type: 'string' },
    rule: { type: 'string' }, 'rule-params': { type: 'string' }, 'norm-check': { type: 'string' }, clip: { type: 'string' }, noise: { type: 'string' },
    'dp-sgd': { type: 'string' }, 'sampling-rate': { type: 'string' }, features: { type: 'string' }, seed: { type: 'string' }, 'eval-every': { type: 'string' }, test: { type: 'string' }, 'train-examples': { type: 'string' },
    engine: { type: 'string' }, membership: { type: 'string' }, 'undefended-budget': { type: 'string' }, 'membership-nonmembers': { type: 'string' }, 'shadow-models': { type: 'string' }, 'attack-params': { type: 'string' },
    'backdoor-fraction': { type: 'string' }, 'backdoor-target': { type: 'string' }, 'censor-targets': { type: 'string' }, label: { type: 'string' }, 'reputation-committees': { type: 'boolean' }, exclusion: { type: 'string' }, 'exclusion-on-checkpoint': { type: 'boolean' }, network: { type: 'string' }, out: { type: 'string' }, matrix: { type: 'string' }, attacks: { type: 'string' },
    rules: { type: 'string' }, groups: { type: 'string' }, shard: { type: 'string' }, merge: { type: 'boolean' }, title: { type: 'string' }, quiet: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' }
  })
  if (values.help === true) { console.log(HELP); return 0 }
  const out = values.out as string | undefined
  if (values.merge === true) {
    if (out === undefined || positionals.length === 0) throw new InvalidParametersError('--merge needs DIRs and --out')
    const all = (await Promise.all(positionals.map(readResults))).flat()
    const facet = new Set(all.map(r => r.config.attack)).size > 1 ? 'attack' as const : undefined
    await writeResults(out, all, { title: String(values.title ?? 'merged results'), facet })
    console.log(toMarkdown(all, 'merged results'))
    return 0
  }
  const base = configFrom(values)
  let configs: Array<Partial<ExperimentConfig>>
  if (values.matrix !== undefined) {
    const list = (k: string): string[] | undefined => values[k] === undefined ? undefined : String(values[k]).split(',').map(x => x.trim()).filter(x => x !== '')
    const explicit: Record<string, unknown> = Object.fromEntries(Object.entries(base).filter(([k, v]) => v !== undefined && !['attack', 'byzantine', 'peers'].includes(k)))
    if (values.peers !== undefined) explicit.peers = base.peers
    if (values.byzantine !== undefined) explicit.byzantine = base.byzantine
    configs = matrixByName(String(values.matrix), { base: explicit as Partial<ExperimentConfig>, attacks: list('attacks'), rules: list('rules'), groups: list('groups')?.map(Number) })
    if (values.shard !== undefined) {
      const [i, n] = String(values.shard).split('/').map(Number)
      if (!Number.isInteger(i) || !Number.isInteger(n) || n! < 1 || i! < 0 || i! >= n!) throw new InvalidParametersError('--shard must be i/n with 0 <= i < n')
      configs = shardOf(configs, { index: i!, count: n! })
    }
  } else {
    configs = [base]
  }
  // Validate every config before loading anything (typed error naming the field).
  for (const c of configs) resolveExperiment(c)
  const backend = await initBackend({ quiet: true })
  const datasets = new Map<string, Awaited<ReturnType<typeof loadData>>>()
  const bar = progress(values.quiet === true)
  const results: ExperimentResult[] = []
  const t0 = Date.now()
  console.error(`tessera sim: ${configs.length} run(s), backend ${backend.name}`)
  for (let k = 0; k < configs.length; k++) {
    const cfg = configs[k]!
    const ds = cfg.dataset ?? DEFAULTS.dataset
    if (!datasets.has(ds)) datasets.set(ds, await loadData(ds))
    const full = (cfg.engine ?? DEFAULTS.engine) === 'full'
    const libp2p = cfg.engine === 'libp2p'
    const res = await runExperiment(cfg, datasets.get(ds)!, {
      onRound: (rec, c) => bar.update(rec.label, k, configs.length, rec, c.rounds),
      ...(full ? { signerFor: (s: Uint8Array) => roundSignerFrom(nodeSigner(s)), verify: roundVerifyFrom(nodeVerifier({ threadPool: false })) } : {}),
      ...(libp2p ? { network: (await import('../../gossip-fl/harness/libp2p-node.ts')).runOverLibp2p } : {})
    })
    if (res.network !== null) console.error(`libp2p: ${res.network.seconds.toFixed(0)} s, peers agreed every round: ${res.network.agreed}, fast path given the network's groups reproduced every model hash: ${res.network.replayEqual}`)
    results.push(res)
    // Write after every run: a long matrix leaves usable partial results.
    if (out !== undefined) await writeResults(out, results, { title: values.matrix !== undefined ? `${String(values.matrix)} matrix` : 'tessera sim', facet: values.matrix !== undefined ? 'attack' : undefined })
  }
  bar.done()
  console.log(toMarkdown(results, values.matrix !== undefined ? `${String(values.matrix)} matrix` : 'tessera sim'))
  const extra = toAttackMetricsMarkdown(results)
  if (extra !== '') console.log(extra)
  const secs = (Date.now() - t0) / 1000
  console.log(`${results.length} run(s) in ${secs.toFixed(0)} s (${(3600 * results.length / secs).toFixed(1)} runs/hour)${out !== undefined ? `; results in ${out}` : ''}`)
  return 0
}
