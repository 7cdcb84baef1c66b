/**
 * Scalar polynomial tools over F_p: Lagrange weights, interpolation checks and
 * Berlekamp-Welch decoding of Reed-Solomon codewords (Shamir shares are exactly
 * an RS codeword: McEliece and Sarwate, "On sharing secrets and Reed-Solomon
 * codes", CACM 1981).
 */
import { add, sub, neg, mul, inv, isFieldElement } from './field.ts'
import { FieldElementError, ShareFormatError, ShareParametersError, TooManyFaultsError, show } from './errors.ts'

/** Check evaluation points: integers in [1, p), pairwise distinct. */
export function assertEvaluationPoints(xs: readonly number[]): void {
  const seen = new Set<number>()
  for (const x of xs) {
    if (!isFieldElement(x) || x === 0) throw new ShareFormatError(`share x must be an integer in [1, p), got ${show(x)}`)
    if (seen.has(x)) throw new ShareFormatError(`duplicate share x = ${x}`)
    seen.add(x)
  }
}

/** Check a list of points: valid distinct xs, ys field elements, same count. */
function assertPointLists(xs: readonly number[], ys: ArrayLike<number>): void {
  if (!Array.isArray(xs)) throw new ShareFormatError('xs must be an array')
  if (ys === null || typeof ys !== 'object' || typeof ys.length !== 'number' || ys.length !== xs.length) throw new ShareFormatError(`need as many values as points (${xs.length})`)
  assertEvaluationPoints(xs)
  for (let j = 0; j < xs.length; j++) if (!isFieldElement(ys[j])) throw new FieldElementError(`value at x = ${xs[j]} must be an integer in [0, p), got ${show(ys[j])}`)
}

function assertDegree(degree: unknown): asserts degree is number {
  if (typeof degree !== 'number' || !Number.isInteger(degree) || degree < 0 || degree > 1 << 17) throw new ShareParametersError(`degree must be an integer in [0, 2^17], got ${show(degree)}`)
}

const weightCache = new Map<string, Uint32Array>()
const WEIGHT_CACHE_MAX = 256

/**
 * Lagrange weights at 0 for the points xs: secret = sum_j w_j * y_j with
 * w_j = prod_{l != j} x_l / (x_l - x_j). Cached per x-set (the same committee
 * reconstructs many vectors from the same holders). Callers must have validated xs.
 */
export function lagrangeWeightsAtZero(xs: readonly number[]): Uint32Array {
  const key = xs.join(',')
  const hit = weightCache.get(key)
  if (hit !== undefined) return hit
  assertEvaluationPoints(xs)
  const w = lagrangeWeightsAt(xs, 0)
  if (weightCache.size >= WEIGHT_CACHE_MAX) weightCache.clear()
  weightCache.set(key, w)
  return w
}

/** Lagrange weights at an arbitrary point: f(at) = sum_j w_j * f(x_j) for deg f < xs.length. */
export function lagrangeWeightsAt(xs: readonly number[], at: number): Uint32Array {
  assertEvaluationPoints(xs)
  if (!isFieldElement(at)) throw new FieldElementError(`evaluation point must be an integer in [0, p), got ${show(at)}`)
  const k = xs.length
  const w = new Uint32Array(k)
  for (let j = 0; j < k; j++) {
    let num = 1
    let den = 1
    const xj = xs[j]!
    for (let l = 0; l < k; l++) {
      if (l === j) continue
      num = mul(num, sub(at, xs[l]!))
      den = mul(den, sub(xj, xs[l]!))
    }
    w[j] = mul(num, inv(den))
  }
  return w
}

/** Evaluate sum_i c[i] x^i (coefficients low to high). */
export function evalPoly(c: ArrayLike<number>, x: number): number {
  if (!isFieldElement(x)) throw new FieldElementError(`evaluation point must be an integer in [0, p), got ${show(x)}`)
  for (let i = 0; i < c.length; i++) if (!isFieldElement(c[i])) throw new FieldElementError(`coefficient ${i} must be an integer in [0, p), got ${show(c[i])}`)
  let acc = 0
  for (let i = c.length - 1; i >= 0; i--) acc = add(mul(acc, x), c[i]!)
  return acc
}

/**
 * Coefficients (low to high, length xs.length) of the unique polynomial of degree
 * < xs.length through the points, by Newton's divided differences.
 */
export function interpolate(xs: readonly number[], ys: ArrayLike<number>): Uint32Array {
  assertPointLists(xs, ys)
  const k = xs.length
  const dd = Array.from({ length: k }, (_, i) => ys[i]!)
  for (let level = 1; level < k; level++) {
    for (let i = k - 1; i >= level; i--) {
      dd[i] = mul(sub(dd[i]!, dd[i - 1]!), inv(sub(xs[i]!, xs[i - level]!)))
    }
  }
  // Expand the Newton form dd[0] + (x - x0)(dd[1] + (x - x1)(...)) into monomials.
  const c = new Uint32Array(k)
  for (let i = k - 1; i >= 0; i--) {
    // c <- c * (x - x_i) + dd[i]
    const xi = xs[i]!
    for (let d = k - 1; d >= 1; d--) c[d] = sub(c[d - 1]!, mul(c[d]!, xi))
    c[0] = add(mul(neg(xi), c[0]!), dd[i]!)
  }
  return c
}

/**
 * True when the points (xs[j], ys[j]) all lie on one polynomial of degree <= degree.
 * Interpolates through the first degree + 1 points and checks the rest.
 */
export function onPolynomial(xs: readonly number[], ys: ArrayLike<number>, degree: number): boolean {
  assertDegree(degree)
  assertPointLists(xs, ys)
  if (xs.length <= degree + 1) return true
  const c = interpolate(xs.slice(0, degree + 1), Array.from({ length: degree + 1 }, (_, i) => ys[i]!))
  for (let j = degree + 1; j < xs.length; j++) if (evalPoly(c, xs[j]!) !== ys[j]) return false
  return true
}

/**
 * Solve A z = b over F_p (A: rows x cols, row-major arrays), returning one solution
 * (free variables set to 0) or null if the system is inconsistent.
 */
function solve(a: number[][], b: number[], cols: number): number[] | null {
  const rows = a.length
  const m = a.map((row, i) => [...row, b[i]!])
  const pivotCol: number[] = []
  let r = 0
  for (let c = 0; c < cols && r < rows; c++) {
    let piv = -1
    for (let i = r; i < rows; i++) if (m[i]![c] !== 0) { piv = i; break }
    if (piv < 0) continue
    const tmp = m[r]!; m[r] = m[piv]!; m[piv] = tmp
    const rowR = m[r]!
    const ic = inv(rowR[c]!)
    for (let k = c; k <= cols; k++) rowR[k] = mul(rowR[k]!, ic)
    for (let i = 0; i < rows; i++) {
      if (i === r) continue
      const rowI = m[i]!
      const f = rowI[c]!
      if (f === 0) continue
      for (let k = c; k <= cols; k++) rowI[k] = sub(rowI[k]!, mul(f, rowR[k]!))
    }
    pivotCol.push(c)
    r++
  }
  for (let i = r; i < rows; i++) if (m[i]![cols] !== 0) return null
  const z = new Array<number>(cols).fill(0)
  for (let i = 0; i < r; i++) z[pivotCol[i]!] = m[i]![cols]!
  return z
}

export interface DecodeResult {
  /** Coefficients (low to high) of the decoded polynomial, degree <= `degree`. */
  poly: Uint32Array
  /** Indices into the input points that disagree with it (the faulty ones). */
  errors: number[]
}

/**
 * Berlekamp-Welch decoding (Welch and Berlekamp, US patent 4,633,470, 1986; see
 * also Gemmell and Sudan, "Highly resilient correctors for polynomials", 1992):
 * given k points of which at most e = floor((k - degree - 1) / 2) are wrong, find
 * the polynomial of degree <= `degree` through the others and name the wrong ones.
 *
 * Unknowns: an error locator E (monic, degree e) and Q = P * E (degree <= e + degree),
 * with Q(x_j) = y_j E(x_j) for all j. Any solution gives Q / E = P when at most e
 * points are wrong (two solutions agree on k > 2e + degree points, so Q1 E2 = Q2 E1).
 * Throws TooManyFaultsError when no such polynomial exists.
 */
export function berlekampWelch(xs: readonly number[], ys: ArrayLike<number>, degree: number): DecodeResult {
  assertDegree(degree)
  assertPointLists(xs, ys)
  const k = xs.length
  const t = degree + 1
  if (k < t) throw new ShareFormatError(`need at least ${t} points to decode degree ${degree}, got ${k}`)
  // Fast path: no error at all.
  if (onPolynomial(xs, ys, degree)) {
    const poly = interpolate(xs.slice(0, t), Array.from({ length: t }, (_, i) => ys[i]!))
    return { poly, errors: [] }
  }
  const e = Math.floor((k - t) / 2)
  if (e === 0) throw new TooManyFaultsError(`points are inconsistent and ${k} points of degree ${degree} leave no redundancy to correct`)
  const cols = e + (e + t) // E_0..E_{e-1}, Q_0..Q_{e+t-1}
  const a: number[][] = []
  const b: number[] = []
  for (let j = 0; j < k; j++) {
    const x = xs[j]!
    const y = ys[j]!
    const row = new Array<number>(cols)
    let xp = 1
    for (let i = 0; i < e + t; i++) {
      if (i < e) row[i] = sub(0, mul(y, xp)) // -y * x^i * E_i
      row[e + i] = xp // Q_i * x^i
      xp = mul(xp, x)
    }
    a.push(row)
    b.push(mul(y, powSmall(x, e))) // y * x^e (monic term of E)
  }
  const z = solve(a, b, cols)
  if (z === null) throw new TooManyFaultsError(`more than ${e} of ${k} points are wrong (Berlekamp-Welch system has no solution)`)
  const E = new Uint32Array(e + 1)
  for (let i = 0; i < e; i++) E[i] = z[i]!
  E[e] = 1
  const Q = new Uint32Array(e + t)
  for (let i = 0; i < e + t; i++) Q[i] = z[e + i]!
  const { quotient, remainderZero } = divideMonic(Q, E)
  if (!remainderZero) throw new TooManyFaultsError(`more than ${e} of ${k} points are wrong (E does not divide Q)`)
  const errors: number[] = []
  for (let j = 0; j < k; j++) if (evalPoly(quotient, xs[j]!) !== ys[j]) errors.push(j)
  if (errors.length > e) throw new TooManyFaultsError(`more than ${e} of ${k} points are wrong`)
  return { poly: quotient, errors }
}

function powSmall(x: number, e: number): number {
  let r = 1
  for (let i = 0; i < e; i++) r = mul(r, x)
  return r
}

/** Q / E for monic E; returns the quotient (length deg Q - deg E + 1) and whether E | Q. */
function divideMonic(Q: Uint32Array, E: Uint32Array): { quotient: Uint32Array, remainderZero: boolean } {
  const r = Uint32Array.from(Q)
  const de = E.length - 1
  const dq = Q.length - 1
  const quotient = new Uint32Array(dq - de + 1)
  for (let i = dq - de; i >= 0; i--) {
    const c = r[i + de]!
    quotient[i] = c
    if (c === 0) continue
    for (let l = 0; l <= de; l++) r[i + l] = sub(r[i + l]!, mul(c, E[l]!))
  }
  for (let i = 0; i < de; i++) if (r[i] !== 0) return { quotient, remainderZero: false }
  return { quotient, remainderZero: true }
}
