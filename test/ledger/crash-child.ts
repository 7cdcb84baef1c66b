/**
 * Child process of crash.test.ts: opens (and so re-verifies) the ledger in
 * argv[2], then appends entries as fast as it can, printing "ack <cid>" only
 * after each append has returned (i.e. after LevelDB's synced batch). The
 * parent kills it with SIGKILL at random moments. stdout to a pipe is
 * synchronous on Linux, so every printed ack has left the process.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { makeEntry, makeGenesis } from '../../src/ledger/author.ts'
import { utf8 } from '../../src/ledger/bytes.ts'
import { makeCharter } from '../../src/ledger/charter.ts'
import { Ledger } from '../../src/ledger/ledger.ts'
import { signerOf, verifier } from './fixture.ts'

const dir = process.argv[2]!
const founder = signerOf(0, 'founder')
const writers = [signerOf(1), signerOf(2), signerOf(3)]
const ledger = await Ledger.open({ location: dir, verifier })
const say = (s: string): void => { process.stdout.write(`${s}\n`) }
say(`ready ${ledger.size}`)
if (ledger.size === 0) {
  const g = await ledger.append(await makeGenesis(founder, makeCharter({ networkId: 'crash-test', admission: { mode: 'open', founders: [founder.publicKey] } })))
  say(`ack ${g.cid.toString()}`)
}
for (const w of writers) {
  if (!ledger.state.isAdmitted(Buffer.from(w.publicKey).toString('hex'))) say(`ack ${(await ledger.append(await makeEntry(ledger.state, w, 'join', {}))).cid.toString()}`)
}
const deadline = Date.now() + 20_000
for (let i = 0; Date.now() < deadline && i < 100_000; i++) {
  const w = writers[i % writers.length]!
  const tag = `${ledger.size}/${i}`
  if (i % 5 === 4) {
    // A batch of entries by two authors, one synced write.
    const a = await makeEntry(ledger.state, w, 'watermark', { commitment: sha256(utf8(`a${tag}`)), modelHash: sha256(utf8(tag)) })
    const w2 = writers[(i + 1) % writers.length]!
    const b = await makeEntry(ledger.state, w2, 'watermark', { commitment: sha256(utf8(`b${tag}`)), modelHash: sha256(utf8(tag)) })
    for (const e of await ledger.appendMany([a, b])) say(`ack ${e.cid.toString()}`)
  } else {
    const e = await ledger.append(await makeEntry(ledger.state, w, 'watermark', { commitment: sha256(utf8(tag)), modelHash: sha256(utf8(tag)) }))
    say(`ack ${e.cid.toString()}`)
  }
}
await ledger.close()
