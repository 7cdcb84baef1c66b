import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Level } from 'level'
import { main } from '../../src/node/cli.ts'
import { toHex } from '../../src/ledger/bytes.ts'
import { Ledger } from '../../src/ledger/ledger.ts'
import { keys } from '../../src/ledger/store.ts'
import { makeNet, runRound, verifier, type Net } from './fixture.ts'

/** Run the CLI in-process, capturing stdout lines. */
async function cli(...argv: string[]): Promise<{ code: number, out: string[], err: string[] }> {
  const out: string[] = []
  const err: string[] = []
  const log = console.log
  const error = console.error
  console.log = (...a: unknown[]) => { out.push(a.join(' ')) }
  console.error = (...a: unknown[]) => { err.push(a.join(' ')) }
  try {
    return { code: await main(argv), out, err }
  } finally {
    console.log = log
    console.error = error
  }
}

describe('tessera ledger (CLI)', function () {
  this.timeout(60_000)
  let dir = ''
  let net: Net
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-cli-'))
    net = await makeNet({ peers: 4 })
    await runRound(net)
    await runRound(net)
    const l = await Ledger.open({ location: dir, verifier })
    await l.appendMany(net.log)
    await l.close()
  })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('verify prints a summary and exits 0 on a sound ledger', async () => {
    const r = await cli('ledger', 'verify', '--dir', dir, '--json')
    assert.equal(r.code, 0)
    const s = JSON.parse(r.out[0]!)
    assert.equal(s.ok, true)
    assert.equal(s.entries, net.log.length)
    assert.equal(s.rounds, 2)
    assert.equal(s.checkpoints, 2)
    assert.equal(s.authors, 7)
    assert.equal(s.types.contribution, 8)
    const text = await cli('ledger', 'verify', '--dir', dir, '--verifier', 'noble')
    assert.equal(text.code, 0)
    assert.match(text.out.join('\n'), /OK: every entry verifies/)
  })

  it('verify accepts a peer data dir and uses its ledger/ store', async () => {
    const peerDir = await mkdtemp(join(tmpdir(), 'tessera-cli-peer-'))
    try {
      const l = await Ledger.open({ location: join(peerDir, 'ledger'), verifier })
      await l.appendMany(net.log)
      await l.close()
      const r = await cli('ledger', 'verify', '--dir', peerDir, '--json')
      assert.equal(r.code, 0)
      assert.equal(JSON.parse(r.out[0]!).entries, net.log.length)
      const empty = await cli('ledger', 'verify', '--dir', join(peerDir, 'nope'))
      assert.equal(empty.code, 1)
      assert.match(empty.err.join('\n'), /InvalidParametersError/)
    } finally {
      await rm(peerDir, { recursive: true, force: true })
    }
  })

  it('show prints JSON lines with CIDs as strings and bytes as hex or base64, filtered', async () => {
    const all = await cli('ledger', 'show', '--dir', dir)
    assert.equal(all.code, 0)
    const lines = all.out.map((l) => JSON.parse(l))
    assert.equal(lines.length, net.log.length)
    assert.deepEqual(lines.map((l) => l.cid), net.log.map((e) => e.cid.toString()))
    const peer = toHex(net.peers[1]!.publicKey)
    const mine = (await cli('ledger', 'show', '--dir', dir, '--author', peer)).out.map((l) => JSON.parse(l))
    assert.ok(mine.length >= 3 && mine.every((l) => l.author === peer))
    const cps = (await cli('ledger', 'show', '--dir', dir, '--type', 'checkpoint', '--round', '2')).out.map((l) => JSON.parse(l))
    assert.equal(cps.length, 1)
    assert.equal(cps[0].body.round, 2)
    assert.equal(cps[0].body.prev, net.state.checkpointCid(1)!.toString())
    assert.match(cps[0].body.modelHash, /^[0-9a-f]{64}$/)
    const b64 = (await cli('ledger', 'show', '--dir', dir, '--type', 'checkpoint', '--round', '2', '--bytes', 'base64')).out.map((l) => JSON.parse(l))
    assert.equal(Buffer.from(b64[0].body.modelHash, 'base64').toString('hex'), cps[0].body.modelHash)
  })

  it('rejects bad flags with a typed error and exit 1', async () => {
    for (const argv of [['show', '--dir', dir, '--type', 'bogus'], ['show', '--dir', dir, '--author', 'xyz'], ['show', '--dir', dir, '--round', '-1'], ['verify'], ['verify', '--dir', join(dir, 'nope')], ['verify', '--dir', dir, '--verifier', 'rsa']]) {
      const r = await cli('ledger', ...argv)
      assert.equal(r.code, 1, argv.join(' '))
      assert.match(r.err.join('\n'), /InvalidParametersError/)
    }
    assert.equal((await cli('ledger', 'frobnicate')).code, 2)
    // An existing directory that holds no ledger: a typed error, and nothing is created in it.
    const empty = await mkdtemp(join(tmpdir(), 'tessera-cli-empty-'))
    const r = await cli('ledger', 'verify', '--dir', empty)
    assert.equal(r.code, 1)
    assert.match(r.err.join('\n'), /InvalidParametersError: .*holds no ledger store/)
    assert.deepEqual(await readdir(empty), [])
    await rm(empty, { recursive: true, force: true })
  })

  it('verify reports a damaged store: the first problem and the lost range, exit 1 (through the real binary)', async () => {
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
    await db.open()
    const v = (await db.get(keys.log(10)))!.slice()
    v[v.length - 2]! ^= 1
    await db.put(keys.log(10), v)
    await db.close()
    const bin = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url))
    const r = spawnSync(process.execPath, [bin, 'ledger', 'verify', '--dir', dir], { encoding: 'utf8', timeout: 30_000 })
    assert.equal(r.status, 1, r.stderr)
    assert.match(r.stdout, /10 verified of 23 stored/)
    assert.match(r.stdout, /PROBLEM +position 10 \[signature\]/)
    assert.match(r.stdout, /positions \[10, 23\) cannot be used/)
    const shown = (await cli('ledger', 'show', '--dir', dir)).out.map((l) => JSON.parse(l))
    assert.equal(shown.length, 23)
    assert.deepEqual(shown.map((l) => l.verified), shown.map((_, i) => i < 10))
  })
})
