/**
 * Typed errors of src/model. Tests and callers tell them apart by `err.name`
 * (House style 5).
 */
import { TesseraError } from '../util/errors.ts'

/** Bytes that are not a well-formed IDX file (LeCun's MNIST format). */
export class IdxFormatError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'IdxFormatError'
  }
}

/** A CSV file of user data that cannot be read as label + features. */
export class CsvFormatError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'CsvFormatError'
  }
}

/** A dataset whose arrays disagree with its declared shape or classes. */
export class DatasetError extends TesseraError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'DatasetError'
  }
}

/** A malformed `<dataset>:partition=i/n,...` spec, or an impossible split. */
export class PartitionError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'PartitionError'
  }
}

/** A model spec that names an unknown architecture or impossible shapes. */
export class ModelSpecError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'ModelSpecError'
  }
}

/** A weight vector that does not fit the layout of the network's model spec. */
export class LayoutMismatchError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'LayoutMismatchError'
  }
}

/** Invalid training / DP-SGD / clipping / quantization parameters. */
export class TrainingParamsError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'TrainingParamsError'
  }
}

/** No usable TF.js backend. */
export class BackendError extends TesseraError {
  constructor(message: string) {
    super(message)
    this.name = 'BackendError'
  }
}
