/**
 * 2-D scattering transform (Mallat 2012, "Group invariant scattering"; Bruna &
 * Mallat 2013, "Invariant scattering convolution networks", IEEE TPAMI) with
 * Kymatio's Morlet filter bank (Andreux et al. 2020, JMLR, kymatio/scattering2d/
 * filter_bank.py): a fixed, data-independent feature map. Tramer & Boneh (ICLR
 * 2021, "Differentially private learning needs better features") train linear
 * models on these features under DP-SGD; because the map uses no training data it
 * costs no privacy budget.
 *
 *   order 0: S0 x = (x * phi_J)(2^J u)
 *   order 1: S1 x[j, theta] = (|x * psi_{j,theta}| * phi_J)(2^J u)
 *   order 2: S2 x[j1, t1, j2, t2] = (||x * psi_{j1,t1}| * psi_{j2,t2}| * phi_J)(2^J u), j2 > j1
 *
 * Filters as in Kymatio: psi_{j,theta} = Morlet with sigma = 0.8 * 2^j,
 * xi = 3 pi / 4 / 2^j, slant 4 / L, theta = (floor(L - L/2 - 1) - t) pi / L,
 * periodised on the grid, the real part of its DFT kept; phi_J = Gaussian with
 * sigma = 0.8 * 2^(J-1). Differences from Kymatio, stated: images are
 * zero-padded (not reflect-padded) to the next power of two of at least
 * size + 2^J (28 -> 32), every convolution is at full resolution (Kymatio
 * subsamples |x * psi_j1| by 2^j1 first, which only changes aliasing), and the
 * (N / 2^J)^2 output positions are all kept (8 x 8 for MNIST, Kymatio crops 7 x 7).
 *
 * Output per image: channels-last [N/2^J, N/2^J, K] with K = 1 + J L (order 1)
 * or 1 + J L + L^2 J (J - 1) / 2 (order 2). Optional per-example normalisation
 * ('group'): each order's block standardised to mean 0 and variance 1 over its
 * own values, then the whole vector scaled to unit L2 norm; it is a function of
 * one example only (Group Normalisation without learned scale, as in Tramer &
 * Boneh's ScatterNet models), so it is free in privacy too.
 */
import { InvalidParametersError } from '../../util/errors.ts'
import { fftPlan, fft2d, type FftPlan } from './fft.ts'

export interface ScatteringOptions {
  /** Scales J (1..4; default 2). */
  J?: number
  /** Orientations L (1..16; default 8). */
  L?: number
  /** 1 or 2 (default 1). */
  order?: 1 | 2
  /** 'none' or 'group' (default): per-example normalisation, see the file comment. */
  normalize?: 'none' | 'group'
}

export interface ScatteringBank {
  /** Input side (square images). */
  readonly size: number
  /** Padded grid side N (power of two). */
  readonly n: number
  readonly J: number
  readonly L: number
  readonly order: 1 | 2
  readonly normalize: 'none' | 'group'
  /** psi-hat of (j, theta) at index j * L + theta: real, N x N. */
  readonly psi: Float64Array[]
  /** phi_J as a separable periodic kernel: phi(u, v) = g[u] g[v]. */
  readonly phiAxis: Float64Array
  /** phiRows[b * N + v] = g[(b 2^J - v) mod N]: the low-pass at the kept positions. */
  readonly phiRows: Float64Array
  readonly plan: FftPlan
  /** Channels K and output shape [N/2^J, N/2^J, K]. */
  readonly channels: number
  readonly outShape: readonly [number, number, number]
}

/** Periodised anisotropic Gabor on an n x n grid (Kymatio gabor_2d), complex, row-major. */
function gabor(n: number, sigma: number, theta: number, xi: number, slant: number): { re: Float64Array, im: Float64Array } {
  const c = Math.cos(theta)
  const s = Math.sin(theta)
  // curv = R D R^-1 / (2 sigma^2), D = diag(1, slant^2)
  const k = 1 / (2 * sigma * sigma)
  const c00 = (c * c + s * s * slant * slant) * k
  const c01 = (c * s - s * c * slant * slant) * k
  const c11 = (s * s + c * c * slant * slant) * k
  const re = new Float64Array(n * n)
  const im = new Float64Array(n * n)
  for (let ex = -2; ex <= 2; ex++) {
    for (let ey = -2; ey <= 2; ey++) {
      for (let i = 0; i < n; i++) {
        const x = i + ex * n
        for (let j = 0; j < n; j++) {
          const y = j + ey * n
          const mag = Math.exp(-(c00 * x * x + 2 * c01 * x * y + c11 * y * y))
          const ph = (x * c + y * s) * xi
          re[i * n + j] = re[i * n + j]! + mag * Math.cos(ph)
          im[i * n + j] = im[i * n + j]! + mag * Math.sin(ph)
        }
      }
    }
  }
  const norm = 2 * Math.PI * sigma * sigma / slant
  for (let t = 0; t < n * n; t++) { re[t] = re[t]! / norm; im[t] = im[t]! / norm }
  return { re, im }
}

function morletHat(plan: FftPlan, sigma: number, theta: number, xi: number, slant: number): Float64Array {
  const n = plan.n
  const w = gabor(n, sigma, theta, xi, slant)
  const g = gabor(n, sigma, theta, 0, slant)
  // K = sum(wv) / sum(wv_modulus), complex / real-valued sum (the imaginary part of sum g is 0 up to rounding).
  let swr = 0; let swi = 0; let sg = 0
  for (let t = 0; t < n * n; t++) { swr += w.re[t]!; swi += w.im[t]!; sg += g.re[t]! }
  const kr = swr / sg
  const ki = swi / sg
  const re = new Float64Array(n * n)
  const im = new Float64Array(n * n)
  for (let t = 0; t < n * n; t++) {
    re[t] = w.re[t]! - (kr * g.re[t]! - ki * g.im[t]!)
    im[t] = w.im[t]! - (kr * g.im[t]! + ki * g.re[t]!)
  }
  fft2d(plan, re, im)
  return re // Kymatio keeps the real part of the filter's DFT
}

/** Build the filter bank for square images of side `size` (4..256). */
export function scatteringBank(size: number, o: ScatteringOptions = {}): ScatteringBank {
  const J = o.J ?? 2
  const L = o.L ?? 8
  const order = o.order ?? 1
  const normalize = o.normalize ?? 'group'
  if (!Number.isSafeInteger(size) || size < 4 || size > 256) throw new InvalidParametersError(`scattering: image size must be an integer in [4, 256], got ${String(size)}`)
  if (!Number.isSafeInteger(J) || J < 1 || J > 4) throw new InvalidParametersError(`scattering: J must be an integer in [1, 4], got ${String(J)}`)
  if (!Number.isSafeInteger(L) || L < 1 || L > 16) throw new InvalidParametersError(`scattering: L must be an integer in [1, 16], got ${String(L)}`)
  if (order !== 1 && order !== 2) throw new InvalidParametersError(`scattering: order must be 1 or 2, got ${String(order)}`)
  if (normalize !== 'none' && normalize !== 'group') throw new InvalidParametersError(`scattering: normalize must be 'none' or 'group', got ${String(normalize)}`)
  let n = 1
  while (n < size + (1 << J)) n <<= 1
  const plan = fftPlan(n)
  const psi: Float64Array[] = []
  for (let j = 0; j < J; j++) {
    for (let t = 0; t < L; t++) {
      const theta = (Math.floor(L - L / 2 - 1) - t) * Math.PI / L
      psi.push(morletHat(plan, 0.8 * 2 ** j, theta, 3 / 4 * Math.PI / 2 ** j, 4 / L))
    }
  }
  // phi: isotropic Gaussian, sigma = 0.8 * 2^(J-1); periodised, it factors per axis.
  const sigma = 0.8 * 2 ** (J - 1)
  const phiAxis = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    let v = 0
    for (let e = -2; e <= 2; e++) { const x = i + e * n; v += Math.exp(-x * x / (2 * sigma * sigma)) }
    phiAxis[i] = v / Math.sqrt(2 * Math.PI * sigma * sigma)
  }
  const side0 = n >> J
  const phiRows = new Float64Array(side0 * n)
  for (let b = 0; b < side0; b++) for (let v = 0; v < n; v++) phiRows[b * n + v] = phiAxis[(((b << J) - v) % n + n) % n]!
  const channels = 1 + J * L + (order === 2 ? L * L * J * (J - 1) / 2 : 0)
  const side = n >> J
  return { size, n, J, L, order, normalize, psi, phiAxis, phiRows, plan, channels, outShape: [side, side, channels] as const }
}

/** Scratch buffers for one transform (reused across images). */
interface Scratch { xr: Float64Array, xi: Float64Array, ur: Float64Array, ui: Float64Array, vr: Float64Array, vi: Float64Array, rows: Float64Array }

function scratch(n: number): Scratch {
  const a = (): Float64Array => new Float64Array(n * n)
  return { xr: a(), xi: a(), ur: a(), ui: a(), vr: a(), vi: a(), rows: new Float64Array(n * (n >> 0)) }
}

/** out[(a * side + b) * K + ch] = (f * phi)(2^J a, 2^J b): separable periodic low-pass, then subsample. */
function lowpassInto(bank: ScatteringBank, f: Float64Array, rows: Float64Array, out: Float32Array, base: number, ch: number): void {
  const n = bank.n
  const side = n >> bank.J
  const G = bank.phiRows
  const K = bank.channels
  // rows[r * side + b] = sum_v f[r, v] phi[(b 2^J - v) mod n]
  for (let r = 0; r < n; r++) {
    const fo = r * n
    for (let b = 0; b < side; b++) {
      const go = b * n
      let s = 0
      for (let v = 0; v < n; v++) s += f[fo + v]! * G[go + v]!
      rows[r * side + b] = s
    }
  }
  for (let a = 0; a < side; a++) {
    const go = a * n
    for (let b = 0; b < side; b++) {
      let s = 0
      for (let r = 0; r < n; r++) s += rows[r * side + b]! * G[go + r]!
      out[base + (a * side + b) * K + ch] = s
    }
  }
}

/** |ifft(spec * psiHat)| into dst (real, n x n); spec given as (sr, si). */
function waveletModulus(bank: ScatteringBank, sr: Float64Array, si: Float64Array, psiHat: Float64Array, wr: Float64Array, wi: Float64Array): void {
  const nn = bank.n * bank.n
  for (let t = 0; t < nn; t++) { wr[t] = sr[t]! * psiHat[t]!; wi[t] = si[t]! * psiHat[t]! }
  fft2d(bank.plan, wr, wi, true)
  for (let t = 0; t < nn; t++) { const a = wr[t]!; const b = wi[t]!; wr[t] = Math.sqrt(a * a + b * b); wi[t] = 0 }
}

/**
 * Scattering coefficients of one size x size image (row-major, length size^2) into
 * out[base .. base + side^2 K). `s` is scratch space from the same bank size.
 */
function transformOne(bank: ScatteringBank, img: Float32Array, imgOff: number, out: Float32Array, base: number, s: Scratch): void {
  const { n, size, J, L } = bank
  const pad = (n - size) >> 1
  s.xr.fill(0); s.xi.fill(0)
  for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) s.xr[(i + pad) * n + j + pad] = img[imgOff + i * size + j]!
  lowpassInto(bank, s.xr, s.rows, out, base, 0)
  fft2d(bank.plan, s.xr, s.xi)
  let ch = 1
  const firstStart = ch
  for (let j = 0; j < J; j++) {
    for (let t = 0; t < L; t++) {
      waveletModulus(bank, s.xr, s.xi, bank.psi[j * L + t]!, s.ur, s.ui)
      lowpassInto(bank, s.ur, s.rows, out, base, ch++)
      if (bank.order === 2 && j < J - 1) {
        // Second order from this |x * psi_{j,t}|: FFT it once, then every psi_{j2, t2}, j2 > j.
        fft2d(bank.plan, s.ur, s.ui)
        for (let j2 = j + 1; j2 < J; j2++) {
          for (let t2 = 0; t2 < L; t2++) {
            waveletModulus(bank, s.ur, s.ui, bank.psi[j2 * L + t2]!, s.vr, s.vi)
            lowpassInto(bank, s.vr, s.rows, out, base, secondIndex(bank, j, t, j2, t2))
          }
        }
      }
    }
  }
  void firstStart
}

/** Channel of (j1, t1, j2, t2) in the order-2 block, after the 1 + J L first channels. */
function secondIndex(bank: ScatteringBank, j1: number, t1: number, j2: number, t2: number): number {
  const { J, L } = bank
  let k = 0
  for (let a = 0; a < j1; a++) k += (J - 1 - a) * L * L
  k += t1 * (J - 1 - j1) * L + (j2 - j1 - 1) * L + t2
  return 1 + J * L + k
}

function normalizeGroups(bank: ScatteringBank, out: Float32Array, base: number): void {
  const side = bank.outShape[0]
  const P = side * side
  const K = bank.channels
  const blocks: Array<[number, number]> = [[0, 1], [1, 1 + bank.J * bank.L]]
  if (bank.order === 2) blocks.push([1 + bank.J * bank.L, K])
  let total = 0
  for (const [lo, hi] of blocks) {
    let m = 0
    const cnt = P * (hi - lo)
    for (let p = 0; p < P; p++) for (let c = lo; c < hi; c++) m += out[base + p * K + c]!
    m /= cnt
    let v = 0
    for (let p = 0; p < P; p++) for (let c = lo; c < hi; c++) { const d = out[base + p * K + c]! - m; v += d * d }
    const sd = Math.sqrt(v / cnt)
    const inv = sd > 1e-12 ? 1 / sd : 0
    for (let p = 0; p < P; p++) {
      for (let c = lo; c < hi; c++) {
        const z = (out[base + p * K + c]! - m) * inv
        out[base + p * K + c] = z
        total += z * z
      }
    }
  }
  const scale = total > 0 ? 1 / Math.sqrt(total) : 0
  for (let k = 0; k < P * K; k++) out[base + k] = out[base + k]! * scale
}

/**
 * Scattering features of `count` square images of side bank.size stored row-major
 * in x (count * size^2 values, one channel). Returns count * side^2 * K float32 values.
 */
export function scatterImages(bank: ScatteringBank, x: Float32Array, count: number): Float32Array {
  const px = bank.size * bank.size
  if (!(x instanceof Float32Array)) throw new InvalidParametersError('scattering: x must be a Float32Array')
  if (!Number.isSafeInteger(count) || count < 0 || x.length !== count * px) throw new InvalidParametersError(`scattering: x must hold count * ${px} values, got ${x.length} for count ${String(count)}`)
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i]!)) throw new InvalidParametersError(`scattering: pixel ${i} is not finite`)
  const per = bank.outShape[0] * bank.outShape[1] * bank.channels
  const out = new Float32Array(count * per)
  const s = scratch(bank.n)
  for (let i = 0; i < count; i++) {
    transformOne(bank, x, i * px, out, i * per, s)
    if (bank.normalize === 'group') normalizeGroups(bank, out, i * per)
  }
  return out
}
