/**
 * Run the privacy matrix's rows whose label contains TEXT, in one process, and write the
 * harness's result files to OUT (same files and format as `tessera sim --out`, so
 * `tessera sim --merge` joins them with matrix shards):
 *
 *   npx tsx docs/results/privacy/run-rows.ts 'update-level' OUT [--seed S]
 *
 * Each row is deterministic given its config and seed, so a row run here gives the same
 * result as the same row inside `tessera sim --matrix privacy`.
 */
import { loadMnist } from '../../../src/model/data-node.ts'
import { runExperiment, type ExperimentResult } from '../../../src/gossip-fl/harness/experiment.ts'
import { initBackend } from '../../../src/model/backend.ts'
import { privacyMatrix } from '../../../src/gossip-fl/harness/matrix.ts'
import { writeResults } from '../../../src/gossip-fl/harness/write-node.ts'

async function main(): Promise<void> {
  const [text, out, flag, seed] = process.argv.slice(2)
  if (text === undefined || out === undefined || (flag !== undefined && (flag !== '--seed' || seed === undefined))) throw new Error('usage: run-rows.ts TEXT OUT [--seed S]')
  const rows = privacyMatrix({ base: { evalEvery: 5, testExamples: 10000, seed: seed ?? '1' } }).filter(c => c.label!.includes(text))
  if (rows.length === 0) throw new Error(`no privacy-matrix row label contains '${text}'`)
  await initBackend({ quiet: true })
  const [train, test] = await Promise.all([loadMnist('train'), loadMnist('test')])
  const results: ExperimentResult[] = []
  for (const cfg of rows) {
    const r = await runExperiment(cfg, { train, test })
    results.push(r)
    console.log(`${r.label}: final ${(100 * r.finalAccuracy).toFixed(2)}% eps record ${r.epsilonRecordLevel ?? '-'} update ${r.epsilonUpdateLevel ?? '-'} (${r.seconds.toFixed(0)} s)`)
    await writeResults(out, results, { title: 'privacy matrix' })
  }
}

main().catch((e: unknown) => { console.error(e); process.exit(1) })
