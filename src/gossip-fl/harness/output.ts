/**
 * Result formats of the harness: per-round JSON lines, a per-round CSV, a
 * Markdown summary table, and a Vega-Lite spec (accuracy against round, one
 * line per run) rendered to SVG headlessly with vega's View.toSVG(). The same
 * spec renders in a browser (vega-embed or the Vega editor). Pure: strings in,
 * strings out; writing files is the caller's (write-node.ts).
 */
import type { ExperimentResult, RoundRecord } from './experiment.ts'

const CSV_COLUMNS: ReadonlyArray<keyof RoundRecord> = ['label', 'round', 'accuracy', 'groups', 'refused', 'blamed', 'far', 'retries', 'honestMedianNorm', 'seconds']

export function toJsonl(results: readonly ExperimentResult[]): string {
  return results.flatMap(r => r.records.map(rec => JSON.stringify({ ...rec, seed: r.config.seed }))).join('\n') + '\n'
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return ''
  const s = typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(6)) : String(v)
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function toCsv(results: readonly ExperimentResult[]): string {
  const lines = [CSV_COLUMNS.join(',')]
  for (const r of results) for (const rec of r.records) lines.push(CSV_COLUMNS.map(k => csvCell(rec[k])).join(','))
  return lines.join('\n') + '\n'
}

function pct(x: number | null): string { return x === null || !Number.isFinite(x) ? 'n/a' : (100 * x).toFixed(1) }
function eps(x: number | null): string { return x === null ? '-' : Number.isFinite(x) ? x.toFixed(2) : 'inf' }

/** One row per run: defence, attack, final and tail accuracy, privacy, time. */
export function toMarkdown(results: readonly ExperimentResult[], title = 'Results'): string {
  const out = [`### ${title}`, '', '| run | rule | g | norm check | attack | byz | rounds | final acc % | mean of last 3 evals % | eps update-level | eps record-level | MI AUC | seconds |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
  for (const r of results) {
    const c = r.config
    out.push(`| ${r.label.replace(/\|/g, '\\|')} | ${c.normCheck ? c.rule : 'mean (undefended)'} | ${c.group} | ${c.normCheck ? 'on' : 'off'} | ${c.attack} | ${c.byzantine} | ${c.rounds} | ${pct(r.finalAccuracy)} | ${pct(r.tailAccuracy)} | ${eps(r.epsilonUpdateLevel)} | ${eps(r.epsilonRecordLevel)} | ${r.membership == null ? '-' : r.membership.auc.toFixed(3)} | ${r.seconds.toFixed(0)} |`)
  }
  return out.join('\n') + '\n'
}

function num(x: number | null | undefined, digits = 3): string { return x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits) }

/**
 * The attack-specific metrics, one row per run that has any: backdoor accuracy
 * (model replacement), rounds with a censoring leader and whether the audit
 * charged it, mean reputation of honest and Byzantine peers, Byzantine peers
 * found in far groups, and the shadow-model membership attack beside the DP bound.
 * Empty string when no run has any.
 */
export function toAttackMetricsMarkdown(results: readonly ExperimentResult[], title = 'attack metrics'): string {
  const rows = results.filter(r => r.backdoorAccuracy != null || r.reputation != null || r.shadowMembership != null)
  if (rows.length === 0) return ''
  const out = [`### ${title}`, '',
    '| run | final acc % | backdoor acc % | rounds censored (leader charged) | reputation honest / byzantine | byzantine in far groups | MI loss AUC global / local | MI shadow AUC global / local | shadow adv. global / local | DP bound global / local |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
  for (const r of rows) {
    const censored = r.records.filter(x => (x.censored ?? 0) > 0).length
    const charged = r.records.filter(x => x.leaderCharged === true).length
    const far = r.records.reduce((a, x) => a + (x.byzantineFar ?? 0), 0)
    const sm = r.shadowMembership ?? null
    out.push(`| ${r.label.replace(/\|/g, '\\|')} | ${pct(r.finalAccuracy)} | ${r.backdoorAccuracy == null ? '-' : pct(r.backdoorAccuracy)} | ${censored} (${charged}) | ${r.reputation == null ? '-' : `${num(r.reputation.honest)} / ${num(r.reputation.byzantine)}`} | ${far} | ${r.membership == null ? '-' : num(r.membership.auc)} / ${sm === null ? '-' : num(sm.lossThresholdLocal.auc)} | ${sm === null ? '-' : `${num(sm.global.auc)} / ${num(sm.local.auc)}`} | ${sm === null ? '-' : `${num(sm.global.advantage)} / ${num(sm.local.advantage)}`} | ${sm === null ? '-' : `${num(sm.dpBoundGlobal)} / ${num(sm.dpBoundLocal)}`} |`)
  }
  return out.join('\n') + '\n'
}

/**
 * Defence x attack table (a matrix at a glance): one row per defence (the label
 * before ' | '), one column per attack, cells = final accuracy % (mean of the
 * last 3 evaluations in parentheses).
 */
export function toPivotMarkdown(results: readonly ExperimentResult[], title = 'final test accuracy % (mean of last 3 evaluations)'): string {
  const defence = (r: ExperimentResult): string => r.label.split(' | ')[0]!
  const attacks = [...new Set(results.map(r => r.config.attack))]
  const rows = [...new Set(results.map(defence))]
  const out = [`### ${title}`, '', `| defence | ${attacks.join(' | ')} |`, `| --- | ${attacks.map(() => '---').join(' | ')} |`]
  for (const row of rows) {
    const cells = attacks.map(a => {
      const r = results.find(x => defence(x) === row && x.config.attack === a)
      return r === undefined ? ' ' : `${pct(r.finalAccuracy)} (${pct(r.tailAccuracy)})`
    })
    out.push(`| ${row} | ${cells.join(' | ')} |`)
  }
  return out.join('\n') + '\n'
}

/** Accuracy against round, one coloured line per run label (optionally faceted by a config field). */
export function vegaLiteSpec(results: readonly ExperimentResult[], opts: { title?: string, facet?: 'attack' | 'rule' } = {}): Record<string, unknown> {
  const values = results.flatMap(r => r.records.filter(x => x.accuracy !== null).map(x => ({
    run: r.label, defence: r.label.split(' | ')[0], round: x.round, accuracy: x.accuracy, attack: r.config.attack, rule: r.config.normCheck ? `${r.config.rule} g=${r.config.group}` : 'undefended mean'
  })))
  const layer = {
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'round', type: 'quantitative', title: 'round' },
      y: { field: 'accuracy', type: 'quantitative', title: 'test accuracy', scale: { domain: [0, 1] } },
      color: { field: opts.facet === 'attack' ? 'defence' : opts.facet === 'rule' ? 'attack' : 'run', type: 'nominal' }
    }
  }
  const base: Record<string, unknown> = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title: opts.title ?? 'accuracy against round', data: { values } }
  if (opts.facet !== undefined) return { ...base, facet: { field: opts.facet, type: 'nominal', columns: 3 }, spec: { width: 240, height: 160, ...layer } }
  return { ...base, width: 560, height: 320, ...layer }
}

/** Compile the Vega-Lite spec and render SVG without a browser (vega View with renderer 'none'). */
export async function renderSvg(vlSpec: Record<string, unknown>): Promise<string> {
  const vl = await import('vega-lite')
  const vega = await import('vega')
  const compiled = vl.compile(vlSpec as unknown as Parameters<typeof vl.compile>[0]).spec
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}
