/**
 * `tessera status`: what a network looks like.
 *
 *   tessera status --dir D                   from a (stopped) peer's data dir: the ledger
 *                                            (re-verified), members, last rounds with their
 *                                            committee, groups, refused and blamed peers
 *   tessera status --connect ADDR --dir D    ask a running peer over the peer-status protocol
 *                                            (D only provides the genesis: the network id);
 *                                            --genesis FILE instead of --dir works too
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { parseFlags, numberFlag } from '../../util/args.ts'
import { InvalidParametersError } from '../../util/errors.ts'
import { Ledger, decodeEnvelope, toHex } from '../../ledger/index.ts'
import { nodeVerifier } from '../../ledger/signature-node.ts'
import { loadOrCreateIdentity } from '../identity.ts'
import { Libp2pTransport } from '../libp2p-transport.ts'
import { networkIdFromGenesis } from '../protocol-ids.ts'
import { StatusService, type PeerStatus } from '../peer/status-service.ts'
import { GENESIS_FILE } from '../peer/peer.ts'

export const summary = 'show a network: rounds, committees, groups, blame (from a data dir, or asking a running peer)'

const HELP = `usage: tessera status --dir DIR [--rounds N] [--json]
       tessera status --connect ADDR (--dir DIR | --genesis FILE) [--json]`

const short = (p: string): string => p.slice(0, 8)

export async function run (argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    dir: { type: 'string' }, connect: { type: 'string' }, genesis: { type: 'string' }, rounds: { type: 'string' },
    json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }
  })
  if (values.help === true) { console.log(HELP); return 0 }
  const json = values.json === true
  if (typeof values.connect === 'string') {
    const gfile = typeof values.genesis === 'string' ? values.genesis : typeof values.dir === 'string' ? join(values.dir, GENESIS_FILE) : undefined
    if (gfile === undefined) throw new InvalidParametersError('--connect needs --dir or --genesis (the network id comes from the genesis)')
    const g = decodeEnvelope(new Uint8Array(await readFile(gfile)))
    const netId = networkIdFromGenesis(g.cid.bytes)
    const tmp = await mkdtemp(join(tmpdir(), 'tessera-status-'))
    const id = await loadOrCreateIdentity(tmp)
    const transport = await Libp2pTransport.create({ privateKey: id.privateKey, netId, listenTcp: ['/ip4/127.0.0.1/tcp/0'], listenWs: [], pubsubDiscovery: false, relayServer: false })
    try {
      await transport.start()
      const peer = await transport.dial(values.connect)
      const svc = new StatusService({ transport, status: () => { throw new Error('client only') }, roundInfo: () => undefined }, netId)
      const st = await svc.ask<PeerStatus>(peer, { op: 'status' })
      if (json) console.log(JSON.stringify(st))
      else {
        console.log(`peer ${st.peer} (${st.running ? 'running' : 'stopped'})\nlast round ${st.lastRound}, ledger entries ${st.ledgerEntries}, members ${st.members}, connected to ${st.connected.length} peers`)
        if (st.last !== undefined) console.log(`round ${st.last.round}: committee ${st.last.committee.map(short).join(',')} | groups ${st.last.groups.map(g2 => g2.map(short).join('+')).join(' ')} | refused ${st.last.refused.map(x => short(x.peer)).join(',') || '-'} | blamed ${st.last.blamed.map(x => short(x.peer)).join(',') || '-'}${st.last.accuracy !== undefined ? ` | acc ${st.last.accuracy.toFixed(4)}` : ''}`)
        const pen = Object.entries(st.penalties)
        if (pen.length > 0) console.log(`penalties: ${pen.map(([p, n]) => `${short(p)}:${n}`).join(' ')}`)
      }
    } finally {
      await transport.stop()
      await rm(tmp, { recursive: true, force: true })
    }
    return 0
  }
  if (typeof values.dir !== 'string') throw new InvalidParametersError('--dir or --connect is required')
  let ledger: Ledger
  try {
    ledger = await Ledger.open({ location: join(values.dir, 'ledger'), verifier: nodeVerifier() })
  } catch (err) {
    throw new InvalidParametersError(`cannot open the ledger in ${values.dir} (a running peer holds its lock: use --connect ADDR): ${(err as Error).message}`)
  }
  try {
    const st = ledger.state
    if (st.genesisCid === null) { console.log(json ? JSON.stringify({ entries: 0 }) : `the ledger in ${values.dir} is empty (run tessera peer first)`); return 0 }
    const n = numberFlag(values, 'rounds', 5)
    const rounds = []
    for (let r = Math.max(1, st.lastRound - n + 1); r <= st.lastRound; r++) {
      const c = st.checkpoints[r]!
      rounds.push({ round: r, retry: c.retry, cid: c.cid.toString(), committee: c.committee, signers: c.signers.length, groups: c.body.groups.map(g => g.map(toHex)), blamed: c.body.blame.map(toHex), refused: c.body.refused.map(toHex), modelHash: toHex(c.body.modelHash) })
    }
    const ch = st.charter!
    // How every peer trains (charter v2); a v1 charter leaves all but lr and batch to the peers' flags.
    const training = { charterVersion: ch.version, ...ch.training }
    // Persistent-outlier exclusion (charter v3): who the ledger excludes from the next round.
    const exclusion = ch.exclusion.enabled ? { ...ch.exclusion, excludedNextRound: st.outlierExclusion(st.lastRound + 1) } : { enabled: false }
    const out = { network: ch.networkId, genesis: st.genesisCid!.toString(), netId: networkIdFromGenesis(st.genesisCid!.bytes), entries: ledger.size, members: st.memberInfo(st.lastRound).length, lastRound: st.lastRound, training, exclusion, rounds }
    if (json) console.log(JSON.stringify(out))
    else {
      const t = ch.training
      const how = ch.version >= 2
        ? `${t.optimizer} lr ${t.learningRate} batch ${t.batchSize}, ${t.steps} steps, worker momentum ${t.workerMomentum}${t.fullBudget ? ', full budget' : ''}, features ${t.features}`
        : `lr ${t.learningRate} batch ${t.batchSize}; optimizer, steps, momentum, budget and features are each peer's flags`
      console.log(`network ${out.network} (${out.netId}), genesis ${out.genesis}\ncharter v${ch.version}: ${how}\nledger: ${out.entries} entries, verified; ${out.members} members; last round ${out.lastRound}`)
      const ex = ch.exclusion
      console.log(ex.enabled
        ? `outlier exclusion: on (window ${ex.window}, min ${ex.minObservations} observations, t ${ex.tCritical}); excluded from round ${st.lastRound + 1}: ${st.outlierExclusion(st.lastRound + 1).map(short).join(',') || '-'}`
        : 'outlier exclusion: off')
      for (const r of rounds) console.log(`round ${r.round}${r.retry > 0 ? ` (retry ${r.retry})` : ''}: committee ${r.committee.map(short).join(',')} (${r.signers} signatures) | groups ${r.groups.map(g => g.map(short).join('+')).join(' ')} | refused ${r.refused.map(short).join(',') || '-'} | blamed ${r.blamed.map(short).join(',') || '-'} | model ${r.modelHash.slice(0, 12)}`)
    }
  } finally {
    await ledger.close()
  }
  return 0
}
