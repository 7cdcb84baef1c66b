/**
 * One harness run from a JSON config (for the tuning runs in README.md, "How the
 * configuration was chosen"): `tessera sim` has no --features / --sampling-rate flags, so
 * this calls runExperiment (src/gossip-fl/harness/experiment.ts) directly, on MNIST.
 *
 *   npx tsx docs/results/privacy/explore.ts '{"peers":10,"partition":"iid","model":"softmax","features":"scatter",...}'
 *
 * Prints one line per evaluation and a JSON summary (final and tail accuracy, the largest
 * per-peer record-level epsilon, update-level epsilon, seconds).
 */
import { loadMnist } from '../../../src/model/data-node.ts'
import { runExperiment } from '../../../src/gossip-fl/harness/experiment.ts'
import { initBackend } from '../../../src/model/backend.ts'
import type { ExperimentConfig } from '../../../src/gossip-fl/harness/config.ts'

async function main(): Promise<void> {
  const json = process.argv[2]
  if (json === undefined) throw new Error('usage: explore.ts JSON_CONFIG')
  const cfg = JSON.parse(json) as Partial<ExperimentConfig>
  await initBackend({ quiet: true })
  const [train, test] = await Promise.all([loadMnist('train'), loadMnist('test')])
  const r = await runExperiment(cfg, { train, test }, {
    onRound: (rec) => { if (rec.accuracy !== null) console.log(`round ${rec.round} acc ${rec.accuracy.toFixed(4)} honest median norm ${rec.honestMedianNorm.toFixed(3)}`) }
  })
  console.log(JSON.stringify({ label: r.label, final: r.finalAccuracy, tail: r.tailAccuracy, epsilonRecordLevel: r.epsilonRecordLevel, epsilonUpdateLevel: r.epsilonUpdateLevel, seconds: r.seconds, parameters: r.parameters }))
}

main().catch((e: unknown) => { console.error(e); process.exit(1) })
