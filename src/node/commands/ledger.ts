/**
 * `tessera ledger verify|show`: inspect a peer's stored ledger with no other
 * tooling.
 *
 *   tessera ledger verify --dir D [--json] [--verifier node|webcrypto|noble]
 *     Re-verifies every stored entry (signatures, chains, every ledger rule) and
 *     prints a summary: entries, authors, members, rounds, checkpoints, and the
 *     first problem with the range of entries lost. Exit 0 if sound, 1 if not.
 *
 *   tessera ledger show --dir D [--type T] [--author HEX] [--round R] [--bytes hex|base64]
 *     Prints matching entries as JSON lines, in append order:
 *       {"position","cid","verified","type","author","seq","prev","ts","body","sig"}
 *     CIDs are strings (CIDv1 base32, "bafy..."), byte strings are lowercase hex
 *     (or base64 with --bytes base64), authors are the hex of the 32-byte
 *     Ed25519 public key. `verified` is false for entries after the first
 *     problem of a damaged store.
 */
import { CID } from 'multiformats/cid'
import { parseFlags } from '../../util/args.ts'
import { InvalidParametersError } from '../../util/errors.ts'
import { toHex } from '../../ledger/bytes.ts'
import { decodeEnvelope, ENTRY_TYPES, type EntryType } from '../../ledger/entry.ts'
import type { Verifier } from '../../ledger/signature.ts'
import { nobleVerifier } from '../../ledger/signature-noble.ts'
import { nodeVerifier } from '../../ledger/signature-node.ts'
import { webCryptoVerifier } from '../../ledger/signature-webcrypto.ts'
import { LedgerStore } from '../../ledger/store.ts'

export const summary = 'verify a stored ledger, or print its entries as JSON lines'

const USAGE = `usage:
  tessera ledger verify --dir DIR [--json] [--verifier node|webcrypto|noble]
  tessera ledger show   --dir DIR [--type TYPE] [--author HEX] [--round N] [--bytes hex|base64]

  verify   re-verify every entry; print a summary and the first problem (exit 1 on problems)
  show     print entries as JSON lines (CIDs as strings, bytes as hex or base64)
  types:   ${ENTRY_TYPES.join(', ')}`

function pickVerifier(name: string | undefined): Verifier {
  switch (name ?? 'node') {
    case 'node': return nodeVerifier()
    case 'webcrypto': return webCryptoVerifier()
    case 'noble': return nobleVerifier()
    default: throw new InvalidParametersError(`--verifier must be node, webcrypto or noble, got '${String(name)}'`)
  }
}

/** JSON-ready form of a decoded value: CIDs as strings, bytes as hex or base64. */
export function toJsonValue(v: unknown, bytes: 'hex' | 'base64' = 'hex'): unknown {
  if (v instanceof Uint8Array) return bytes === 'hex' ? toHex(v) : Buffer.from(v).toString('base64')
  const c = CID.asCID(v)
  if (c !== null) return c.toString()
  if (Array.isArray(v)) return v.map((x) => toJsonValue(x, bytes))
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) out[k] = toJsonValue(x, bytes)
    return out
  }
  return v
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv
  if (sub === undefined || sub === '--help' || sub === '-h') {
    console.log(USAGE)
    return sub === undefined ? 2 : 0
  }
  if (sub !== 'verify' && sub !== 'show') {
    console.error(`tessera ledger: unknown subcommand '${sub}'\n${USAGE}`)
    return 2
  }
  const { values } = parseFlags(rest, {
    dir: { type: 'string' },
    json: { type: 'boolean' },
    verifier: { type: 'string' },
    type: { type: 'string' },
    author: { type: 'string' },
    round: { type: 'string' },
    bytes: { type: 'string' },
    help: { type: 'boolean', short: 'h' }
  })
  if (values.help === true) { console.log(USAGE); return 0 }
  const given = values.dir
  if (typeof given !== 'string' || given === '') throw new InvalidParametersError('--dir is required')
  const { existsSync } = await import('node:fs')
  // LevelDB always has a CURRENT file; checking first keeps the tool from writing into a wrong directory.
  const { join } = await import('node:path')
  if (!existsSync(given)) throw new InvalidParametersError(`--dir ${given} does not exist`)
  // A peer's data dir keeps its ledger in ledger/; accept either that dir or the store itself.
  const dir = existsSync(join(given, 'ledger', 'CURRENT')) ? join(given, 'ledger') : given
  if (!existsSync(join(dir, 'CURRENT'))) throw new InvalidParametersError(`--dir ${dir} holds no ledger store (no LevelDB CURRENT file)`)
  const store = await LedgerStore.open({ location: dir, verifier: pickVerifier(values.verifier as string | undefined), onCorruption: 'report', createIfMissing: false })
  try {
    return sub === 'verify' ? verify(store, dir, values.json === true) : await show(store, values)
  } finally {
    await store.close()
  }
}

function verify(store: LedgerStore, dir: string, json: boolean): number {
  const s = store.state
  const types: Record<string, number> = {}
  for (const m of s.entries.values()) types[m.type] = (types[m.type] ?? 0) + 1
  const report = store.report
  const summary = {
    dir,
    ok: report === undefined,
    network: s.charter?.networkId ?? null,
    genesis: s.genesisCid?.toString() ?? null,
    entries: s.size,
    stored: report?.expected ?? s.size,
    authors: s.chains.size,
    members: [...s.members.values()].filter((m) => m.admitted).length,
    excluded: s.excluded.size,
    rounds: s.lastRound,
    checkpoints: s.checkpoints.filter((c) => c !== undefined).length,
    lastCheckpoint: s.lastRound > 0 ? s.checkpointCid(s.lastRound)!.toString() : null,
    types,
    problem: report?.firstProblem ?? null,
    lost: report?.lost ?? null
  }
  if (json) {
    console.log(JSON.stringify(summary))
  } else {
    console.log(`ledger ${dir}`)
    console.log(`  network      ${summary.network ?? '(no genesis)'}  genesis ${summary.genesis ?? '-'}`)
    console.log(`  entries      ${summary.entries} verified of ${summary.stored} stored`)
    console.log(`  authors      ${summary.authors}  members ${summary.members}  excluded ${summary.excluded}`)
    console.log(`  rounds       ${summary.rounds} checkpointed${summary.lastCheckpoint !== null ? `, last ${summary.lastCheckpoint}` : ''}`)
    console.log(`  types        ${Object.entries(types).map(([t, n]) => `${t} ${n}`).join(', ') || '-'}`)
    if (report?.firstProblem !== undefined) {
      const p = report.firstProblem
      console.log(`  PROBLEM      position ${p.position} [${p.rule}]${p.cid !== undefined ? ` ${p.cid}` : ''}: ${p.message}`)
      console.log(`  lost         positions [${report.lost!.from}, ${report.lost!.to}) cannot be used`)
    } else {
      console.log('  status       OK: every entry verifies')
    }
  }
  return report === undefined ? 0 : 1
}

async function show(store: LedgerStore, values: Record<string, string | boolean | undefined>): Promise<number> {
  const bytes = (values.bytes ?? 'hex') as string
  if (bytes !== 'hex' && bytes !== 'base64') throw new InvalidParametersError(`--bytes must be hex or base64, got '${bytes}'`)
  const type = values.type as string | undefined
  if (type !== undefined && !(ENTRY_TYPES as readonly string[]).includes(type)) throw new InvalidParametersError(`--type must be one of ${ENTRY_TYPES.join(', ')}`)
  const author = (values.author as string | undefined)?.toLowerCase()
  if (author !== undefined && !/^[0-9a-f]{64}$/.test(author)) throw new InvalidParametersError('--author must be 64 hex digits (an Ed25519 public key)')
  let round: number | undefined
  if (values.round !== undefined) {
    round = Number(values.round)
    if (!Number.isSafeInteger(round) || round < 1) throw new InvalidParametersError(`--round must be a positive integer, got '${String(values.round)}'`)
  }
  const filter: { type?: EntryType, author?: string, round?: number } = {}
  if (type !== undefined) filter.type = type as EntryType
  if (author !== undefined) filter.author = author
  if (round !== undefined) filter.round = round
  const verifiedUpTo = store.report === undefined ? Infinity : store.report.good
  if (store.report !== undefined) console.error(`tessera ledger: store is damaged; entries from position ${store.report.good} are not verified`)
  for (const pos of await store.positions(filter)) {
    const env = await store.getByPosition(pos)
    if (env === undefined) continue
    let line: Record<string, unknown>
    try {
      const { entry, cid, sig } = decodeEnvelope(env)
      line = {
        position: pos,
        cid: cid.toString(),
        verified: pos < verifiedUpTo,
        type: entry.type,
        author: toHex(entry.author),
        seq: entry.seq,
        prev: entry.prev?.toString() ?? null,
        ts: entry.ts ?? null,
        body: toJsonValue(entry.body, bytes),
        sig: toJsonValue(sig, bytes)
      }
    } catch (err) {
      line = { position: pos, verified: false, error: (err as Error).message }
    }
    console.log(JSON.stringify(line))
  }
  return 0
}
