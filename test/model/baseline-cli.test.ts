import assert from 'node:assert/strict'
import { run } from '../../src/node/commands/baseline.ts'

async function capture(fn: () => Promise<number>): Promise<{ code: number, out: string }> {
  const log = console.log
  const err = console.error
  let out = ''
  console.log = (...a: unknown[]) => { out += a.join(' ') + '\n' }
  console.error = () => {}
  try {
    return { code: await fn(), out }
  } finally {
    console.log = log
    console.error = err
  }
}

describe('tessera baseline (command)', () => {
  it('trains softmax on a prefix of MNIST and prints a JSON summary with per-epoch test accuracy', async () => {
    const { code, out } = await capture(() => run(['--model', 'softmax', '--epochs', '2', '--limit', '3000', '--lr', '0.005']))
    assert.equal(code, 0)
    const j = JSON.parse(out) as { backend: string, trainExamples: number, testExamples: number, results: Array<{ arch: string, params: number, testAccuracy: number, perEpoch: Array<{ testAccuracy: number, seconds: number }> }> }
    assert.equal(j.trainExamples, 3000)
    assert.equal(j.testExamples, 10000)
    assert.equal(j.results.length, 1)
    const r = j.results[0]!
    assert.equal(r.arch, 'softmax')
    assert.equal(r.params, 7850)
    assert.equal(r.perEpoch.length, 2)
    assert.ok(r.testAccuracy > 0.85, `accuracy ${r.testAccuracy}`)
    assert.ok(r.perEpoch.every((p) => p.seconds > 0))
  })

  it('rejects bad flags with InvalidParametersError', async () => {
    for (const argv of [['--model', 'rnn'], ['--backend', 'gpu'], ['--optimizer', 'lbfgs'], ['--limit', '0'], ['--epochs', 'x'], ['--bogus'], ['--data', 'csv:path=/nonexistent.csv']]) {
      await assert.rejects(capture(() => run(argv)), (e: Error) => ['InvalidParametersError', 'PartitionError'].includes(e.name), argv.join(' '))
    }
  })
})
