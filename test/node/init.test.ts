/**
 * `tessera init` writes a version 3 charter with the charter's defaults, the
 * training flags and persistent-outlier exclusion (on by default, --exclusion); it refuses what no peer could run (bad flags, a feature map the
 * model cannot take). `tessera peer` takes its training from that charter and
 * refuses a flag that contradicts it (through the real binary).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { run as init } from '../../src/node/commands/init.ts'
import { decodeEnvelope, type Charter } from '../../src/ledger/index.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = join(ROOT, 'bin', 'tessera.js')

async function quiet<T> (f: () => Promise<T>): Promise<T> {
  const log = console.log
  console.log = () => {}
  try { return await f() } finally { console.log = log }
}

async function charterIn (dir: string): Promise<Charter> {
  return decodeEnvelope(new Uint8Array(await readFile(join(dir, 'genesis.cbor')))).entry.body as Charter
}

describe('node: tessera init (charter v3) and tessera peer taking its training from the charter', function () {
  this.timeout(60_000)
  let root = ''
  before(async () => { root = await mkdtemp(join(tmpdir(), 'tessera-init-test-')) })
  after(async () => { if (root !== '') await rm(root, { recursive: true, force: true }) })

  it('defaults: the charter\'s (Adam, lr 0.003, batch 64, 60 steps, worker momentum 0.5, full budget, clip 8, coordinate-wise median)', async () => {
    const dir = join(root, 'defaults')
    assert.equal(await quiet(async () => await init(['--dir', dir])), 0)
    const c = await charterIn(dir)
    assert.equal(c.version, 3)
    // A new network excludes persistent outliers (outliers.ts defaults) unless told not to.
    assert.deepEqual(c.exclusion, { enabled: true, window: 20, minObservations: 10, tCritical: 4.3 })
    assert.deepEqual(c.training, { epochs: 1, batchSize: 64, learningRate: 0.003, optimizer: 'adam', localMomentum: 0.9, steps: 60, workerMomentum: 0.5, fullBudget: true, features: 'none' })
    assert.equal(c.dp.clipNorm, 8)
    assert.deepEqual(c.aggregation, { rule: 'coordinate-median', params: {} })
    const readable = JSON.parse(await readFile(join(dir, 'charter.json'), 'utf8')) as { version: number, training: { optimizer: string } }
    assert.equal(readable.version, 3)
    assert.equal(readable.training.optimizer, 'adam')
  })

  it('flags set every training field, the clip (tau follows it) and the CC iterations', async () => {
    const dir = join(root, 'flags')
    const code = await quiet(async () => await init(['--dir', dir, '--model', 'softmax', '--optimizer', 'sgd', '--lr', '0.1', '--batch', '32', '--steps', '10',
      '--momentum', '0', '--local-momentum', '0.5', '--full-budget', 'no', '--features', 'scatter', '--clip', '2', '--rule', 'centered-clipping', '--iterations', '1']))
    assert.equal(code, 0)
    const c = await charterIn(dir)
    assert.deepEqual(c.training, { epochs: 1, batchSize: 32, learningRate: 0.1, optimizer: 'sgd', localMomentum: 0.5, steps: 10, workerMomentum: 0, fullBudget: false, features: 'scatter' })
    assert.deepEqual(c.aggregation.params, { tau: 2, iterations: 1 })
    assert.equal(c.model.arch, 'softmax')
    assert.deepEqual(c.model.inputShape, [28, 28, 1])
  })

  it('--exclusion off / JSON sets the charter\'s persistent-outlier exclusion', async () => {
    const off = join(root, 'excl-off')
    assert.equal(await quiet(async () => await init(['--dir', off, '--exclusion', 'off'])), 0)
    assert.equal((await charterIn(off)).exclusion.enabled, false)
    const tuned = join(root, 'excl-json')
    assert.equal(await quiet(async () => await init(['--dir', tuned, '--exclusion', '{"window":8,"minObservations":4,"tCritical":3}'])), 0)
    assert.deepEqual((await charterIn(tuned)).exclusion, { enabled: true, window: 8, minObservations: 4, tCritical: 3 })
  })

  it('refuses bad flags and unrunnable charters with typed errors, writing nothing', async () => {
    const bad: Array<[string[], string]> = [
      [['--optimizer', 'adagrad'], 'InvalidParametersError'],
      [['--full-budget', 'maybe'], 'InvalidParametersError'],
      [['--features', 'wavelets'], 'InvalidParametersError'],
      [['--steps', '0'], 'InvalidParametersError'],
      [['--momentum', '1'], 'InvalidParametersError'],
      [['--rule', 'centered-clipping', '--iterations', '0'], 'InvalidParametersError'],
      // centered clipping's parameters with another rule (the default median) are refused, not ignored
      [['--tau', '4'], 'InvalidParametersError'],
      [['--rule', 'trimmed-mean', '--iterations', '2'], 'InvalidParametersError'],
      [['--exclusion', 'maybe'], 'InvalidParametersError'],
      [['--exclusion', '{"window":1}'], 'InvalidParametersError'],
      [['--exclusion', '{"minObservations":30}'], 'InvalidParametersError'],
      [['--exclusion', '{"bogus":1}'], 'InvalidParametersError'],
      [['--exclusion', '[1]'], 'InvalidParametersError'],
      [['--model', 'cnn', '--features', 'scatter'], 'UnsupportedCharterError']
    ]
    for (const [flags, name] of bad) {
      const dir = join(root, `bad-${flags.join('').replace(/[^a-z0-9]/gi, '')}`)
      await assert.rejects(quiet(async () => await init(['--dir', dir, ...flags])), { name }, flags.join(' '))
      await assert.rejects(readFile(join(dir, 'genesis.cbor')), { code: 'ENOENT' })
    }
  })

  it('tessera peer refuses a flag that contradicts the charter (CharterConflictError, exit 1) and prints the charter\'s plan otherwise', async () => {
    const dir = join(root, 'peer')
    assert.equal(await quiet(async () => await init(['--dir', dir, '--steps', '7'])), 0)
    const runPeer = async (args: string[]): Promise<{ code: number | null, out: string, err: string }> => await new Promise((resolve) => {
      const child = spawn(process.execPath, [BIN, 'peer', '--dir', dir, '--json', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString()
        // A peer that started with a plan: stop it (one that refuses its flags exits by itself).
        if (/"event":"started".*"training"/.test(out)) child.kill('SIGTERM')
      })
      child.stderr.on('data', (b: Buffer) => { err += b.toString() })
      const timer = setTimeout(() => { child.kill('SIGKILL') }, 40_000)
      child.on('exit', code => { clearTimeout(timer); resolve({ code, out, err }) })
    })
    const bad = await runPeer(['--steps', '50'])
    assert.equal(bad.code, 1, bad.err)
    assert.match(bad.err, /CharterConflictError: --steps 50: the network's charter fixes training\.steps = 7/)
    const good = await runPeer(['--steps', '7'])
    const started = JSON.parse(good.out.split('\n').find(l => l.includes('"event":"started"'))!) as { training: { maxSteps: number, optimizer: string, fullBudget: boolean } }
    assert.deepEqual([started.training.maxSteps, started.training.optimizer, started.training.fullBudget], [7, 'adam', true])
  })
})
