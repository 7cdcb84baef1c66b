/**
 * `tessera privacy`: epsilon of DP-SGD (record level) or of a peer's rounds (peer
 * level) from the RDP accountant, printed as one line of JSON.
 *
 *   tessera privacy --examples 60000 --batch 256 --noise 1.1 --epochs 60 --delta 1e-5
 *   {"epsilon":2.597079519656538,"order":8}
 *
 * Same computation as TF Privacy's compute_dp_sgd_privacy (Poisson sampling,
 * steps = ceil(epochs * N / batch), its order list, the improved conversion).
 */
import { parseFlags, numberFlag } from '../../util/args.ts'
import { InvalidParametersError } from '../../util/errors.ts'
import { computeDpSgdPrivacy } from '../../model/privacy/dpsgd.ts'
import { peerEpsilonPoisson, peerEpsilonKnownRounds } from '../../model/privacy/user-level.ts'
import type { Conversion } from '../../model/privacy/conversion.ts'

export const summary = 'epsilon of DP-SGD or of a peer\'s rounds (RDP accountant), as JSON'

const HELP = `usage:
  tessera privacy --examples N --batch B --noise Z --epochs E --delta D [--conversion improved|classic]
  tessera privacy --rounds R --participation Q --noise Z --delta D
  tessera privacy --rounds-taken K --noise Z --delta D

Record level (DP-SGD): N training examples, expected batch B (sampling rate B/N,
Poisson sampling assumed), noise multiplier Z, E epochs (steps = ceil(E*N/B)).
Peer level: Z is the noise multiplier of each group sum; --rounds R with
--participation Q assumes the peer joins each round with probability Q and that
nobody learns which rounds (amplification by subsampling); --rounds-taken K
composes K rounds whose participation is public (as on the Tessera ledger).

Prints one line of JSON: {"epsilon": <number>, "order": <best RDP order>}.
Exit 0 on success, 1 on invalid parameters (the error names the flag), 2 on a usage error.
See docs/architecture/privacy.md for the formulas and their sources.`

const OPTIONS = {
  examples: { type: 'string' },
  batch: { type: 'string' },
  noise: { type: 'string' },
  epochs: { type: 'string' },
  delta: { type: 'string' },
  conversion: { type: 'string' },
  rounds: { type: 'string' },
  participation: { type: 'string' },
  'rounds-taken': { type: 'string' },
  help: { type: 'boolean', short: 'h' }
} as const

function emit(epsilon: number, order: number): void {
  if (!Number.isFinite(epsilon)) {
    // JSON has no Infinity; an infinite epsilon means no guarantee, which is an error for the caller.
    throw new InvalidParametersError('epsilon is infinite for these parameters: no privacy guarantee')
  }
  console.log(JSON.stringify({ epsilon, order }))
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, OPTIONS)
  if (values.help === true) {
    console.log(HELP)
    return 0
  }
  if (positionals.length > 0) throw new InvalidParametersError(`unexpected argument '${positionals[0]!}'`)
  const noise = numberFlag(values, 'noise')
  if (noise <= 0) throw new InvalidParametersError(`--noise must be > 0, got ${noise}`)
  const delta = numberFlag(values, 'delta')
  if (!(delta > 0 && delta < 1)) throw new InvalidParametersError(`--delta must be in (0, 1), got ${delta}`)

  if (values['rounds-taken'] !== undefined) {
    for (const f of ['examples', 'batch', 'epochs', 'rounds', 'participation', 'conversion']) {
      if (values[f] !== undefined) throw new InvalidParametersError(`--${f} does not go with --rounds-taken`)
    }
    const k = numberFlag(values, 'rounds-taken')
    if (!Number.isInteger(k) || k < 0) throw new InvalidParametersError(`--rounds-taken must be an integer >= 0, got ${k}`)
    const r = peerEpsilonKnownRounds({ roundsTaken: k, noiseMultiplier: noise, delta })
    emit(r.epsilon, r.order)
    return 0
  }
  if (values.rounds !== undefined || values.participation !== undefined) {
    for (const f of ['examples', 'batch', 'epochs', 'conversion']) {
      if (values[f] !== undefined) throw new InvalidParametersError(`--${f} does not go with --rounds/--participation`)
    }
    const rounds = numberFlag(values, 'rounds')
    if (!Number.isInteger(rounds) || rounds < 0) throw new InvalidParametersError(`--rounds must be an integer >= 0, got ${rounds}`)
    const q = numberFlag(values, 'participation')
    if (!(q >= 0 && q <= 1)) throw new InvalidParametersError(`--participation must be in [0, 1], got ${q}`)
    const r = peerEpsilonPoisson({ participation: q, noiseMultiplier: noise, rounds, delta })
    emit(r.epsilon, r.order)
    return 0
  }

  const examples = numberFlag(values, 'examples')
  if (!Number.isInteger(examples) || examples < 1) throw new InvalidParametersError(`--examples must be an integer >= 1, got ${examples}`)
  const batch = numberFlag(values, 'batch')
  if (!Number.isInteger(batch) || batch < 1) throw new InvalidParametersError(`--batch must be an integer >= 1, got ${batch}`)
  if (batch > examples) throw new InvalidParametersError(`--batch (${batch}) must not exceed --examples (${examples})`)
  const epochs = numberFlag(values, 'epochs')
  if (!(epochs > 0)) throw new InvalidParametersError(`--epochs must be > 0, got ${epochs}`)
  const conversion = (values.conversion ?? 'improved') as string
  if (conversion !== 'improved' && conversion !== 'classic') {
    throw new InvalidParametersError(`--conversion must be 'improved' or 'classic', got '${conversion}'`)
  }
  const r = computeDpSgdPrivacy({ examples, batchSize: batch, noiseMultiplier: noise, epochs, delta, conversion: conversion as Conversion })
  emit(r.epsilon, r.order)
  return 0
}
