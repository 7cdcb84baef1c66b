/**
 * The main job (`npm start`, examples/node/main.ts) in a reduced form: 4 `tessera
 * peer` processes on 127.0.0.1, one of them a sign-flip attacker, 2 rounds of
 * the full protocol. Asserts what the job promises: exit 0, every round
 * completed, every peer's ledger re-verified and ending at the same checkpoint,
 * and test accuracy well above chance (10%) after 2 rounds (measured 0.74 in a
 * development run; the floor 0.5 leaves room for a busy machine's retries).
 *
 * It starts real processes: about 30 s to start and 10 s a round on a quiet
 * 2-core machine, more when round 1 needs a retry (docs/architecture/main-job.md).
 */
import { describe, it } from 'mocha'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

interface Summary {
  code: number
  completed: number
  rounds: number
  finalAccuracy: number | null
  ledgersVerified: boolean
  sameLastCheckpoint: boolean
  perRound: Array<{ round: number, acc: number | null }>
}

function runMain (env: Record<string, string>, limitMs: number): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'examples', 'node', 'main.ts')], {
      cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    // Bounded: SIGTERM makes main.ts kill its peers and remove its temp dir.
    const timer = setTimeout(() => { child.kill('SIGTERM') }, limitMs)
    child.on('error', reject)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

describe('examples/node/main.ts (npm start), reduced: 4 peers, 1 sign-flip attacker, 2 rounds', function () {
  this.timeout(300_000)

  it('exits 0 with every round done, every ledger verified and the same last checkpoint, accuracy above 0.5', async () => {
    const out = await mkdtemp(join(tmpdir(), 'tessera-main-job-'))
    try {
      const r = await runMain({ TESSERA_PEERS: '4', TESSERA_ROUNDS: '2', TESSERA_BYZANTINE: '1', TESSERA_OUT: out }, 280_000)
      assert.equal(r.code, 0, `exit ${String(r.code)}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`)
      assert.match(r.stdout, /ledgers: 4\/4 re-verified entry by entry .*: ok; same last checkpoint on every peer: yes/)
      assert.match(r.stdout, /round \| accuracy \| groups/)
      const s = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Summary
      assert.equal(s.code, 0)
      assert.equal(s.completed, 2)
      assert.equal(s.ledgersVerified, true)
      assert.equal(s.sameLastCheckpoint, true)
      assert.deepEqual(s.perRound.map(x => x.round), [1, 2])
      assert.ok(s.finalAccuracy !== null && s.finalAccuracy > 0.5, `final accuracy ${String(s.finalAccuracy)}`)
      const svg = await readFile(join(out, 'accuracy.svg'), 'utf8')
      assert.match(svg, /^<svg/)
    } finally {
      await rm(out, { recursive: true, force: true })
    }
  })
})
