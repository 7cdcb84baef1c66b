/**
 * `tessera privacy` end to end: spawns ./bin/tessera.js and parses its JSON.
 * Expected values: tensorflow/privacy compute_dp_sgd_privacy_test.py (Test0, Test1)
 * and tutorials/README.md (eps = 3.01 for N=60000, B=256, z=1.1, 60 epochs, classic conversion).
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, resolve } from 'node:path'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

function tessera(args: string[]): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, ['./bin/tessera.js', 'privacy', ...args], { cwd: root, encoding: 'utf8', timeout: 30000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('tessera privacy (CLI)', function () {
  this.timeout(120000)

  it('prints one line of JSON {epsilon, order} matching TF Privacy Test0 (0.7242234026, order 19)', () => {
    const r = tessera(['--examples', '60000', '--batch', '150', '--noise', '1.3', '--epochs', '15', '--delta', '1e-5'])
    assert.equal(r.code, 0, r.stderr)
    const lines = r.stdout.trim().split('\n')
    assert.equal(lines.length, 1)
    const out = JSON.parse(lines[0]!) as { epsilon: number, order: number }
    assert.deepEqual(Object.keys(out).sort(), ['epsilon', 'order'])
    assert.ok(Math.abs(out.epsilon - 0.7242234026109595) < 5e-5 * 0.7242234026109595)
    assert.equal(out.order, 19)
  })

  it('--conversion classic reproduces the tutorial README (eps = 3.01)', () => {
    const r = tessera(['--examples', '60000', '--batch', '256', '--noise', '1.1', '--epochs', '60', '--delta', '1e-5', '--conversion', 'classic'])
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout) as { epsilon: number, order: number }
    assert.equal(Number(out.epsilon.toPrecision(3)), 3.01)
  })

  it('peer-level modes: --rounds-taken (public participation) and --rounds/--participation (secret)', () => {
    const known = tessera(['--rounds-taken', '100', '--noise', '1', '--delta', '1e-5'])
    assert.equal(known.code, 0, known.stderr)
    const k = JSON.parse(known.stdout) as { epsilon: number }
    const poisson = tessera(['--rounds', '100', '--participation', '0.1', '--noise', '1', '--delta', '1e-5'])
    assert.equal(poisson.code, 0, poisson.stderr)
    const p = JSON.parse(poisson.stdout) as { epsilon: number }
    assert.ok(p.epsilon > 0 && p.epsilon < k.epsilon)
  })

  it('--help prints usage and exits 0', () => {
    const r = tessera(['--help'])
    assert.equal(r.code, 0)
    assert.match(r.stdout, /--examples N --batch B --noise Z --epochs E --delta D/)
  })

  it('bad flags exit 1 with a typed error naming the problem, and print nothing on stdout', () => {
    const base = { examples: '60000', batch: '256', noise: '1.1', epochs: '60', delta: '1e-5' }
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ noise: '-1' }, /--noise must be > 0/],
      [{ noise: '0' }, /--noise must be > 0/],
      [{ batch: '70000' }, /--batch \(70000\) must not exceed --examples/],
      [{ delta: '1' }, /--delta must be in \(0, 1\)/],
      [{ delta: '0' }, /--delta must be in \(0, 1\)/],
      [{ epochs: 'abc' }, /--epochs must be a number/],
      [{ examples: '10.5' }, /--examples must be an integer/],
      [{ epochs: '-3' }, /--epochs must be > 0/]
    ]
    for (const [patch, msg] of cases) {
      const flags = { ...base, ...patch }
      const args = Object.entries(flags).map(([k, v]) => `--${k}=${v}`)
      const r = tessera(args)
      assert.equal(r.code, 1, `${JSON.stringify(patch)}: ${r.stderr}`)
      assert.match(r.stderr, /InvalidParametersError/)
      assert.match(r.stderr, msg)
      assert.equal(r.stdout, '')
    }
    const missing = tessera(['--examples', '100', '--batch', '10', '--noise', '1', '--delta', '1e-5'])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /--epochs is required/)
    const unknown = tessera(['--bogus', '1'])
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /InvalidParametersError/)
  })
})
