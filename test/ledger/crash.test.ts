import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { seededRng } from '../../src/util/rng.ts'
import { Ledger } from '../../src/ledger/ledger.ts'
import { verifier } from './fixture.ts'

const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url))
const KILLS = 22
const BUDGET_MS = 75_000

/** Run the child until `killAfter` ms after its first ack (or after spawn if `early`), SIGKILL it, return its acks. */
async function runAndKill(dir: string, killAfterMs: number, early: boolean): Promise<{ acks: string[], killed: boolean }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], { stdio: ['ignore', 'pipe', 'pipe'] })
  const acks: string[] = []
  let buf = ''
  let stderr = ''
  let timer: NodeJS.Timeout | undefined
  const arm = (): void => { if (timer === undefined) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs) }
  if (early) arm()
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (d: string) => {
    buf += d
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      if (line.startsWith('ack ')) { acks.push(line.slice(4)); arm() }
    }
  })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const safety = setTimeout(() => child.kill('SIGKILL'), 15_000)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])))
  clearTimeout(safety)
  if (timer !== undefined) clearTimeout(timer)
  if (signal !== 'SIGKILL') assert.equal(code, 0, `child failed: ${stderr}`)
  return { acks, killed: signal === 'SIGKILL' }
}

describe('ledger/store durability under kill -9', function () {
  this.timeout(BUDGET_MS + 30_000)
  let dir = ''
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'tessera-crash-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it(`every acknowledged append survives ${KILLS} SIGKILLs at random moments, and the chain verifies after each`, async () => {
    const rng = seededRng('ledger-crash-test')
    const acked: string[] = []
    const start = Date.now()
    let kills = 0
    let midWrite = 0
    for (let i = 0; i < KILLS && Date.now() - start < BUDGET_MS; i++) {
      // Mostly kill while appends are streaming; sometimes during start-up (open + re-verify).
      const early = rng.nextFloat() < 0.2
      const delay = early ? 200 + Math.floor(rng.nextFloat() * 800) : Math.floor(rng.nextFloat() * 300)
      const { acks, killed } = await runAndKill(dir, delay, early)
      if (killed) kills++
      if (acks.length > 0 && !early) midWrite++
      acked.push(...acks)
      // Restart: opening re-verifies every entry (throws on any damage); all acks must be there.
      const ledger = await Ledger.open({ location: dir, verifier })
      for (const cid of acked) assert.ok(await ledger.store.getByCid(cid), `acknowledged entry ${cid} was lost after kill ${i}`)
      assert.ok(ledger.size >= acked.length)
      await ledger.close()
    }
    console.log(`      ${kills} SIGKILLs (${midWrite} while appending), ${acked.length} acknowledged entries, all present, in ${((Date.now() - start) / 1000).toFixed(1)} s`)
    assert.ok(kills >= 20, `only ${kills} kills within the time budget`)
    assert.ok(acked.length > 50)
  })
})
