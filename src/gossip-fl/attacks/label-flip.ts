/**
 * Label flipping, a data-side attack: the attacker trains honestly on relabelled
 * data, and its update then passes any check on the update itself (Biggio,
 * Nelson, Laskov, "Poisoning Attacks against Support Vector Machines", ICML 2012;
 * in federated learning Tolpegin, Truex, Gursoy, Liu, "Data Poisoning Attacks
 * Against Federated Learning Systems", ESORICS 2020). For the data pipeline:
 *
 * - 'reverse': y -> (numClasses - 1) - y (e.g. 9 - y on MNIST, as in Allen-Zhu et
 *   al. ICLR 2021 and Karimireddy et al. ICML 2021);
 * - 'targeted': source -> target, every other label unchanged (Tolpegin et al.).
 */
import { InvalidParametersError } from '../../util/errors.ts'
import { checkInteger, checkOneOf, resolveParams } from '../aggregation/params.ts'
import { AttackInputError } from './errors.ts'

export interface LabelFlipParams {
  readonly numClasses: number
  readonly mode: 'reverse' | 'targeted'
  /** Targeted mode: the class relabelled... */
  readonly source: number | null
  /** ...as this class. */
  readonly target: number | null
}

const defaults: Readonly<LabelFlipParams> = Object.freeze({ numClasses: 10, mode: 'reverse', source: null, target: null })

export function resolveLabelFlipParams(partial?: Partial<LabelFlipParams>): Readonly<LabelFlipParams> {
  return resolveParams('label-flip', defaults, partial, (p) => {
    checkInteger('label-flip.numClasses', p.numClasses, 2, 1 << 24)
    checkOneOf('label-flip.mode', p.mode, ['reverse', 'targeted'] as const)
    if (p.mode === 'targeted') {
      if (p.source === null || p.target === null) throw new InvalidParametersError('label-flip: targeted mode needs source and target')
      checkInteger('label-flip.source', p.source, 0, p.numClasses - 1)
      checkInteger('label-flip.target', p.target, 0, p.numClasses - 1)
    }
  })
}

/** The flipped class of label y. */
export function flipLabel(y: number, params?: Partial<LabelFlipParams>): number {
  const p = resolveLabelFlipParams(params)
  return flipOne(y, p)
}

function flipOne(y: number, p: Readonly<LabelFlipParams>): number {
  if (!Number.isInteger(y) || y < 0 || y >= p.numClasses) throw new AttackInputError(`label-flip: label ${String(y)} is not a class in [0, ${p.numClasses})`)
  if (p.mode === 'reverse') return p.numClasses - 1 - y
  return y === p.source ? p.target! : y
}

type LabelArray = Uint8Array | Uint16Array | Int32Array | Uint32Array | Float32Array | number[]

/** A new array of the same type with every label flipped. */
export function flipLabels<T extends LabelArray>(labels: T, params?: Partial<LabelFlipParams>): T {
  const p = resolveLabelFlipParams(params)
  if (!Array.isArray(labels) && !ArrayBuffer.isView(labels)) throw new AttackInputError('label-flip: labels must be an array or typed array')
  const out = labels.slice() as T
  for (let i = 0; i < out.length; i++) out[i] = flipOne(labels[i], p)
  return out
}

/**
 * Flip one-hot labels (rows of numClasses floats, as fed to TF.js): the class
 * columns are permuted by the same map. Rows that are not one-hot are refused.
 */
export function flipOneHot(oneHot: Float32Array, params?: Partial<LabelFlipParams>): Float32Array {
  const p = resolveLabelFlipParams(params)
  const k = p.numClasses
  if (!(oneHot instanceof Float32Array) || oneHot.length % k !== 0) throw new AttackInputError(`label-flip: one-hot data must be a Float32Array with a multiple of ${k} entries`)
  const out = new Float32Array(oneHot.length)
  for (let r = 0; r < oneHot.length; r += k) {
    let cls = -1
    for (let c = 0; c < k; c++) {
      const x = oneHot[r + c]
      if (x === 1 && cls === -1) cls = c
      else if (x !== 0) throw new AttackInputError(`label-flip: row ${r / k} is not one-hot`)
    }
    if (cls === -1) throw new AttackInputError(`label-flip: row ${r / k} is not one-hot`)
    out[r + flipOne(cls, p)] = 1
  }
  return out
}
