/**
 * Test fixture: a real network built from real signed entries (no doubles):
 * deterministic Ed25519 keys, a genesis, joins/admits, and whole rounds
 * (contributions, receipts, the leader's plan, a co-signed checkpoint) whose
 * committees come from the ledger itself (src/reputation + src/gossip-fl/committee.ts).
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { assignGroups } from '../../src/gossip-fl/committee.ts'
import { fromHex, toHex, utf8 } from '../../src/ledger/bytes.ts'
import { makeCharter, type Charter, type CharterExclusion } from '../../src/ledger/charter.ts'
import { cosignCheckpoint, makeCheckpoint, makeEntry, makeGenesis } from '../../src/ledger/author.ts'
import type { CheckpointCore, SignedEntry } from '../../src/ledger/entry.ts'
import type { Signer, Verifier } from '../../src/ledger/signature.ts'
import { nodeSigner, nodeVerifier } from '../../src/ledger/signature-node.ts'
import { LedgerState } from '../../src/ledger/state.ts'
import { verifySignatures } from '../../src/ledger/verify.ts'

export const verifier: Verifier = nodeVerifier()

export function signerOf(i: number, label = 'peer'): Signer {
  return nodeSigner(sha256(utf8(`tessera-test/${label}/${i}`)))
}

/** Verify signatures, then apply: what a peer does with every entry. */
export async function accept(state: LedgerState, signed: SignedEntry, v: Verifier = verifier): Promise<SignedEntry> {
  await verifySignatures(signed, signed.entry.type === 'genesis' ? null : state.genesisCid, v)
  state.apply(signed)
  return signed
}

export interface Net {
  state: LedgerState
  founders: Signer[]
  peers: Signer[]
  /** Every entry accepted so far, in order. */
  log: SignedEntry[]
  byHex: Map<string, Signer>
  charter: Charter
}

export interface NetOptions {
  founders?: number
  peers?: number
  mode?: 'open' | 'consortium'
  k?: number
  m?: number
  t?: number
  g?: number
  reputation?: Record<string, number>
  /** The charter's persistent-outlier exclusion (default: makeCharter's, off). */
  exclusion?: Partial<CharterExclusion>
}

export async function makeNet(o: NetOptions = {}): Promise<Net> {
  const founders = Array.from({ length: o.founders ?? 3 }, (_, i) => signerOf(i, 'founder'))
  const peers = Array.from({ length: o.peers ?? 6 }, (_, i) => signerOf(i))
  const mode = o.mode ?? 'open'
  const charter = makeCharter({
    networkId: 'test-net',
    committee: { m: o.m ?? 3, t: o.t ?? 2, g: o.g ?? 2 },
    admission: mode === 'open' ? { mode, founders: founders.map((f) => f.publicKey) } : { mode, founders: founders.map((f) => f.publicKey), k: o.k ?? 2 },
    reputation: o.reputation ?? { rampRounds: 0 },
    ...(o.exclusion === undefined ? {} : { exclusion: o.exclusion })
  })
  const state = new LedgerState()
  const log: SignedEntry[] = []
  log.push(await accept(state, await makeGenesis(founders[0]!, charter)))
  const byHex = new Map<string, Signer>()
  for (const s of [...founders, ...peers]) byHex.set(toHex(s.publicKey), s)
  for (const p of peers) {
    if (mode === 'consortium') {
      for (const f of founders.slice(0, o.k ?? 2)) log.push(await accept(state, await makeEntry(state, f, 'admit', { peer: p.publicKey })))
    } else {
      log.push(await accept(state, await makeEntry(state, p, 'join', {})))
    }
  }
  return { state, founders, peers, log, byHex, charter }
}

export interface RoundOptions {
  retry?: number
  /** Contributors (default: every peer not excluded). */
  contributors?: Signer[]
  /** How many co-signers besides the author (default: all other members). */
  cosigners?: number
  /** Do not apply the checkpoint, just return it (for negative tests). */
  dryCheckpoint?: boolean
  /**
   * The checkpoint's outlier evidence (fixed-point projections, one per group) from the
   * planned groups (peer hex ids). Default with exclusion on: 0 for every group; null: none.
   */
  projections?: ((groups: string[][]) => number[]) | null
  /** Groups to plan instead of assignGroups over the contributors minus the ledger's outlier exclusion (negative tests). */
  planned?: string[]
}

export interface RoundResult {
  committee: string[]
  contributions: SignedEntry<'contribution'>[]
  plan: SignedEntry<'plan'>
  checkpoint: SignedEntry<'checkpoint'>
  core: CheckpointCore
}

/** Run round `lastRound + 1` end to end with honest parties. */
export async function runRound(net: Net, o: RoundOptions = {}): Promise<RoundResult> {
  const { state } = net
  const round = state.lastRound + 1
  const retry = o.retry ?? 0
  const committee = state.committee(round, retry)
  const contributors = o.contributors ?? net.peers.filter((p) => !state.isExcluded(toHex(p.publicKey)))
  const contributions: SignedEntry<'contribution'>[] = []
  for (const c of contributors) {
    const commitments = committee.map((m) => sha256(utf8(`share:${round}:${toHex(c.publicKey)}:${m}`)))
    const e = await makeEntry(state, c, 'contribution', { round, retry, commitments })
    net.log.push(await accept(state, e))
    contributions.push(e)
  }
  for (const m of committee) {
    const e = await makeEntry(state, net.byHex.get(m)!, 'receipt', { round, retry, acks: contributions.map((c) => c.cid) })
    net.log.push(await accept(state, e))
  }
  const leader = net.byHex.get(committee[0]!)!
  const hexes = contributors.map((c) => toHex(c.publicKey))
  // Excluded outliers contribute but are not planned (the leader's buildPlan refuses them).
  const out = new Set(state.outlierExclusion(round))
  const planned = o.planned ?? hexes.filter((h) => !out.has(h))
  const groups = planned.length >= net.charter.committee.g ? assignGroups(state.seed(round, retry), planned, net.charter.committee.g) : []
  const plan = await makeEntry(state, leader, 'plan', { round, retry, groups: groups.map((g) => g.map((p) => fromHex(p)!)) })
  net.log.push(await accept(state, plan))
  const core: CheckpointCore = {
    round,
    retry,
    prev: state.checkpointCid(round - 1)!,
    modelHash: sha256(utf8(`model:${round}`)),
    groups: groups.map((g) => g.map((p) => fromHex(p)!)),
    groupSumsHash: sha256(utf8(`sums:${round}`)),
    blame: [],
    refused: [],
    farGroups: [],
    heads: state.heads()
  }
  const projections = o.projections === null ? undefined : o.projections !== undefined ? o.projections(groups) : state.exclusionEnabled ? groups.map(() => 0) : undefined
  if (projections !== undefined) core.projections = projections
  const others = committee.slice(1, 1 + (o.cosigners ?? committee.length - 1))
  const cosigs = await Promise.all(others.map((m) => cosignCheckpoint(net.byHex.get(m)!, core, state.genesisCid!)))
  const checkpoint = await makeCheckpoint(state, leader, core, cosigs)
  if (o.dryCheckpoint !== true) net.log.push(await accept(state, checkpoint))
  return { committee, contributions, plan, checkpoint, core }
}
