/**
 * Accuracy against per-peer epsilon for the privacy matrix: reads the harness's
 * summary.json in DIR and writes DIR/accuracy-epsilon.vl.json and DIR/accuracy-epsilon.svg
 * (Vega-Lite, rendered headlessly with the harness's renderSvg).
 *
 *   npx tsx docs/results/privacy/plot-epsilon.ts docs/results/privacy
 *
 * x: the accountant's epsilon per peer at delta 1e-5 (record-level for DP-SGD rows, the
 * largest over the peers; peer-level for update-level rows); rows without noise are drawn
 * at x = 1000 and labelled "no DP". y: final test accuracy (10,000 images).
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { renderSvg } from '../../../src/gossip-fl/harness/output.ts'

interface Row { label: string, finalAccuracy: number, tailAccuracy: number, epsilonUpdateLevel: number | null, epsilonRecordLevel: number | null }

const NO_DP_X = 1000

async function main(): Promise<void> {
  const dir = process.argv[2]
  if (dir === undefined) throw new Error('usage: plot-epsilon.ts DIR (with summary.json)')
  const rows = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as Row[]
  const values = rows.map(r => {
    const record = r.epsilonRecordLevel
    const update = r.epsilonUpdateLevel
    const mechanism = record !== null ? 'record-level DP-SGD (epsilon per record, max over peers)' : update !== null ? 'update-level noise (epsilon per peer)' : 'no noise'
    const eps = record ?? update
    return { run: r.label, mechanism, epsilon: eps === null || !Number.isFinite(eps) ? NO_DP_X : eps, epsilonText: eps === null ? 'no DP' : eps.toFixed(2), accuracy: r.finalAccuracy }
  })
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'privacy matrix: final MNIST test accuracy against epsilon per peer (delta 1e-5)',
    data: { values },
    width: 560,
    height: 340,
    layer: [
      { mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' }, encoding: { y: { datum: 0.95 } } },
      { mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' }, encoding: { x: { datum: 2 } } },
      {
        mark: { type: 'point', filled: true, size: 110 },
        encoding: {
          x: { field: 'epsilon', type: 'quantitative', scale: { type: 'log', domain: [0.5, 2000], nice: false }, title: 'epsilon per peer (log; no DP drawn at 1000)' },
          y: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1] }, title: 'final test accuracy' },
          color: { field: 'run', type: 'nominal', legend: { orient: 'bottom', columns: 1, labelLimit: 420 } },
          shape: { field: 'mechanism', type: 'nominal', legend: { orient: 'bottom', columns: 1, labelLimit: 420 } },
          tooltip: [{ field: 'run' }, { field: 'epsilonText', title: 'epsilon' }, { field: 'accuracy', format: '.3f' }]
        }
      }
    ]
  }
  await writeFile(join(dir, 'accuracy-epsilon.vl.json'), JSON.stringify(spec, null, 1) + '\n')
  await writeFile(join(dir, 'accuracy-epsilon.svg'), await renderSvg(spec))
  console.log(`wrote ${join(dir, 'accuracy-epsilon.vl.json')} and .svg (${values.length} runs)`)
}

main().catch((e: unknown) => { console.error(e); process.exit(1) })
