/**
 * Strict parser of the IDX format in which MNIST is distributed (LeCun, Cortes,
 * Burges, "THE MNIST DATABASE of handwritten digits", file-format section):
 *
 *   bytes 0-1  0x00 0x00
 *   byte  2    element type (0x08 = unsigned byte; the only type MNIST uses)
 *   byte  3    number of dimensions d
 *   then d big-endian uint32 sizes, then the elements, row-major.
 *
 * Pure over Uint8Array (no Node imports) so the browser can parse a fetched file.
 * Every malformation (short header, wrong magic, unsupported type, zero or huge
 * dimensions, missing or trailing bytes) is an IdxFormatError, never a crash.
 */
import { IdxFormatError } from './errors.ts'
import { makeDataset, type Dataset } from './dataset.ts'

export interface IdxArray {
  /** Sizes of each dimension, e.g. [60000, 28, 28]. */
  readonly dims: readonly number[]
  /** The elements (a view into the input bytes, no copy). */
  readonly data: Uint8Array
}

/** Largest element count accepted (2^31 - 1): bounds allocation on hostile headers. */
export const IDX_MAX_ELEMENTS = 0x7fffffff
const UBYTE = 0x08

/** Parse an IDX file of unsigned bytes. */
export function parseIdx(bytes: Uint8Array, expectDims?: number): IdxArray {
  if (!(bytes instanceof Uint8Array)) throw new IdxFormatError('input must be a Uint8Array')
  if (bytes.length < 4) throw new IdxFormatError(`file of ${bytes.length} bytes is shorter than the 4-byte magic number`)
  if (bytes[0] !== 0 || bytes[1] !== 0) throw new IdxFormatError(`bad magic: first two bytes must be zero, got 0x${hex(bytes[0]!)} 0x${hex(bytes[1]!)}`)
  const type = bytes[2]!
  if (type !== UBYTE) throw new IdxFormatError(`unsupported element type 0x${hex(type)} (only 0x08 unsigned byte is supported)`)
  const d = bytes[3]!
  if (d === 0) throw new IdxFormatError('zero dimensions')
  if (expectDims !== undefined && d !== expectDims) throw new IdxFormatError(`expected ${expectDims} dimensions, got ${d}`)
  const headerLen = 4 + 4 * d
  if (bytes.length < headerLen) throw new IdxFormatError(`file of ${bytes.length} bytes is shorter than its ${headerLen}-byte header`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const dims: number[] = []
  let count = 1
  for (let i = 0; i < d; i++) {
    const size = view.getUint32(4 + 4 * i, false)
    if (size === 0) throw new IdxFormatError(`dimension ${i} has size 0`)
    count *= size
    if (count > IDX_MAX_ELEMENTS) throw new IdxFormatError(`header declares more than ${IDX_MAX_ELEMENTS} elements`)
    dims.push(size)
  }
  const expected = headerLen + count
  if (bytes.length !== expected) {
    throw new IdxFormatError(`header declares ${count} elements (${expected} bytes in all), file has ${bytes.length} bytes`)
  }
  return { dims, data: bytes.subarray(headerLen) }
}

/**
 * Build a Dataset from an images file (3-d: n x rows x cols) and a labels file
 * (1-d: n). Pixels are scaled to [0, 1] by / 255; labels must be < classes.
 */
export function datasetFromIdx(imageBytes: Uint8Array, labelBytes: Uint8Array, classes = 10): Dataset {
  const images = parseIdx(imageBytes, 3)
  const labels = parseIdx(labelBytes, 1)
  const [n, rows, cols] = images.dims as [number, number, number]
  if (labels.dims[0] !== n) throw new IdxFormatError(`images file has ${n} images but labels file has ${labels.dims[0]} labels`)
  for (let i = 0; i < n; i++) {
    if (labels.data[i]! >= classes) throw new IdxFormatError(`label ${labels.data[i]} at index ${i} is not below ${classes}`)
  }
  const x = new Float32Array(images.data.length)
  for (let i = 0; i < x.length; i++) x[i] = images.data[i]! / 255
  return makeDataset(x, new Uint8Array(labels.data), [rows, cols, 1], classes)
}

/** Encode an IDX file of unsigned bytes (used by tests and to export partitions). */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  let count = 1
  for (const s of dims) count *= s
  if (dims.length === 0 || dims.length > 255 || count !== data.length) throw new IdxFormatError('dims do not match data length')
  const out = new Uint8Array(4 + 4 * dims.length + data.length)
  const view = new DataView(out.buffer)
  out[2] = UBYTE
  out[3] = dims.length
  dims.forEach((s, i) => view.setUint32(4 + 4 * i, s, false))
  out.set(data, 4 + 4 * dims.length)
  return out
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0')
}
