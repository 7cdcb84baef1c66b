/**
 * `tessera sim --network libp2p` (issue #5): the same experiment over real
 * libp2p peers on loopback, one Peer (src/node/peer: E's ledger, libp2p TCP +
 * Noise + Yamux + gossipsub, co-signed checkpoints, sync) per simulated peer,
 * all in this process. Node only (data dirs, sockets): the CLI injects it into
 * `runExperiment` as a hook, so experiment.ts stays loadable in a browser.
 *
 * What is the same as the in-memory engines for a seed:
 * - identities: peer i's Ed25519 key is derived from the seed exactly as the
 *   simulator derives it (seededRng('tessera-sim/<seed>'), 32 bytes per peer),
 *   written as its data dir's identity.key, so peer ids are equal;
 * - the genesis (charter from the config, every peer a founder, timestamp fixed
 *   at GENESIS_TS), hence the genesis CID and the initial model the Peer draws
 *   from it (initialWeights(spec, seededRng('tessera/init/<genesis CID>')));
 * - local training: the harness's trainer, called once per peer and round
 *   (memoised: a Peer that re-runs a round gets the same update);
 * - the arithmetic: clip, fixed point, group sums, the rule (the same code).
 *
 * What is not, and why a libp2p run is not bit-identical to `--engine fast`:
 * round r's seed (committee, leader, groups) is E's checkpointSeed of
 * checkpoint r-1's core (src/ledger/state.ts), and that core names the CID of
 * the previous checkpoint entry and the heads of the author chains it covers:
 * entries whose bytes include their author's wall-clock `ts`. The in-memory
 * engines chain H's checkpoint body hash instead. From round 2 on, committees
 * are also reputation-weighted from the ledger's evidence (weight 1 in memory).
 * So two libp2p runs with one seed draw different groups from round 2, and a
 * robust rule over group means then gives different models. The Peer's round
 * RNG is cryptoRng (shares, masks, noise): with noise 0 it does not reach the
 * model (Shamir reconstruction is exact); with noise > 0 it does.
 *
 * What must be equal, and is tested (test/gossip-fl/harness/libp2p.test.ts):
 * given the groups the network formed, the fast path's arithmetic
 * (`fastSimulate` with `givenGroups`) reproduces every round's model hash bit
 * for bit from the same updates.
 */
import { mkdtemp, mkdir, rm, writeFile, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPairFromSeed, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { InvalidParametersError } from '../../util/errors.ts'
import { seededRng, type Rng } from '../../util/rng.ts'
import { makeCharter } from '../../ledger/charter.ts'
import { loadOrCreateIdentity } from '../../node/identity.ts'
import { createPeer, writeGenesis, GENESIS_FILE, type Peer, type RoundEvent } from '../../node/peer/peer.ts'
import { peerIdBytes } from '../../reputation/peer-id.ts'
import { initialWeights, type ModelSpec } from '../../model/spec.ts'
import { modelHash } from '../round/aggregate.ts'

const hex = (b: Uint8Array): string => Array.from(b, x => x.toString(16).padStart(2, '0')).join('')

/** Fixed genesis timestamp: the genesis CID (hence the initial model) depends only on the config. */
export const GENESIS_TS = 1_700_000_000_000

export interface Libp2pRunConfig {
  peers: number
  rounds: number
  seed: string
  spec: ModelSpec
  committee: number
  threshold: number
  group: number
  rule: string
  ruleParams: Record<string, number | string | boolean>
  clip: number
  noise: number
  /** Local training of peer i from `model` for `round`: the update. */
  train: (peer: number, model: Float32Array, round: number) => Promise<Float32Array>
  /** Phase deadlines (ms); default DEFAULT_DEADLINES. */
  deadlines?: { share: number, receipt: number, plan: number, partial: number, checkpoint: number }
  /** Give up after this long (ms); default 60 s + 30 s per round. */
  timeoutMs?: number
  /** Called once per round, with peer 0's view, in round order. */
  onRound?: (r: Libp2pRound) => void | Promise<void>
  /**
   * Persistent-outlier exclusion in the network's charter (v3 `exclusion`, enabled with these
   * OutlierParams overrides); undefined = disabled, as the fast engine without `exclusion`.
   */
  exclusion?: { window?: number, minObservations?: number, tCritical?: number }
}

export const DEFAULT_DEADLINES = Object.freeze({ share: 3000, receipt: 1500, plan: 1500, partial: 2000, checkpoint: 2500 })

export interface Libp2pRound {
  round: number
  retries: number
  committee: string[]
  /** Reconstructed groups, in plan order. */
  groups: string[][]
  refused: Array<{ peer: string, reason: string }>
  blamed: Array<{ peer: string, reason: string }>
  modelHash: string
  /** The checkpointed model (peer 0's copy). */
  model: Float32Array
}

export interface Libp2pRunResult {
  peerIds: string[]
  genesisCid: string
  initialModel: Float32Array
  rounds: Libp2pRound[]
  /** Every peer reported the same model hash each round. */
  agreed: boolean
  /** The update each peer's trainer returned per round ('i/round'), and the SHA-256 of the model it trained from. */
  updates: Map<string, Float32Array>
  trainedFrom: Map<string, string>
  seconds: number
}

function seed32(rng: Rng): Uint8Array {
  const w = new Uint32Array(8)
  rng.fillU32(w)
  return new Uint8Array(w.buffer)
}

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/** Run `rounds` rounds over `peers` libp2p peers on 127.0.0.1; everything is stopped and removed after. */
export async function runOverLibp2p(c: Libp2pRunConfig): Promise<Libp2pRunResult> {
  if (!Number.isInteger(c.peers) || c.peers < 2 || c.peers > 64) throw new InvalidParametersError(`--network libp2p: peers must be an integer in [2, 64] (one libp2p node each, in this process), got ${String(c.peers)}`)
  if (!Number.isInteger(c.rounds) || c.rounds < 1 || c.rounds > 10_000) throw new InvalidParametersError(`rounds must be an integer in [1, 10000], got ${String(c.rounds)}`)
  for (const [k, v] of Object.entries(c.ruleParams)) if (!['number', 'string', 'boolean'].includes(typeof v)) throw new InvalidParametersError(`--network libp2p: the charter holds scalar rule parameters only; ${k} is ${typeof v}`)
  const t0 = Date.now()
  const root = await mkdtemp(join(tmpdir(), 'tessera-sim-libp2p-'))
  const peers: Peer[] = []
  try {
    // Identities as the simulator derives them.
    const master = seededRng(`tessera-sim/${c.seed}`)
    const dirs = Array.from({ length: c.peers }, (_, i) => join(root, `peer-${i}`))
    for (const d of dirs) {
      await mkdir(d, { recursive: true, mode: 0o700 })
      const key = await generateKeyPairFromSeed('Ed25519', seed32(master))
      const path = join(d, 'identity.key')
      await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600 })
      await chmod(path, 0o600)
    }
    const ids = await Promise.all(dirs.map(async d => await loadOrCreateIdentity(d)))
    const charter = makeCharter({
      networkId: `tessera-sim-${c.seed}`,
      model: { arch: c.spec.arch, inputShape: [...c.spec.inputShape], classes: c.spec.classes },
      dp: { clipNorm: c.clip, noiseMultiplier: c.noise, delta: 1e-5, epsilonBudget: 1e6 },
      committee: { m: c.committee, t: c.threshold, g: c.group },
      aggregation: { rule: c.rule, params: c.ruleParams },
      deadlines: c.deadlines ?? DEFAULT_DEADLINES,
      admission: { mode: 'open', founders: ids.map(i => peerIdBytes(i.name)) },
      exclusion: c.exclusion === undefined ? { enabled: false } : { ...c.exclusion, enabled: true }
    })
    const genesis = await writeGenesis(ids[0]!, charter, GENESIS_TS)
    for (const d of dirs) await writeFile(join(d, GENESIS_FILE), genesis)
    // One trainer per peer, memoised per round.
    const cache = new Map<string, Promise<Float32Array>>()
    const updates = new Map<string, Float32Array>()
    const trainedFrom = new Map<string, string>()
    const trainerOf = (i: number) => async (model: Float32Array, round: number): Promise<Float32Array> => {
      const key = `${i}/${round}`
      if (!cache.has(key)) {
        trainedFrom.set(key, hex(modelHash(model)))
        cache.set(key, c.train(i, model, round).then(u => { updates.set(key, Float32Array.from(u)); return u }))
      }
      return Float32Array.from(await cache.get(key)!)
    }
    let release!: (t: number) => void
    const gate = new Promise<number>(resolve => { release = resolve })
    const events: RoundEvent[][] = Array.from({ length: c.peers }, () => [])
    const models = new Map<number, Float32Array>()
    for (let i = 0; i < c.peers; i++) {
      const running = peers.filter(p => p.isRunning)
      const bootstrap = running.slice(0, 3).flatMap(p => p.addresses().filter(a => a.includes('/tcp/') && !a.includes('/ws')).slice(0, 1))
      const p = createPeer({ dataDir: dirs[i]!, bootstrap, maxRounds: c.rounds, startAt: async () => await gate }, { trainer: trainerOf(i) })
      p.on('round', e => {
        events[i]!.push(e)
        // `model` is current when 'round' is emitted; keep peer 0's copy of each round's model.
        if (i === 0 && p.model !== undefined && p.model.round === e.round) models.set(e.round, Float32Array.from(p.model.model))
      })
      await p.start()
      await Promise.allSettled(running.map(async q => await p.transport.dial(q.addresses()[0]!)))
      peers.push(p)
    }
    // A few gossipsub heartbeats for the mesh, then a common start.
    await sleep(1500)
    release(Date.now() + 300)
    const timeout = c.timeoutMs ?? 60_000 + 30_000 * c.rounds
    const deadline = Date.now() + timeout
    const rounds: Libp2pRound[] = []
    let agreed = true
    for (let r = 1; r <= c.rounds; r++) {
      while (events.some(ev => !ev.some(e => e.round === r))) {
        if (Date.now() > deadline) throw new InvalidParametersError(`--network libp2p: round ${r} not finished by every peer after ${timeout} ms`)
        await sleep(50)
      }
      const e0 = events[0]!.find(e => e.round === r)!
      if (events.some(ev => ev.find(e => e.round === r)!.modelHash !== e0.modelHash)) agreed = false
      for (let k = 0; k < 100 && !models.has(r); k++) await sleep(50)
      const model = models.get(r)
      if (model === undefined) throw new InvalidParametersError(`--network libp2p: peer 0 has no model for round ${r}`)
      const rec: Libp2pRound = {
        round: r, retries: e0.retries, committee: [...e0.committee], groups: e0.groups.map(g => [...g]), refused: e0.refused.map(x => ({ ...x })),
        blamed: e0.blamed.map(x => ({ ...x })), modelHash: e0.modelHash, model
      }
      rounds.push(rec)
      await c.onRound?.(rec)
    }
    const genesisCid = peers[0]!.ledger.state.genesisCid!.toString()
    const initialModel = initialWeights(c.spec, seededRng(`tessera/init/${genesisCid}`))
    return { peerIds: ids.map(i => i.name), genesisCid, initialModel, rounds, agreed, updates, trainedFrom, seconds: (Date.now() - t0) / 1000 }
  } finally {
    await Promise.allSettled(peers.map(async p => await p.stop()))
    await rm(root, { recursive: true, force: true })
  }
}
