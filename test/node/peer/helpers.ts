/**
 * A local network of Peers on real libp2p over loopback, in this process, for
 * the peer tests: fresh data dirs under the OS temp folder, a genesis whose
 * founders are the first peers, the small softmax model, short deadlines, and a
 * synthetic trainer (the tests are about the protocol, not about learning).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeCharter, type CharterInput } from '../../../src/ledger/charter.ts'
import { loadOrCreateIdentity } from '../../../src/node/identity.ts'
import { createPeer, writeGenesis, GENESIS_FILE, type Peer, type PeerOptions, type Trainer } from '../../../src/node/peer/peer.ts'
import { peerIdBytes } from '../../../src/reputation/peer-id.ts'
import { seededRng } from '../../../src/util/rng.ts'

export const FAST_DEADLINES = { share: 2500, receipt: 1500, plan: 1500, partial: 2000, checkpoint: 2500 }

export function testCharter (extra: CharterInput = {}): CharterInput {
  return {
    networkId: 'tessera-test',
    model: { arch: 'softmax', inputShape: [28, 28, 1], classes: 10 },
    training: { epochs: 1, batchSize: 32, learningRate: 0.1 },
    dp: { clipNorm: 1, noiseMultiplier: 0, delta: 1e-5, epsilonBudget: 8 },
    committee: { m: 5, t: 2, g: 2 },
    aggregation: { rule: 'centered-clipping', params: { tau: 1 } },
    deadlines: FAST_DEADLINES,
    ...extra
  }
}

/** A deterministic synthetic update of norm ~0.5 per (peer, round): protocol tests need updates, not learning. */
export function syntheticTrainer (tag: string): Trainer {
  return async (model, round) => {
    const rng = seededRng(`synthetic/${tag}/${round}`)
    const u = new Float32Array(model.length)
    const w = new Uint32Array(u.length)
    rng.fillU32(w)
    for (let i = 0; i < u.length; i++) u[i] = ((w[i]! / 2 ** 32) - 0.5) * 0.02
    return u
  }
}

export interface TestNet {
  root: string
  dirs: string[]
  names: string[]
  genesis: Uint8Array
  peers: Peer[]
  /** start peer i (dir i) and connect it to the running ones */
  startPeer: (i: number, opts?: Partial<PeerOptions>, trainer?: Trainer | null) => Promise<Peer>
  stopAll: () => Promise<void>
}

/**
 * Prepare `n` data dirs with identities; founders = the first `founders` of
 * them (all by default). Nothing is started.
 */
export async function makeNet (n: number, charter: CharterInput, founders = n, mode: 'open' = 'open'): Promise<TestNet> {
  const root = await mkdtemp(join(tmpdir(), 'tessera-peer-test-'))
  const dirs = Array.from({ length: n }, (_, i) => join(root, `peer-${i}`))
  const ids = await Promise.all(dirs.map(async d => await loadOrCreateIdentity(d)))
  const c = makeCharter({ ...charter, admission: { mode, founders: ids.slice(0, founders).map(i => peerIdBytes(i.name)) } })
  const genesis = await writeGenesis(ids[0]!, c)
  for (const d of dirs) await writeFile(join(d, GENESIS_FILE), genesis)
  const peers: Peer[] = []
  const net: TestNet = {
    root, dirs, names: ids.map(i => i.name), genesis, peers,
    startPeer: async (i, opts = {}, trainer) => {
      const running = peers.filter(p => p.isRunning)
      const bootstrap = running.slice(0, 3).flatMap(p => p.addresses().filter(a => a.includes('/tcp/') && !a.includes('/ws')).slice(0, 1))
      const p = createPeer({ dataDir: dirs[i]!, bootstrap, ...opts }, { trainer: trainer === null ? undefined : (trainer ?? syntheticTrainer(`p${i}`)) })
      if (process.env.TESSERA_TEST_DEBUG === '1') {
        p.on('warning', w => { console.log(`    [peer ${i}] warning round ${w.round}: ${w.message.slice(0, 300)}`) })
        p.on('retry', w => { console.log(`    [peer ${i}] retry ${w.round}/${w.retry}: ${w.reason}`) })
        p.on('round', e => { console.log(`    [peer ${i}] round ${e.round} done in ${e.ms} ms`) })
      }
      await p.start()
      // Bootstrap dials are asynchronous: dial the running peers directly so the mesh forms at once.
      await Promise.allSettled(running.map(async q => await p.transport.dial(q.addresses()[0]!)))
      peers.push(p)
      return p
    },
    stopAll: async () => {
      await Promise.allSettled(peers.map(async p => await p.stop()))
      await rm(root, { recursive: true, force: true })
    }
  }
  return net
}

/** Resolve when `p` has emitted its 'round' event for `round` (or reject after `ms`). */
export async function roundOf (p: Peer, round: number, ms: number): Promise<import('../../../src/node/peer/peer.ts').RoundEvent> {
  return await p.once('round', e => e.round === round, AbortSignal.timeout(ms))
}
