/**
 * `tessera federated`: a short federated run in one process on real MNIST. N
 * peers, each with a Dirichlet non-IID shard, run the full round protocol
 * (Shamir-shared clipped updates, masked norm check, group sums, robust rule,
 * co-signed checkpoints) over the deterministic in-process bus of
 * src/gossip-fl/sim, with optional Byzantine contributors. One progress line per
 * round, then a summary (JSON with --json).
 */
import { parseFlags, numberFlag } from '../../util/args.ts'
import { InvalidParametersError } from '../../util/errors.ts'
import { seededRng } from '../../util/rng.ts'
import { simulate, type RoundReport } from '../../gossip-fl/sim/simulator.ts'
import { fastSimulate } from '../../gossip-fl/harness/fast.ts'
import { ATTACKS } from '../../gossip-fl/sim/attacks.ts'
import { roundSignerFrom, roundVerifyFrom } from '../../gossip-fl/round/signer.ts'
import { nodeSigner, nodeVerifier } from '../../ledger/signature-node.ts'
import { loadMnist } from '../../model/data-node.ts'
import { subset, head } from '../../model/dataset.ts'
import { partition } from '../../model/partition.ts'
import { mnistSpec, initialWeights, type Arch } from '../../model/spec.ts'
import { trainLocal, evaluate, type OptimizerName } from '../../model/train.ts'
import { initBackend } from '../../model/backend.ts'

export const summary = 'a short federated MNIST run in one process over the full round protocol (committee, shares, norm check, group sums, robust rule)'

/** Attacks that need only the round's updates (model replacement and free riding need more inputs). */
const CLI_ATTACKS = ATTACKS.filter(a => a !== 'model-replacement' && a !== 'free-riding')

const HELP = `usage: tessera federated [options]

  --peers N         peers (default 8)
  --rounds N        rounds (default 5)
  --model A         softmax | mlp | cnn (default mlp)
  --alpha X         Dirichlet concentration of the non-IID split (default 0.5)
  --byzantine N     Byzantine contributors (default 0)
  --attack NAME     ${CLI_ATTACKS.join(' | ')} (default sign-flip)
  --seed S          seed of everything (default 1)
  --committee M     committee size m (default 5)
  --threshold T     Shamir threshold t (default 2)
  --group G         group size g (default 2)
  --rule NAME       aggregation rule over group means (default centered-clipping)
  --tau X           centered-clipping radius (default: the clip norm C)
  --momentum B      worker momentum: each peer sends m = B m + (1 - B) update (default 0)
  --clip C          clip norm of an update (default 2: about the honest median norm of 100 local steps)
  --noise Z         noise multiplier of each group sum (default 0)
  --steps N         local steps per round (default 100)
  --lr X            local learning rate (default 0.05)
  --batch N         local batch size (default 32)
  --optimizer O     local optimizer, fresh each round: sgd | momentum | adam (default sgd)
  --local-momentum B  momentum of the 'momentum' optimizer (default 0.9)
  --attack-params J attack parameters as JSON, e.g. '{"base":"own"}' (sign-flip on the attacker's own update, as tessera peer --attack does)
  --engine E        full (every share, norm point and partial sum; default) | fast (the harness's exact fast path, same checkpoints)
  --full-budget     honest peers rescale their update to the clip norm C too (as the attackers do), so a
                    late-round update is not drowned out by full-budget attackers
  --eval-every K    evaluate every K rounds and at the last (default 1)
  --split-seed S    split as tessera peer --data mnist:partition=i/N,scheme=dirichlet,alpha=A,seed=S does
                    (the npm start shards), instead of the federated/<seed>/split split
  --test N          test examples evaluated (default 10000)
  --json            print the summary as JSON`

function short(p: string): string { return p.slice(0, 8) }

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    peers: { type: 'string' }, rounds: { type: 'string' }, model: { type: 'string' }, alpha: { type: 'string' },
    byzantine: { type: 'string' }, attack: { type: 'string' }, seed: { type: 'string' }, committee: { type: 'string' },
    threshold: { type: 'string' }, group: { type: 'string' }, rule: { type: 'string' }, clip: { type: 'string' },
    noise: { type: 'string' }, tau: { type: 'string' }, momentum: { type: 'string' }, steps: { type: 'string' }, lr: { type: 'string' }, test: { type: 'string' },
    batch: { type: 'string' }, optimizer: { type: 'string' }, 'local-momentum': { type: 'string' }, 'attack-params': { type: 'string' },
    engine: { type: 'string' }, 'eval-every': { type: 'string' }, 'split-seed': { type: 'string' }, 'full-budget': { type: 'boolean' },
    json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }
  })
  if (values.help === true) { console.log(HELP); return 0 }
  const peers = numberFlag(values, 'peers', 8)
  const rounds = numberFlag(values, 'rounds', 5)
  const arch = String(values.model ?? 'mlp') as Arch
  if (!['softmax', 'mlp', 'cnn'].includes(arch)) throw new InvalidParametersError(`--model must be softmax, mlp or cnn, got '${arch}'`)
  const alpha = numberFlag(values, 'alpha', 0.5)
  const byzantine = numberFlag(values, 'byzantine', 0)
  const attack = String(values.attack ?? 'sign-flip')
  if (!CLI_ATTACKS.includes(attack)) throw new InvalidParametersError(`--attack must be one of ${CLI_ATTACKS.join(', ')}`)
  const seed = String(values.seed ?? '1')
  const steps = numberFlag(values, 'steps', 100)
  const lr = numberFlag(values, 'lr', 0.05)
  const testN = numberFlag(values, 'test', 10000)
  const batch = numberFlag(values, 'batch', 32)
  const fullBudget = values['full-budget'] === true
  const optimizer = String(values.optimizer ?? 'sgd') as OptimizerName
  if (!['sgd', 'momentum', 'adam'].includes(optimizer)) throw new InvalidParametersError(`--optimizer must be sgd, momentum or adam, got '${optimizer}'`)
  const localMomentum = numberFlag(values, 'local-momentum', 0.9)
  const engine = String(values.engine ?? 'full')
  if (engine !== 'full' && engine !== 'fast') throw new InvalidParametersError(`--engine must be full or fast, got '${engine}'`)
  const evalEvery = numberFlag(values, 'eval-every', 1)
  if (!Number.isInteger(evalEvery) || evalEvery < 1) throw new InvalidParametersError('--eval-every must be a positive integer')
  let attackParams: Record<string, unknown> | undefined
  if (typeof values['attack-params'] === 'string') {
    try { attackParams = JSON.parse(values['attack-params']) as Record<string, unknown> } catch (err) { throw new InvalidParametersError(`--attack-params: ${(err as Error).message}`) }
    if (attackParams === null || typeof attackParams !== 'object' || Array.isArray(attackParams)) throw new InvalidParametersError('--attack-params must be a JSON object')
  }
  if (!Number.isInteger(byzantine) || byzantine < 0 || byzantine >= peers) throw new InvalidParametersError('--byzantine must be an integer in [0, peers)')
  const json = values.json === true
  const clip = numberFlag(values, 'clip', 2)
  const rule = String(values.rule ?? 'centered-clipping')
  const beta = numberFlag(values, 'momentum', 0)
  if (!(beta >= 0 && beta < 1)) throw new InvalidParametersError('--momentum must be in [0, 1)')
  const ruleParams: Record<string, unknown> = rule === 'centered-clipping' ? { tau: numberFlag(values, 'tau', clip) } : {}
  const momenta: Array<Float32Array | undefined> = []

  const t0 = Date.now()
  const backend = await initBackend({ quiet: true })
  const [train, test] = await Promise.all([loadMnist('train'), loadMnist('test')])
  const testSet = head(test, Math.min(testN, test.n))
  const spec = mnistSpec(arch)
  const splitSeed = typeof values['split-seed'] === 'string' ? values['split-seed'] : undefined
  const parts = splitSeed !== undefined
    ? partition(train.y, train.classes, peers, { scheme: 'dirichlet', alpha }, seededRng(`tessera/partition/${splitSeed}`))
    : partition(train.y, train.classes, peers, { scheme: 'dirichlet', alpha, minSize: 32 }, seededRng(`federated/${seed}/split`))
  const shards = parts.map(idx => subset(train, idx))
  const init = initialWeights(spec, seededRng(`federated/${seed}/init`))
  // The last `byzantine` peers attack.
  const byz = Array.from({ length: byzantine }, (_, i) => peers - 1 - i)
  if (!json) {
    console.log(`tessera federated: ${peers} peers, ${rounds} rounds, ${arch} (${init.length} parameters), Dirichlet alpha ${alpha}, backend ${backend.name}`)
    console.log(`  shard sizes ${shards.map(s => s.n).join(' ')}; byzantine ${byzantine > 0 ? `${byzantine} (${attack})` : 'none'}`)
  }
  const initAcc = (await evaluate(spec, init, testSet)).accuracy
  const lines: Array<Record<string, unknown>> = []
  const tRound = { last: Date.now() }
  const params = {
    committeeSize: numberFlag(values, 'committee', 5),
    threshold: numberFlag(values, 'threshold', 2),
    groupSize: numberFlag(values, 'group', 2),
    rule,
    ruleParams,
    clipNorm: clip,
    noiseMultiplier: numberFlag(values, 'noise', 0)
  }
  const faults = byzantine > 0 ? { byzantine: { peers: byz, attack, params: attackParams } } : undefined
  const trainFn = async (i: number, model: Float32Array, round: number): Promise<Float32Array> => {
    const r = await trainLocal(spec, model, shards[i]!, { epochs: 1, batchSize: batch, lr, optimizer, momentum: localMomentum, maxSteps: steps, seed: `${seed}/${i}/${round}` })
    // Worker momentum (Karimireddy, He, Jaggi 2021): send m_i = beta m_i + (1 - beta) update.
    const m = momenta[i] ?? new Float32Array(model.length)
    for (let j = 0; j < m.length; j++) m[j] = beta * m[j]! + (1 - beta) * (r.weights[j]! - model[j]!)
    momenta[i] = m
    let sq = 0
    for (let j = 0; j < m.length; j++) sq += m[j]! * m[j]!
    norms.push(Math.sqrt(sq))
    const out = Float32Array.from(m)
    if (fullBudget && sq > 0) { const k = clip / Math.sqrt(sq); for (let j = 0; j < out.length; j++) out[j] = out[j]! * k }
    return out
  }
  const norms: number[] = []
  let evaluated = 0
  const evaluateFn = async (model: Float32Array): Promise<number> => {
    evaluated++
    return evaluated % evalEvery === 0 || evaluated === rounds ? (await evaluate(spec, model, testSet)).accuracy : NaN
  }
  const report = (rep: { round: number, retries: number, committee: string[], groups: string[][], refused: Array<{ peer: string, reason: string }>, blamed: Array<{ peer: string, reason: string }>, far: string[][], accuracy?: number }, meanBytes: number | undefined, verified: boolean): void => {
    const now = Date.now()
    const secs = (now - tRound.last) / 1000
    tRound.last = now
    const acc = rep.accuracy === undefined || Number.isNaN(rep.accuracy) ? undefined : rep.accuracy
    // Median norm of this round's updates before clipping (attackers' included: they train honestly first).
    const sorted = norms.splice(0).sort((a, b) => a - b)
    const medianNorm = sorted.length === 0 ? undefined : sorted[Math.floor(sorted.length / 2)]!
    const line = {
      round: rep.round, retries: rep.retries, committee: rep.committee.map(short), groups: rep.groups.map(g => g.length),
      refused: rep.refused.map(r => `${short(r.peer)}:${r.reason}`), blamed: rep.blamed.map(b => `${short(b.peer)}:${b.reason}`), far: rep.far.map(g => g.map(short)),
      accuracy: acc, medianNorm, seconds: secs, meanBytesPerPeer: meanBytes === undefined ? undefined : Math.round(meanBytes), verified
    }
    lines.push(line)
    if (!json) {
      console.log(`round ${rep.round}${rep.retries > 0 ? ` (retry ${rep.retries})` : ''}: committee ${line.committee.join(',')} | groups ${rep.groups.length} [${line.groups.join(',')}] | refused ${rep.refused.length} blamed ${rep.blamed.length} far ${rep.far.length} | acc ${acc === undefined ? '  -   ' : acc.toFixed(4)} | median norm ${medianNorm?.toFixed(2) ?? '-'}${meanBytes === undefined ? '' : ` | ${(meanBytes / 1e6).toFixed(2)} MB/peer`} | ${secs.toFixed(1)} s${verified ? '' : ' | RECOMPUTATION MISMATCH'}`)
    }
  }
  if (engine === 'fast') {
    // The harness's exact fast path: the same checkpoints as the full protocol, without the share traffic.
    await fastSimulate({ peers, rounds, seed, initialModel: init, params, faults, signerFor: (s) => roundSignerFrom(nodeSigner(s)), train: trainFn, evaluate: evaluateFn, keepReports: false, onRound: rep => { report(rep, undefined, true) } })
  } else {
    await simulate({
      peers, rounds, seed,
      initialModel: init,
      params,
      faults,
      signerFor: (s) => roundSignerFrom(nodeSigner(s)),
      verify: roundVerifyFrom(nodeVerifier({ threadPool: false })),
      train: trainFn,
      evaluate: evaluateFn,
      onRound: (rep: RoundReport) => {
        const bytes = [...rep.bytesSent.values()]
        report(rep, bytes.reduce((a, b) => a + b, 0) / peers, rep.recomputedEqual)
      }
    })
  }
  const seconds = (Date.now() - t0) / 1000
  const final = (lines[lines.length - 1]?.accuracy as number | undefined) ?? 0
  const out = { peers, rounds, model: arch, parameters: init.length, alpha, byzantine, attack: byzantine > 0 ? attack : null, attackParams: attackParams ?? null, rule, ruleParams, clip, momentum: beta, optimizer, localMomentum, lr, batch, steps, engine, splitSeed: splitSeed ?? null, initialAccuracy: initAcc, finalAccuracy: final, seconds, perRound: lines }
  if (json) console.log(JSON.stringify(out))
  else console.log(`done: accuracy ${initAcc.toFixed(4)} -> ${final.toFixed(4)} on ${testSet.n} test images in ${seconds.toFixed(1)} s; every checkpoint re-verified from its published group sums: ${lines.every(l => l.verified === true)}`)
  return lines.every(l => l.verified === true) ? 0 : 1
}
