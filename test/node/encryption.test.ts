/**
 * No share travels in the clear (DESIGN "A round" 2): a tiny TCP proxy on
 * loopback sits between two real libp2p nodes and records every byte on the
 * wire; a share-like payload with a known marker goes over stream RPC, and the
 * marker must not appear in the capture, in either direction.
 */
import assert from 'node:assert/strict'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { libp2pHarness } from './libp2p-harness.ts'
import type { Libp2pTransport } from '../../src/node/libp2p-transport.ts'
import { quietNoiseStats } from '../../src/node/noise-crypto.ts'

function indexOf (hay: Buffer, needle: Uint8Array): number {
  return hay.indexOf(Buffer.from(needle.buffer, needle.byteOffset, needle.byteLength))
}

describe('node/encryption on the wire', function () {
  this.timeout(60_000)
  let proxy: Server
  const sockets = new Set<Socket>()
  const captured: { up: Buffer[], down: Buffer[] } = { up: [], down: [] }
  let h: Awaited<ReturnType<typeof libp2pHarness>>
  let a: Libp2pTransport, b: Libp2pTransport

  before(async () => {
    const one = await libp2pHarness(1); const two = await libp2pHarness(1)
    a = one.transports[0]!; b = two.transports[0]!
    h = { transports: [a, b], teardown: async () => { await one.teardown(); await two.teardown() } }
    const target = /\/ip4\/127\.0\.0\.1\/tcp\/(\d+)\/p2p\//.exec(b.addresses().find((x) => !x.includes('/ws'))!)!
    const targetPort = Number(target[1])
    proxy = createServer((client) => {
      const server = connect(targetPort, '127.0.0.1')
      sockets.add(client); sockets.add(server)
      client.on('data', (d) => { captured.up.push(Buffer.from(d)); server.write(d) })
      server.on('data', (d) => { captured.down.push(Buffer.from(d)); client.write(d) })
      const end = (): void => { client.destroy(); server.destroy(); sockets.delete(client); sockets.delete(server) }
      client.on('close', end); server.on('close', end); client.on('error', end); server.on('error', end)
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  })

  after(async () => {
    await h.teardown()
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => proxy.close(() => { resolve() }))
  })

  it('a marked share sent over stream RPC never appears in plaintext on TCP', async () => {
    const marker = new TextEncoder().encode('TESSERA-SHARE-MARKER-7f3a9c1e')
    const share = new Uint8Array(256 * 1024)
    for (let off = 0; off + marker.length <= share.length; off += marker.length) share.set(marker, off)
    await b.handle('/tessera/00112233aabbccdd/shares/1.0.0', (req) => req.slice(0, 4096), { maxRequestBytes: 1024 * 1024 })
    await b.handle('/tessera/00112233aabbccdd/echo/1.0.0', (req) => req, { maxRequestBytes: 1024 * 1024, maxResponseBytes: 1024 * 1024 })
    const port = (proxy.address() as { port: number }).port
    const bPeerId = b.node.peerId.toString()
    const name = await a.dial(`/ip4/127.0.0.1/tcp/${port}/p2p/${bPeerId}`)
    assert.equal(name, b.self, 'Noise authenticated the peer behind the proxy')
    const reply = await a.send(b.self, '/tessera/00112233aabbccdd/shares/1.0.0', share, { maxRequestBytes: 1024 * 1024 })
    assert.deepEqual(reply, share.slice(0, 4096))
    // Both ends' Noise streams took the quiet frame decoder (noise-crypto.ts quietNoise), and the
    // 256 KiB share crossed in many Noise frames intact (the reply is its first 4 KiB, and below).
    assert.ok(quietNoiseStats.applied >= 2, `quiet decoder on ${quietNoiseStats.applied} connections`)
    assert.equal(quietNoiseStats.skipped, 0, 'a Noise stream without the expected decoder')
    const whole = await a.send(b.self, '/tessera/00112233aabbccdd/echo/1.0.0', share, { maxRequestBytes: 1024 * 1024, maxResponseBytes: 1024 * 1024 })
    assert.deepEqual(whole, share, 'a 256 KiB echo over Noise is byte-exact')

    const up = Buffer.concat(captured.up); const down = Buffer.concat(captured.down)
    // The capture saw the traffic: at least the share went up, the reply came down.
    assert.ok(up.length > share.length, `captured ${up.length} bytes upstream`)
    assert.ok(down.length > 4096, `captured ${down.length} bytes downstream`)
    // Positive control: the plaintext multistream-select negotiation of Noise is
    // visible, so a plaintext marker would have been found the same way.
    assert.ok(indexOf(up, new TextEncoder().encode('/noise')) >= 0, 'the capture holds the plaintext /noise negotiation')
    assert.equal(indexOf(up, marker), -1, 'marker in plaintext upstream')
    assert.equal(indexOf(down, marker), -1, 'marker in plaintext downstream')
    // Any 12-byte window of the marker would betray it too.
    for (let i = 0; i + 12 <= marker.length; i += 6) {
      assert.equal(indexOf(up, marker.subarray(i, i + 12)), -1)
      assert.equal(indexOf(down, marker.subarray(i, i + 12)), -1)
    }
    // The protocol id itself is negotiated inside the encrypted channel.
    assert.equal(indexOf(up, new TextEncoder().encode('/tessera/00112233aabbccdd/shares')), -1)
  })
})
