/**
 * Users' own tabular data: a CSV file with one integer class label column and
 * numeric feature columns. Pure over a string (the Node loader reads the file;
 * the browser passes a File's text).
 *
 * Accepted: ',' or ';' or tab delimiters (one per file), optional header row
 * (detected when its cells are not all numbers), CRLF or LF line ends, blank
 * lines, cells optionally wrapped in double quotes. Numbers only: quoted
 * delimiters inside cells are not supported (they are not numeric anyway).
 */
import { CsvFormatError } from './errors.ts'
import { makeDataset, featureCount, type Dataset } from './dataset.ts'

export interface CsvOptions {
  /** Column holding the label: an index (0-based), 'first', 'last', or a header name. Default 0. */
  labelColumn?: number | 'first' | 'last' | string
  /** true / false, or 'auto' (default): a first row with any non-numeric cell is a header. */
  header?: boolean | 'auto'
  /** Number of classes; default max label + 1 (at least 2). */
  classes?: number
  /** Features are divided by this (e.g. 255 for pixel bytes). Default 1. */
  scale?: number
  /** Shape of one example (product must equal the feature count). Default [features]. */
  shape?: number[]
  delimiter?: ',' | ';' | '\t'
  /** Refuse files with more data rows than this (default 10,000,000). */
  maxRows?: number
}

export function parseCsv(text: string, options: CsvOptions = {}): Dataset {
  if (typeof text !== 'string') throw new CsvFormatError('input must be a string')
  const scale = options.scale ?? 1
  if (!Number.isFinite(scale) || scale <= 0) throw new CsvFormatError(`scale must be a positive number, got ${String(scale)}`)
  const maxRows = options.maxRows ?? 10_000_000
  const lines = text.split(/\r?\n/)
  let li = 0
  while (li < lines.length && lines[li]!.trim() === '') li++
  if (li === lines.length) throw new CsvFormatError('no rows')
  const delim = options.delimiter ?? detectDelimiter(lines[li]!)
  const split = (line: string): string[] => line.split(delim).map((c) => c.trim().replace(/^"(.*)"$/, '$1').trim())

  let headerCells: string[] | undefined
  const first = split(lines[li]!)
  const firstNumeric = first.every((c) => c !== '' && Number.isFinite(Number(c)))
  if (options.header === true || (options.header !== false && !firstNumeric)) {
    headerCells = first
    li++
  }
  const width = headerCells?.length ?? first.length
  if (width < 2) throw new CsvFormatError('need a label column and at least one feature column')
  const labelCol = resolveLabelColumn(options.labelColumn ?? 0, width, headerCells)

  const rows: number[][] = []
  const labels: number[] = []
  for (; li < lines.length; li++) {
    const line = lines[li]!
    if (line.trim() === '') continue
    if (rows.length >= maxRows) throw new CsvFormatError(`more than ${maxRows} data rows`)
    const cells = split(line)
    if (cells.length !== width) throw new CsvFormatError(`line ${li + 1}: ${cells.length} cells, expected ${width}`)
    const feats: number[] = []
    for (let c = 0; c < width; c++) {
      const v = cells[c] === '' ? NaN : Number(cells[c])
      if (!Number.isFinite(v)) throw new CsvFormatError(`line ${li + 1}, column ${c + 1}: '${cells[c]!.slice(0, 40)}' is not a finite number`)
      if (c === labelCol) {
        if (!Number.isInteger(v) || v < 0 || v > 255) throw new CsvFormatError(`line ${li + 1}: label '${cells[c]}' is not an integer in [0, 255]`)
        labels.push(v)
      } else {
        feats.push(v / scale)
      }
    }
    rows.push(feats)
  }
  if (rows.length === 0) throw new CsvFormatError('no data rows')
  const f = width - 1
  const shape = options.shape ?? [f]
  let sf: number
  try { sf = featureCount(shape) } catch (e) { throw new CsvFormatError((e as Error).message) }
  if (sf !== f) throw new CsvFormatError(`shape ${JSON.stringify(shape)} has ${sf} features, the file has ${f}`)
  const maxLabel = labels.reduce((a, b) => Math.max(a, b), 0)
  const classes = options.classes ?? Math.max(2, maxLabel + 1)
  if (maxLabel >= classes) throw new CsvFormatError(`label ${maxLabel} is not below classes = ${classes}`)
  const x = new Float32Array(rows.length * f)
  rows.forEach((r, i) => x.set(r, i * f))
  try {
    return makeDataset(x, Uint8Array.from(labels), shape, classes)
  } catch (e) {
    throw new CsvFormatError((e as Error).message)
  }
}

function detectDelimiter(line: string): ',' | ';' | '\t' {
  const counts = ([',', ';', '\t'] as const).map((d) => [d, line.split(d).length] as const)
  counts.sort((a, b) => b[1] - a[1])
  return counts[0]![0]
}

function resolveLabelColumn(col: number | string, width: number, header?: string[]): number {
  if (col === 'first') return 0
  if (col === 'last') return width - 1
  if (typeof col === 'number') {
    if (!Number.isInteger(col) || col < 0 || col >= width) throw new CsvFormatError(`label column ${col} out of range [0, ${width})`)
    return col
  }
  const i = header?.indexOf(col) ?? -1
  if (i < 0) throw new CsvFormatError(`no header column named '${col}'`)
  return i
}
