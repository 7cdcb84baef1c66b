/**
 * `tessera baseline`: the centralised reference. Trains each model on the whole
 * training set (no federation, no DP) and reports test accuracy per epoch, so
 * federated runs can be compared against the same models on the same data.
 * Progress lines go to stderr; the JSON summary goes to stdout.
 */
import { parseFlags, numberFlag } from '../../util/args.ts'
import { InvalidParametersError } from '../../util/errors.ts'
import { initBackend } from '../../model/backend.ts'
import { loadDataSpec } from '../../model/data-node.ts'
import { parseDataSpec, formatDataSpec } from '../../model/partition-spec.ts'
import { deriveLayout, initialWeights, type Arch, type ModelSpec } from '../../model/spec.ts'
import { trainLocal, evaluate, type OptimizerName } from '../../model/train.ts'
import { head } from '../../model/dataset.ts'
import { seededRng } from '../../util/rng.ts'

export const summary = 'train each model centrally on all of MNIST (or --data) and report test accuracy per epoch'

/** Defaults per architecture (Adam, Kingma and Ba 2015, lr 1e-3). */
const DEFAULTS: Record<Arch, { epochs: number, batchSize: number, lr: number, optimizer: OptimizerName }> = {
  softmax: { epochs: 5, batchSize: 128, lr: 1e-3, optimizer: 'adam' },
  mlp: { epochs: 8, batchSize: 128, lr: 1e-3, optimizer: 'adam' },
  cnn: { epochs: 5, batchSize: 64, lr: 1e-3, optimizer: 'adam' }
}

const HELP = `usage: tessera baseline [options]

  --model <softmax|mlp|cnn|all>   models to train (default all)
  --data <spec>                   training data spec (default mnist), e.g. fashion-mnist
  --test <spec>                   test data spec (default: --data with split=test)
  --epochs <n>                    epochs (default: softmax 5, mlp 8, cnn 5)
  --batch-size <n>                batch size (default: 128; cnn 64)
  --lr <x>                        learning rate (default 1e-3)
  --optimizer <sgd|momentum|adam> (default adam)
  --seed <s>                      initialisation and batch-order seed (default 1)
  --backend <wasm|cpu>            TF.js backend (default wasm, falls back to cpu)
  --limit <n>                     use only the first n training examples (quick checks)

Progress goes to stderr, a JSON summary to stdout.`

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    model: { type: 'string' }, data: { type: 'string' }, test: { type: 'string' }, epochs: { type: 'string' },
    'batch-size': { type: 'string' }, lr: { type: 'string' }, optimizer: { type: 'string' }, seed: { type: 'string' },
    backend: { type: 'string' }, limit: { type: 'string' }, help: { type: 'boolean', short: 'h' }
  })
  if (values.help === true) { console.log(HELP); return 0 }
  const modelFlag = (values.model as string | undefined) ?? 'all'
  const archs: Arch[] = modelFlag === 'all' ? ['softmax', 'mlp', 'cnn'] : modelFlag.split(',').map((m) => {
    if (m !== 'softmax' && m !== 'mlp' && m !== 'cnn') throw new InvalidParametersError(`--model must be softmax, mlp, cnn or all, got '${m}'`)
    return m
  })
  const backendFlag = (values.backend as string | undefined) ?? 'wasm'
  if (backendFlag !== 'wasm' && backendFlag !== 'cpu') throw new InvalidParametersError(`--backend must be wasm or cpu, got '${backendFlag}'`)
  const optimizer = values.optimizer as OptimizerName | undefined
  if (optimizer !== undefined && !['sgd', 'momentum', 'adam'].includes(optimizer)) throw new InvalidParametersError(`--optimizer must be sgd, momentum or adam, got '${optimizer}'`)
  const seed = (values.seed as string | undefined) ?? '1'
  const trainSpec = parseDataSpec((values.data as string | undefined) ?? 'mnist')
  let testSpecStr = values.test as string | undefined
  if (testSpecStr === undefined) {
    if (trainSpec.dataset === 'csv') throw new InvalidParametersError('--test is required with csv data')
    testSpecStr = formatDataSpec({ ...trainSpec, partition: undefined, split: 'test' })
  }
  const testSpec = parseDataSpec(testSpecStr)
  const limit = values.limit === undefined ? undefined : numberFlag(values, 'limit')
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new InvalidParametersError('--limit must be a positive integer')

  const backend = await initBackend({ prefer: backendFlag })
  const t0 = performance.now()
  let train = await loadDataSpec(trainSpec)
  const test = await loadDataSpec(testSpec)
  if (limit !== undefined) train = head(train, limit)
  console.error(`baseline: ${formatDataSpec(trainSpec)} (${train.n} train, ${test.n} test), backend ${backend.name}${backend.simd ? '+simd' : ''}, data loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

  // A live in-epoch progress line only on a terminal; logs get one line per epoch.
  const tty = process.stderr.isTTY === true
  const results = []
  for (const arch of archs) {
    const d = DEFAULTS[arch]
    const epochs = numberFlag(values, 'epochs', d.epochs)
    const batchSize = numberFlag(values, 'batch-size', d.batchSize)
    const lr = numberFlag(values, 'lr', d.lr)
    const opt = optimizer ?? d.optimizer
    const spec: ModelSpec = arch === 'mlp' ? { arch, inputShape: [...train.shape], classes: train.classes, hidden: [128] } : { arch, inputShape: [...train.shape], classes: train.classes }
    const layout = deriveLayout(spec)
    const perEpoch: Array<{ epoch: number, trainLoss: number, testAccuracy: number, testLoss: number, seconds: number }> = []
    const r = await trainLocal(spec, initialWeights(spec, seededRng(`baseline/${arch}/${seed}`)), train, {
      epochs, batchSize, lr, optimizer: opt, seed: `baseline/${arch}/${seed}`,
      onStep: tty
        ? (step, total, epoch) => {
            if (step % 20 === 0 || step === total) process.stderr.write(`\r[${arch}] epoch ${epoch + 1}/${epochs}  ${((100 * step) / total).toFixed(0).padStart(3)}%  step ${step}/${total}`)
          }
        : undefined,
      onEpoch: async (epoch, info) => {
        if (tty) process.stderr.write('\r\x1b[K')
        const ev = await evaluate(spec, info.weights(), test)
        perEpoch.push({ epoch: epoch + 1, trainLoss: info.loss, testAccuracy: ev.accuracy, testLoss: ev.loss, seconds: info.seconds })
        console.error(`[${arch}] epoch ${epoch + 1}/${epochs}  train loss ${info.loss.toFixed(4)}  test acc ${(100 * ev.accuracy).toFixed(2)}%  test loss ${ev.loss.toFixed(4)}  ${info.seconds.toFixed(1)} s/epoch (${(train.n / info.seconds).toFixed(0)} ex/s)`)
      }
    })
    const last = perEpoch[perEpoch.length - 1]!
    results.push({
      arch, params: layout.total, layoutHash: layout.hash, optimizer: opt, lr, batchSize, epochs,
      testAccuracy: last.testAccuracy, testLoss: last.testLoss,
      secondsPerEpochMedian: median(perEpoch.map((p) => p.seconds)),
      trainingSeconds: r.metrics.seconds,
      perEpoch
    })
  }
  console.log(JSON.stringify({
    command: 'baseline', data: formatDataSpec(trainSpec), test: formatDataSpec(testSpec), trainExamples: train.n, testExamples: test.n,
    backend: backend.name, simd: backend.simd, seed, results
  }, null, 2))
  return 0
}
