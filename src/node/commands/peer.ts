/**
 * `tessera peer`: run one peer of a network until stopped (or for --rounds
 * rounds): prints its multiaddrs, then one line per round (committee, groups,
 * refused and blamed peers, accuracy with --evaluate, bytes sent). With --json
 * every event is one JSON line (the `npm start` launcher reads those).
 */
import { parseFlags, numberFlag } from '../../util/args.ts'
import { InvalidParametersError } from '../../util/errors.ts'
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { createPeer, GENESIS_FILE, type Trainer, type Evaluator, type PeerOptions } from '../peer/peer.ts'
import { decodeEnvelope, type Charter } from '../../ledger/index.ts'
import { charterTraining, type TrainingFlags, type TrainingPlan } from '../peer/charter-params.ts'
import { LOCAL_OPTIMIZERS, type LocalOptimizer } from '../../ledger/charter.ts'
import { isFeatureName, FEATURE_NAMES } from '../../model/features/index.ts'
import type { Dataset } from '../../model/dataset.ts'

export const summary = 'run a peer: join the network from its data dir and train on a data partition, round after round'

const HELP = `usage: tessera peer --dir DIR --data SPEC [options]

  --dir DIR          data dir: identity.key, ledger/, models/ (genesis.cbor there, or --genesis)
  --genesis FILE     the network's genesis envelope (from tessera init), used when the ledger is empty
  --data SPEC        this peer's data, e.g. mnist:partition=3/8 or mnist:partition=3/8,scheme=dirichlet,alpha=0.5
                     (without --data the peer serves the network but does not contribute)
  --bootstrap ADDR   a peer's multiaddr ending in /p2p/<id> (repeatable)
  --listen ADDR      TCP listen multiaddr (default /ip4/127.0.0.1/tcp/0; repeatable)
  --ws ADDR          WebSockets listen multiaddr (repeatable; default none)
  --rounds N         stop after the checkpoint of round N
  --start-at MS      start of round 1, ms since the epoch (peers of a new network agree on it)
  --start-file F     wait for file F to hold the start of round 1 (ms since the epoch): a launcher's barrier
  --evaluate N       evaluate each round's model on N MNIST test images
  --attack NAME      play a Byzantine contributor with B's attack NAME (research/demo only)
  --json             one JSON line per event

How the peer trains is the charter's (tessera init; charter.training): optimizer, learning rate, batch,
local steps, worker momentum, full budget, feature map. The flags below only matter for a network
whose charter is version 1 (written before the charter had those fields); for a version 2 charter a
flag that asks for another value than the charter's is refused (CharterConflictError).
  --optimizer O      sgd | momentum | adam (v1 default sgd)
  --steps N          local optimizer steps per round (v1 default 50)
  --momentum B       worker momentum: send m = B m + (1 - B) update (v1 default 0)
  --local-momentum B momentum of the 'momentum' optimizer (v1 default 0.9)
  --full-budget      rescale the update to the clip norm C (v1 default off)
  --features F       ${FEATURE_NAMES.join(' | ')} (v1 default none)
  --epochs N         local epochs bound`

function short (p: string): string { return p.slice(0, 8) }

export async function run (argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    dir: { type: 'string' }, genesis: { type: 'string' }, data: { type: 'string' }, bootstrap: { type: 'string', multiple: true },
    listen: { type: 'string', multiple: true }, ws: { type: 'string', multiple: true }, rounds: { type: 'string' }, 'start-at': { type: 'string' }, 'start-file': { type: 'string' }, momentum: { type: 'string' },
    steps: { type: 'string' }, optimizer: { type: 'string' }, 'local-momentum': { type: 'string' }, 'full-budget': { type: 'boolean' }, features: { type: 'string' }, epochs: { type: 'string' }, evaluate: { type: 'string' }, attack: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }
  } as const)
  if (values.help === true) { console.log(HELP); return 0 }
  if (typeof values.dir !== 'string') throw new InvalidParametersError('--dir is required')
  const json = values.json === true
  const list = (v: unknown): string[] => Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : []
  const opts: Partial<PeerOptions> & { dataDir: string } = {
    dataDir: values.dir,
    bootstrap: list(values.bootstrap),
    listenTcp: list(values.listen).length > 0 ? list(values.listen) : ['/ip4/127.0.0.1/tcp/0'],
    listenWs: list(values.ws)
  }
  if (typeof values.genesis === 'string') opts.genesis = values.genesis
  if (values.rounds !== undefined) opts.maxRounds = numberFlag(values, 'rounds')
  if (values['start-at'] !== undefined) opts.startAt = numberFlag(values, 'start-at')
  if (typeof values.attack === 'string') opts.attack = values.attack
  if (typeof values['start-file'] === 'string') {
    const file = values['start-file']
    opts.startAt = async () => {
      const { readFile } = await import('node:fs/promises')
      for (let i = 0; i < 6000; i++) {
        try {
          const t = Number((await readFile(file, 'utf8')).trim())
          if (Number.isFinite(t) && t > 0) return t
        } catch { /* not written yet */ }
        await new Promise(resolve => setTimeout(resolve, 100))
      }
      return Date.now()
    }
  }
  const flags = trainingFlags(values)
  // The plan (charter + flags) is known once the peer has opened its ledger: 'started' below.
  let plan: TrainingPlan | undefined
  let planError: Error | undefined
  let momentum: Float32Array | undefined

  let trainer: Trainer | undefined
  let evaluator: Evaluator | undefined
  if (typeof values.data === 'string' || values.evaluate !== undefined) {
    const [{ initBackend }, { trainLocal, evaluate }, { loadDataSpec, loadMnist }, { head }, { applyFeatures }] = await Promise.all([
      import('../../model/backend.ts'), import('../../model/train.ts'), import('../../model/data-node.ts'), import('../../model/dataset.ts'), import('../../model/features/index.ts')
    ])
    await initBackend({ quiet: true })
    // The charter's feature map, computed by this peer on its own data (memoised by applyFeatures).
    const mapped = (d: Dataset): Dataset => applyFeatures(plan!.features, d)
    // A feature map is computed before the peer starts when the genesis file tells which (the usual
    // case: a new peer, or a launcher that copies genesis.cbor into every data dir): it takes seconds to
    // minutes (scattering) and blocks this process, so computed lazily in round 1's training it made
    // every contribution, mask and receipt of round 1 late (npm start with scatter features: no round).
    // The charter in the ledger decides (plan, at 'started'); this is only a head start.
    const early = await genesisCharter(typeof values.genesis === 'string' ? values.genesis : join(values.dir, GENESIS_FILE))
    const earlyFeatures = early?.training.features ?? 'none'
    if (typeof values.data === 'string') {
      const shard = await loadDataSpec(values.data)
      if (earlyFeatures !== 'none') applyFeatures(earlyFeatures, shard)
      trainer = async (model, round, spec) => {
        if (plan === undefined) throw planError ?? new InvalidParametersError('training plan not resolved')
        const c = peer.charter
        const t0 = performance.now()
        const r = await trainLocal(spec, model, mapped(shard), { epochs: plan.epochs, batchSize: plan.batchSize, lr: plan.lr, optimizer: plan.optimizer, momentum: plan.localMomentum, maxSteps: plan.maxSteps, seed: `${peer.self}/${round}` })
        // Worker momentum (Karimireddy, He, Jaggi 2021): send m = beta m + (1 - beta) update.
        const beta = plan.workerMomentum
        const m = momentum ?? new Float32Array(model.length)
        for (let i = 0; i < m.length; i++) m[i] = beta * m[i]! + (1 - beta) * (r.weights[i]! - model[i]!)
        momentum = m
        let sq = 0
        for (let i = 0; i < m.length; i++) sq += m[i]! * m[i]!
        const update = Float32Array.from(m)
        // Full budget: scale to norm C; the round machine's clip then leaves it at C (one ulp margin).
        if (plan.fullBudget && sq > 0) {
          const k = c.dp.clipNorm / Math.sqrt(sq)
          for (let i = 0; i < update.length; i++) update[i] = update[i]! * k
        }
        const seconds = (performance.now() - t0) / 1000
        // How long local training took (the share deadline must cover it) and the update's norm before clipping.
        out({ event: 'trained', round, seconds, steps: r.metrics.steps, loss: r.metrics.loss, norm: Math.sqrt(sq) }, `round ${round}: trained ${r.metrics.steps} steps in ${seconds.toFixed(1)} s, loss ${r.metrics.loss.toFixed(3)}, update norm ${Math.sqrt(sq).toFixed(2)}`)
        return update
      }
    }
    if (values.evaluate !== undefined) {
      const test = head(await loadMnist('test'), numberFlag(values, 'evaluate'))
      if (earlyFeatures !== 'none') applyFeatures(earlyFeatures, test)
      evaluator = async (model, spec) => (await evaluate(spec, model, mapped(test))).accuracy
    }
  }
  const peer = createPeer(opts, { trainer, evaluator })
  const out = (o: Record<string, unknown>, line: string): void => { console.log(json ? JSON.stringify(o) : line) }
  peer.on('started', e => {
    // Emitted once the ledger (so the charter) is open and before the round loop's first await:
    // the plan is resolved before any training.
    try {
      plan = charterTraining(peer.charter, flags)
    } catch (err) {
      planError = err as Error
    }
    out({ event: 'started', ...e, ...(plan !== undefined ? { training: plan } : {}) }, `peer ${e.peer}\nnetwork ${e.netId}\n${e.addresses.map(a => `listening ${a}`).join('\n')}${plan !== undefined ? `\ntraining ${describePlan(plan)}` : ''}`)
  })
  peer.on('round', e => {
    out({ event: 'round', ...e }, `round ${e.round}${e.retries > 0 ? ` (retry ${e.retries})` : ''}: committee ${e.committee.map(short).join(',')} | groups ${e.groups.map(g => g.map(short).join('+')).join(' ')} | refused ${e.refused.map(x => short(x.peer)).join(',') || '-'} | blamed ${e.blamed.map(x => short(x.peer)).join(',') || '-'}${e.accuracy !== undefined ? ` | acc ${e.accuracy.toFixed(4)}` : ''} | ${(e.bytesSent / 1e6).toFixed(2)} MB sent | ${(e.ms / 1000).toFixed(1)} s${e.member ? ' | member' : ''}`)
  })
  peer.on('retry', e => { out({ event: 'retry', ...e }, `round ${e.round}: retry ${e.retry} (${e.reason}), committee ${e.committee.map(short).join(',')}`) })
  peer.on('warning', e => { out({ event: 'warning', ...e }, `warning (round ${e.round}): ${e.message}`) })
  peer.on('misbehaviour', e => { if (json) out({ event: 'misbehaviour', ...e }, '') })
  const stop = async (): Promise<void> => { await peer.stop() }
  let signalled = false
  const onSignal = (): void => {
    if (signalled) return
    signalled = true
    void stop().finally(() => process.exit(130))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  await peer.start()
  if (planError !== undefined) {
    // A flag contradicts the charter (or the charter cannot be trained): stop before any round.
    await peer.stop()
    throw planError
  }
  await peer.finished()
  const last = peer.lastRound
  await peer.stop()
  out({ event: 'finished', lastRound: last }, `finished at round ${last}`)
  return 0
}

/** The charter in a genesis file, or undefined (no file, or not a genesis: the ledger's charter decides anyway). */
async function genesisCharter (file: string): Promise<Charter | undefined> {
  try {
    const e = decodeEnvelope(new Uint8Array(await readFile(file)))
    return e.entry.type === 'genesis' ? e.entry.body as Charter : undefined
  } catch {
    return undefined
  }
}

function describePlan (p: TrainingPlan): string {
  return `${p.optimizer} lr ${p.lr} batch ${p.batchSize}, ${p.maxSteps} steps, worker momentum ${p.workerMomentum}${p.fullBudget ? ', full budget' : ''}${p.features !== 'none' ? `, features ${p.features}` : ''}`
}

/** The training flags a user gave (each checked against the charter once it is known: charterTraining). */
function trainingFlags (values: Record<string, string | boolean | undefined>): TrainingFlags {
  const f: TrainingFlags = {}
  if (values.optimizer !== undefined) {
    const o = String(values.optimizer)
    if (!(LOCAL_OPTIMIZERS as readonly string[]).includes(o)) throw new InvalidParametersError(`--optimizer must be ${LOCAL_OPTIMIZERS.join(', ')}, got '${o}'`)
    f.optimizer = o as LocalOptimizer
  }
  if (values.steps !== undefined) {
    const n = numberFlag(values, 'steps')
    if (!Number.isInteger(n) || n < 1) throw new InvalidParametersError('--steps must be a positive integer')
    f.steps = n
  }
  if (values.epochs !== undefined) {
    const n = numberFlag(values, 'epochs')
    if (!Number.isInteger(n) || n < 1) throw new InvalidParametersError('--epochs must be a positive integer')
    f.epochs = n
  }
  if (values.momentum !== undefined) {
    const b = numberFlag(values, 'momentum')
    if (!(b >= 0 && b < 1)) throw new InvalidParametersError('--momentum must be in [0, 1)')
    f.workerMomentum = b
  }
  if (values['local-momentum'] !== undefined) {
    const b = numberFlag(values, 'local-momentum')
    if (!(b >= 0 && b < 1)) throw new InvalidParametersError('--local-momentum must be in [0, 1)')
    f.localMomentum = b
  }
  if (values['full-budget'] === true) f.fullBudget = true
  if (values.features !== undefined) {
    if (!isFeatureName(values.features)) throw new InvalidParametersError(`--features must be one of ${FEATURE_NAMES.join(', ')}, got '${String(values.features)}'`)
    f.features = values.features
  }
  return f
}
