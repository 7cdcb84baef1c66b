/**
 * RDP accountant speed: the time to compute one DP-SGD epsilon (the full curve on
 * an order list, then the conversion) and one peer-ledger budget check, median
 * wall time of RUNS runs after one warm-up. The q = 1 closed form on the same
 * orders is timed in the same run as the reference (it is the floor: one division
 * per order), and the ratio reported; the exact signed series is timed too.
 *
 *   npx tsx bench/privacy.ts [--runs 5]
 *
 * Prints one JSON object on stdout. A `tessera privacy` call should cost well
 * under 100 ms of accounting on a 2-core machine, so the CLI answers at once and
 * a browser peer can re-check its budget every round.
 */
import { parseFlags, numberFlag } from '../src/util/args.ts'
import { computeRdp, DEFAULT_RDP_ORDERS, DP_SGD_ORDERS } from '../src/model/privacy/rdp.ts'
import { epsilonFromRdp } from '../src/model/privacy/conversion.ts'
import { computeDpSgdPrivacy } from '../src/model/privacy/dpsgd.ts'
import { PrivacyLedger } from '../src/model/privacy/ledger.ts'

const { values } = parseFlags(process.argv.slice(2), { runs: { type: 'string' } })
const runs = Math.max(5, numberFlag(values, 'runs', 5))

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

function time(fn: () => unknown): number {
  fn()
  const t: number[] = []
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now()
    fn()
    t.push(performance.now() - t0)
  }
  return Number(median(t).toFixed(3))
}

const tutorial = { examples: 60000, batchSize: 256, noiseMultiplier: 1.1, epochs: 60, delta: 1e-5 }
const dpSgdMs = time(() => computeDpSgdPrivacy(tutorial))
const defaultOrdersMs = time(() => epsilonFromRdp(DEFAULT_RDP_ORDERS, computeRdp(256 / 60000, 1.1, 14063, DEFAULT_RDP_ORDERS), 1e-5))
const signedMs = time(() => computeRdp(256 / 60000, 1.1, 14063, DEFAULT_RDP_ORDERS, { fractionalSeries: 'signed' }))
const closedFormMs = time(() => epsilonFromRdp(DEFAULT_RDP_ORDERS, computeRdp(1, 1.1, 14063, DEFAULT_RDP_ORDERS), 1e-5))
// A peer with 200 recorded rounds asks whether it can afford one more (RDP of the mechanism cached after the first call).
let ledger = PrivacyLedger.create({ unit: 'peer', delta: 1e-5, epsilonBudget: 1e9, orders: DEFAULT_RDP_ORDERS })
for (let r = 0; r < 200; r++) ledger = ledger.record(r, { kind: 'update', noiseMultiplier: 1.0, sampling: 0.1 })
const ledgerCheckMs = time(() => ledger.check({ kind: 'update', noiseMultiplier: 1.0, sampling: 0.1 }))

console.log(JSON.stringify({
  bench: 'privacy',
  runs,
  dpSgdEpsilon: { orders: DP_SGD_ORDERS.length, medianMs: dpSgdMs, result: computeDpSgdPrivacy(tutorial) },
  defaultOrdersEpsilon: { orders: DEFAULT_RDP_ORDERS.length, medianMs: defaultOrdersMs },
  signedSeriesRdp: { orders: DEFAULT_RDP_ORDERS.length, medianMs: signedMs },
  reference: { what: 'q = 1 closed form on the same orders + conversion', medianMs: closedFormMs },
  ratioDefaultOrdersToReference: Number((defaultOrdersMs / Math.max(closedFormMs, 1e-3)).toFixed(1)),
  ledgerCheck: { recordedRounds: 200, medianMs: ledgerCheckMs },
  note: 'machine shared with other jobs while measured; re-measure on a quiet machine'
}))
