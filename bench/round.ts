/**
 * Round benchmark on real libp2p over loopback (JSON on stdout).
 *
 * 1. overhead: 10 peers (one process, one libp2p node each), the MLP
 *    (101,770 parameters), a precomputed update (no local training): per round,
 *    the time from the round's start to its ledger checkpoint minus the share
 *    phase (a fixed deadline the machine waits for) = the protocol's overhead;
 *    and bytes sent per contributor that is not on the committee, as a multiple
 *    of the model's bytes (goal: overhead <= 1.5 s, bytes <= (m + 1) x model).
 * 2. scale: the softmax model with N = 10, 20, 40, ... peers in ONE process
 *    (separate processes are too heavy for 2 cores), until a round fails or
 *    takes longer than the limit; round time median (goal: 100 peers, <= 5 s;
 *    Biscotti reports ~38 s per round at 100 peers).
 *
 * Medians over >= 5 rounds. Usage: npx tsx bench/round.ts [--rounds 5] [--max-peers 100] [--quick]
 */
import { makeNet, testCharter, type TestNet } from '../test/node/peer/helpers.ts'
import type { Peer, RoundEvent, Trainer } from '../src/node/peer/peer.ts'

const args = process.argv.slice(2)
const flag = (name: string, def: number): number => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : def }
const ROUNDS = flag('rounds', 5)
const MAX_PEERS = flag('max-peers', 100)
const QUICK = args.includes('--quick')

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2 }

function fixedTrainer (): Trainer {
  let u: Float32Array | undefined
  return async (model) => {
    if (u === undefined || u.length !== model.length) {
      u = new Float32Array(model.length)
      for (let i = 0; i < u.length; i++) u[i] = Math.sin(i * 12.9898) * 0.01
    }
    return u
  }
}

async function runNet (n: number, arch: 'mlp' | 'softmax', shareMs: number, rounds: number, limitMs: number): Promise<{ events: RoundEvent[][], net: TestNet, peers: Peer[] }> {
  const net = await makeNet(n, testCharter({
    model: { arch, inputShape: [28, 28, 1], classes: 10 },
    deadlines: { share: shareMs, receipt: 4000, plan: 4000, partial: 6000, checkpoint: 6000 }
  }))
  let release!: (t: number) => void
  const gate = new Promise<number>(resolve => { release = resolve })
  const peers: Peer[] = []
  for (let i = 0; i < n; i++) peers.push(await net.startPeer(i, { maxRounds: rounds, startAt: async () => await gate, startDelayMs: 200 }, fixedTrainer()))
  await new Promise(resolve => setTimeout(resolve, 1500 + 20 * n))
  release(Date.now() + 300)
  const events: RoundEvent[][] = peers.map(() => [])
  peers.forEach((p, i) => p.on('round', e => { events[i]!.push(e) }))
  await Promise.race([
    Promise.all(peers.map(async p => await p.once('round', e => e.round === rounds))),
    new Promise(resolve => setTimeout(resolve, limitMs))
  ])
  return { events, net, peers }
}

async function overhead (): Promise<Record<string, unknown>> {
  const shareMs = 1500
  const { events, net, peers } = await runNet(QUICK ? 6 : 10, 'mlp', shareMs, ROUNDS + 1, 240_000)
  try {
    const dim = peers[0]!.model?.model.length ?? 101_770
    const modelBytes = dim * 4
    const m = peers[0]!.charter.committee.m
    // Skip round 1 (connection set-up); the share phase is a fixed wait, not overhead.
    const per = events[0]!.filter(e => e.round > 1)
    const overheadMs = per.map(e => e.ms - shareMs)
    const contributorBytes = events.flat().filter(e => e.round > 1 && !e.member && e.contributed).map(e => e.bytesSent)
    const memberBytes = events.flat().filter(e => e.round > 1 && e.member).map(e => e.bytesSent)
    return {
      peers: peers.length, model: 'mlp', parameters: dim, modelBytes, committee: m, rounds: per.length,
      overheadMsMedian: median(overheadMs), overheadMs,
      contributorBytesMedian: median(contributorBytes), contributorBytesOverModel: median(contributorBytes) / modelBytes, goalBytesOverModel: m + 1,
      memberBytesMedian: median(memberBytes), memberBytesOverModel: median(memberBytes) / modelBytes
    }
  } finally {
    await net.stopAll()
  }
}

async function scale (): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = []
  for (let n = 10; n <= MAX_PEERS; n *= 2) {
    const shareMs = 2000 + 20 * n
    const t0 = Date.now()
    const { events, net } = await runNet(n, 'softmax', shareMs, 3, 180_000)
    const done = events.filter(e => e.some(x => x.round === 3)).length
    const rms = events[0]!.filter(e => e.round > 1).map(e => e.ms)
    out.push({ peers: n, mode: 'one process', completedPeers: done, roundMsMedian: median(rms), shareMs, roundMs: rms, wallSeconds: (Date.now() - t0) / 1000 })
    await net.stopAll()
    if (done < n) break
    if (n < MAX_PEERS && n * 2 > MAX_PEERS) n = MAX_PEERS / 2
  }
  return out
}

const result: Record<string, unknown> = { bench: 'round', date: new Date().toISOString(), note: 'loopback, real libp2p; load of the machine at run time matters' }
result.overhead = await overhead()
if (!QUICK) result.scale = await scale()
console.log(JSON.stringify(result, null, 2))
process.exit(0)
