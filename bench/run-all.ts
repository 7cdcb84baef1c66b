/**
 * Runs every benchmark in bench/ one after another (never in parallel: they
 * measure wall time on a 2-core machine) and writes each one's JSON figures to
 * bench/results/<name>.json, then prints a combined JSON object.
 *
 *   npm run bench                    # all
 *   npm run bench -- secret-sharing  # some, by name
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const wanted = process.argv.slice(2)
const names = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run-all.ts')
  .map((f) => f.slice(0, -3))
  .filter((n) => wanted.length === 0 || wanted.includes(n))
  .sort()

const outDir = join(here, 'results')
mkdirSync(outDir, { recursive: true })
const combined: Record<string, unknown> = {}
let failed = 0
for (const name of names) {
  process.stderr.write(`bench ${name} ...\n`)
  const started = Date.now()
  const res = spawnSync(process.execPath, ['--import', 'tsx', join(here, `${name}.ts`)], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60_000
  })
  // Each bench prints one JSON document on stdout (possibly after progress lines on stderr).
  const text = (res.stdout ?? '').trim()
  const start = text.indexOf('{')
  let figures: unknown
  try {
    figures = JSON.parse(text.slice(start))
  } catch {
    figures = { error: `no JSON on stdout (exit ${String(res.status)}${res.signal !== null ? `, ${res.signal}` : ''})`, stdout: text.slice(-2000) }
    failed++
  }
  combined[name] = figures
  writeFileSync(join(outDir, `${name}.json`), JSON.stringify({ bench: name, date: new Date().toISOString(), seconds: (Date.now() - started) / 1000, figures }, null, 2) + '\n')
}
console.log(JSON.stringify(combined, null, 2))
process.exitCode = failed === 0 ? 0 : 1
