/**
 * Node edge of the harness: write a run's or a matrix's results to a folder
 * (results.jsonl, results.csv, results.md, summary.json, accuracy.vl.json,
 * accuracy.svg). Everything but the file writes lives in output.ts.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { toCsv, toJsonl, toMarkdown, toPivotMarkdown, toAttackMetricsMarkdown, vegaLiteSpec, renderSvg } from './output.ts'
import type { ExperimentResult } from './experiment.ts'

export async function writeResults(dir: string, results: readonly ExperimentResult[], opts: { title?: string, facet?: 'attack' | 'rule', preamble?: string } = {}): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const spec = vegaLiteSpec(results, { title: opts.title, facet: opts.facet })
  const files: Array<[string, string]> = [
    ['results.jsonl', toJsonl(results)],
    ['results.csv', toCsv(results)],
    ['results.md', (opts.preamble ?? '') + toPivotMarkdown(results) + '\n' + toMarkdown(results, opts.title) + (toAttackMetricsMarkdown(results) === '' ? '' : '\n' + toAttackMetricsMarkdown(results))],
    ['summary.json', JSON.stringify(results.map(({ records, ...rest }) => ({ ...rest, rounds: records.length })), null, 1) + '\n'],
    ['accuracy.vl.json', JSON.stringify(spec, null, 1) + '\n'],
    ['accuracy.svg', await renderSvg(spec)]
  ]
  for (const [name, text] of files) await writeFile(join(dir, name), text)
  return files.map(([n]) => join(dir, n))
}
