/**
 * Fixtures for the sync tests: a real ledger history built from real signed
 * entries (genesis, joins, whole rounds with contributions, receipts, plan and
 * a co-signed checkpoint whose committee comes from the ledger itself), real
 * level-backed Ledgers in temporary directories, and peers on either
 * transport (in-memory network, or libp2p on 127.0.0.1) named by the same
 * Ed25519 key that signs their entries.
 */
import '../../../src/node/polyfills.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sha256 } from '@noble/hashes/sha2.js'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { assignGroups } from '../../../src/gossip-fl/committee.ts'
import {
  Ledger, LedgerState, cosignCheckpoint, fromHex, makeCharter, makeCheckpoint, makeEntry, makeGenesis, toHex, utf8,
  type CheckpointCore, type SignedEntry, type Signer
} from '../../../src/ledger/index.ts'
import { nodeSigner, nodeVerifier } from '../../../src/ledger/signature-node.ts'
import { networkIdFromGenesis } from '../../../src/node/protocol-ids.ts'
import { MemoryNetwork } from '../../../src/node/memory-transport.ts'
import { Libp2pTransport } from '../../../src/node/libp2p-transport.ts'
import type { Transport } from '../../../src/node/transport.ts'
import { seededRng } from '../../../src/util/rng.ts'

export const verifier = nodeVerifier()

export function seedOf (label: string): Uint8Array { return sha256(utf8(`tessera-sync-test/${label}`)) }
export function signerOf (label: string): Signer { return nodeSigner(seedOf(label)) }

export interface History {
  /** every entry, in a valid append order */
  log: SignedEntry[]
  founders: Signer[]
  peers: Signer[]
  byHex: Map<string, Signer>
  /** state after the whole log */
  state: LedgerState
  netId: string
  genesisCid: string
}

/** Genesis, one join per peer, then `rounds` honest rounds (each peer contributes). */
export async function buildHistory (o: { founders?: number, peers?: number, rounds: number, label?: string, networkId?: string }): Promise<History> {
  const label = o.label ?? 'net'
  const founders = Array.from({ length: o.founders ?? 3 }, (_, i) => signerOf(`${label}/founder/${i}`))
  const peers = Array.from({ length: o.peers ?? 6 }, (_, i) => signerOf(`${label}/peer/${i}`))
  const charter = makeCharter({
    networkId: o.networkId ?? `sync-test-${label}`,
    committee: { m: 3, t: 2, g: 2 },
    admission: { mode: 'open', founders: founders.map((f) => f.publicKey) },
    reputation: { rampRounds: 0 }
  })
  const state = new LedgerState()
  const log: SignedEntry[] = []
  const add = (e: SignedEntry): void => { state.apply(e); log.push(e) }
  add(await makeGenesis(founders[0]!, charter))
  const byHex = new Map<string, Signer>()
  for (const s of [...founders, ...peers]) byHex.set(toHex(s.publicKey), s)
  for (const p of peers) add(await makeEntry(state, p, 'join', {}))
  const h: History = { log, founders, peers, byHex, state, netId: networkIdFromGenesis(state.genesisCid!.bytes), genesisCid: state.genesisCid!.toString() }
  for (let r = 0; r < o.rounds; r++) await appendRound(h)
  return h
}

/** One more honest round appended to the history; returns its entries. */
export async function appendRound (h: History): Promise<SignedEntry[]> {
  const { state } = h
  const out: SignedEntry[] = []
  const add = (e: SignedEntry): void => { state.apply(e); h.log.push(e); out.push(e) }
  const round = state.lastRound + 1
  const committee = state.committee(round, 0)
  const contributions: SignedEntry[] = []
  for (const c of h.peers) {
    const commitments = committee.map((m) => sha256(utf8(`share:${round}:${toHex(c.publicKey)}:${m}`)))
    const e = await makeEntry(state, c, 'contribution', { round, retry: 0, commitments })
    add(e)
    contributions.push(e)
  }
  for (const m of committee) add(await makeEntry(state, h.byHex.get(m)!, 'receipt', { round, retry: 0, acks: contributions.map((c) => c.cid) }))
  const leader = h.byHex.get(committee[0]!)!
  const hexes = h.peers.map((c) => toHex(c.publicKey))
  const groups = assignGroups(state.seed(round, 0), hexes, 2)
  add(await makeEntry(state, leader, 'plan', { round, retry: 0, groups: groups.map((g) => g.map((p) => fromHex(p)!)) }))
  const core: CheckpointCore = {
    round,
    retry: 0,
    prev: state.checkpointCid(round - 1)!,
    modelHash: sha256(utf8(`model:${round}`)),
    groups: groups.map((g) => g.map((p) => fromHex(p)!)),
    groupSumsHash: sha256(utf8(`sums:${round}`)),
    blame: [],
    refused: [],
    farGroups: [],
    heads: state.heads()
  }
  const cosigs = await Promise.all(committee.slice(1).map((m) => cosignCheckpoint(h.byHex.get(m)!, core, state.genesisCid!)))
  add(await makeCheckpoint(state, leader, core, cosigs))
  return out
}

const dirs: string[] = []

/** A fresh level-backed ledger in a temporary directory (or at `dir`). */
export async function openLedger (dir?: string): Promise<{ ledger: Ledger, dir: string }> {
  const d = dir ?? await mkdtemp(join(tmpdir(), 'tessera-sync-'))
  if (dir === undefined) dirs.push(d)
  return { ledger: await Ledger.open({ location: d, verifier }), dir: d }
}

export async function removeTempDirs (): Promise<void> {
  await Promise.all(dirs.splice(0).map(async (d) => { await rm(d, { recursive: true, force: true }) }))
}

/** Append entries in batches (the ledger verifies each). */
export async function load (ledger: Ledger, entries: SignedEntry[]): Promise<void> {
  for (let i = 0; i < entries.length; i += 200) await ledger.appendMany(entries.slice(i, i + 200))
}

/** Peers of one network on one transport kind; the same seed always gives the same peer name. */
export interface PeerNet {
  kind: 'memory' | 'libp2p'
  /** start (or restart) the peer of `seed`, connected to every running peer */
  add(seed: Uint8Array): Promise<Transport>
  /** stop one peer's transport */
  remove(t: Transport): Promise<void>
  teardown(): Promise<void>
}

export type PeerNetFactory = (netId: string) => PeerNet

export const memoryPeers: PeerNetFactory = () => {
  const net = new MemoryNetwork({ rng: seededRng('sync-test'), defaultTimeoutMs: 20_000 })
  const byName = new Map<string, Transport>()
  return {
    kind: 'memory',
    async add (seed) {
      const name = toHex(nodeSigner(seed).publicKey)
      const t = byName.get(name) ?? net.createTransport(name)
      byName.set(name, t)
      await t.start()
      return t
    },
    async remove (t) { await t.stop() },
    async teardown () { for (const t of byName.values()) await t.stop() }
  }
}

export const libp2pPeers: PeerNetFactory = (netId) => {
  const running = new Set<Libp2pTransport>()
  return {
    kind: 'libp2p',
    async add (seed) {
      const t = await Libp2pTransport.create({ privateKey: await generateKeyPairFromSeed('Ed25519', seed), netId, pubsubDiscovery: false, relayServer: false, heartbeatIntervalMs: 200 })
      await t.start()
      for (const o of running) await t.dial(o.addresses()[0]!)
      running.add(t)
      return t
    },
    async remove (t) { running.delete(t as Libp2pTransport); await t.stop() },
    async teardown () { await Promise.all([...running].map(async (t) => { await t.stop() })); running.clear() }
  }
}

export async function waitFor (cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Same entries at the same (author, seq) on both ledgers: equal heads. */
export function sameHeads (a: LedgerState, b: LedgerState): boolean {
  const ha = a.heads().map((h) => `${toHex(h.author)}:${h.seq}:${h.cid.toString()}`).join(',')
  const hb = b.heads().map((h) => `${toHex(h.author)}:${h.seq}:${h.cid.toString()}`).join(',')
  return ha === hb
}
