/**
 * `tessera peer`: run one peer of a network until stopped (or for --rounds
 * rounds): prints its multiaddrs, then one line per round (committee, groups,
 * refused and blamed peers, accuracy with --evaluate, bytes sent). With --json
 * every event is one JSON line (the `npm start` launcher reads those).
 */
import { parseFlags, numberFlag } from '../../util/args.ts'
import { InvalidParametersError } from '../../util/errors.ts'
import { createPeer, type Trainer, type Evaluator, type PeerOptions } from '../peer/peer.ts'

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
  --momentum B       worker momentum: send m = B m + (1 - B) update (default 0)
  --steps N          local optimizer steps per round (default 50)
  --optimizer O      local optimizer, fresh each round: sgd | momentum | adam (default sgd); learning rate
                     and batch size are the charter's
  --local-momentum B momentum of the 'momentum' optimizer (default 0.9)
  --full-budget      rescale the update to the charter's clip norm C (an honest peer uses the whole norm
                     budget, as a full-budget attacker does; see docs/architecture/main-job.md)
  --epochs N         local epochs bound (default: the charter's)
  --evaluate N       evaluate each round's model on N MNIST test images
  --attack NAME      play a Byzantine contributor with B's attack NAME (research/demo only)
  --json             one JSON line per event`

function short (p: string): string { return p.slice(0, 8) }

export async function run (argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    dir: { type: 'string' }, genesis: { type: 'string' }, data: { type: 'string' }, bootstrap: { type: 'string', multiple: true },
    listen: { type: 'string', multiple: true }, ws: { type: 'string', multiple: true }, rounds: { type: 'string' }, 'start-at': { type: 'string' }, 'start-file': { type: 'string' }, momentum: { type: 'string' },
    steps: { type: 'string' }, optimizer: { type: 'string' }, 'local-momentum': { type: 'string' }, 'full-budget': { type: 'boolean' }, epochs: { type: 'string' }, evaluate: { type: 'string' }, attack: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }
  } as const)
  if (values.help === true) { console.log(HELP); return 0 }
  if (typeof values.dir !== 'string') throw new InvalidParametersError('--dir is required')
  const json = values.json === true
  const list = (v: unknown): string[] => Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : []
  const steps = numberFlag(values, 'steps', 50)
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
  const beta = numberFlag(values, 'momentum', 0)
  if (!(beta >= 0 && beta < 1)) throw new InvalidParametersError('--momentum must be in [0, 1)')
  const optimizer = String(values.optimizer ?? 'sgd')
  if (optimizer !== 'sgd' && optimizer !== 'momentum' && optimizer !== 'adam') throw new InvalidParametersError(`--optimizer must be sgd, momentum or adam, got '${optimizer}'`)
  const localMomentum = numberFlag(values, 'local-momentum', 0.9)
  if (!(localMomentum >= 0 && localMomentum < 1)) throw new InvalidParametersError('--local-momentum must be in [0, 1)')
  let momentum: Float32Array | undefined

  let trainer: Trainer | undefined
  let evaluator: Evaluator | undefined
  if (typeof values.data === 'string' || values.evaluate !== undefined) {
    const [{ initBackend }, { trainLocal, evaluate }, { loadDataSpec, loadMnist }, { head }] = await Promise.all([
      import('../../model/backend.ts'), import('../../model/train.ts'), import('../../model/data-node.ts'), import('../../model/dataset.ts')
    ])
    await initBackend({ quiet: true })
    if (typeof values.data === 'string') {
      const shard = await loadDataSpec(values.data)
      const epochsFlag = values.epochs === undefined ? undefined : numberFlag(values, 'epochs')
      trainer = async (model, round, spec) => {
        const c = peer.charter
        const t0 = performance.now()
        const r = await trainLocal(spec, model, shard, { epochs: epochsFlag ?? c.training.epochs, batchSize: c.training.batchSize, lr: c.training.learningRate, optimizer, momentum: localMomentum, maxSteps: steps, seed: `${peer.self}/${round}` })
        // Worker momentum (Karimireddy, He, Jaggi 2021): send m = beta m + (1 - beta) update.
        const m = momentum ?? new Float32Array(model.length)
        for (let i = 0; i < m.length; i++) m[i] = beta * m[i]! + (1 - beta) * (r.weights[i]! - model[i]!)
        momentum = m
        let sq = 0
        for (let i = 0; i < m.length; i++) sq += m[i]! * m[i]!
        const update = Float32Array.from(m)
        // Full budget: scale to norm C; the round machine's clip then leaves it at C (one ulp margin).
        if (values['full-budget'] === true && sq > 0) {
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
      evaluator = async (model, spec) => (await evaluate(spec, model, test)).accuracy
    }
  }
  const peer = createPeer(opts, { trainer, evaluator })
  const out = (o: Record<string, unknown>, line: string): void => { console.log(json ? JSON.stringify(o) : line) }
  peer.on('started', e => { out({ event: 'started', ...e }, `peer ${e.peer}\nnetwork ${e.netId}\n${e.addresses.map(a => `listening ${a}`).join('\n')}`) })
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
  await peer.finished()
  const last = peer.lastRound
  await peer.stop()
  out({ event: 'finished', lastRound: last }, `finished at round ${last}`)
  return 0
}
