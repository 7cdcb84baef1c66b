import assert from 'node:assert/strict'
import fc from 'fast-check'
import { sha256 } from '@noble/hashes/sha2.js'
import { networkIdFromGenesis, networkProtocols, parseProtocolId, isNetworkId, scopeProtocol, scopeTopic, STREAM_FAMILIES, GOSSIP_TOPICS, MAX_GOSSIP_BYTES } from '../../src/node/protocol-ids.ts'
import * as round from '../../src/gossip-fl/round/messages.ts'

describe('node/protocol-ids', () => {
  it('netid is the first 8 bytes of SHA-256(domain || genesis id), in hex', () => {
    const g = new Uint8Array(32).fill(1)
    const input = new Uint8Array([...new TextEncoder().encode('tessera/netid/v1'), ...g])
    const expected = Array.from(sha256(input).slice(0, 8), (b) => b.toString(16).padStart(2, '0')).join('')
    assert.equal(networkIdFromGenesis(g), expected)
    assert.ok(isNetworkId(expected))
  })

  it('CIDs sharing a prefix still give different netids; equal ids give equal netids', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (a, b) => {
      const prefix = [0x01, 0x71, 0x12, 0x20] // CIDv1, dag-cbor, sha2-256, 32 bytes
      const ca = new Uint8Array([...prefix, ...a]); const cb = new Uint8Array([...prefix, ...b])
      assert.equal(networkIdFromGenesis(ca), networkIdFromGenesis(ca.slice()))
      if (a.some((x, i) => x !== b[i])) assert.notEqual(networkIdFromGenesis(ca), networkIdFromGenesis(cb))
    }), { numRuns: 200 })
  })

  it('every family and topic gets a distinct, parseable, versioned id under the netid', () => {
    const net = networkProtocols(networkIdFromGenesis(new Uint8Array(32)))
    const ids = [...Object.values(net.protocols).map((p) => p.id), ...net.allTopics]
    assert.equal(new Set(ids).size, Object.keys(STREAM_FAMILIES).length + Object.keys(GOSSIP_TOPICS).length)
    for (const id of ids) {
      const p = parseProtocolId(id)
      assert.ok(p != null, id)
      assert.equal(p.netId, net.netId)
      assert.match(p.version, /^\d+(\.\d+){0,2}$/)
    }
    assert.equal(net.protocols['round-share'].id, `/tessera/${net.netId}/round-share/1.0.0`)
    // gossip wire 2 (unsigned envelopes, payload-authenticated): a segment after the netid
    assert.equal(net.topics.receipt.name, `/tessera/${net.netId}/g2/round/receipt/2`)
    assert.equal(net.topics.discovery.name, `/tessera/${net.netId}/g2/peer/discovery/2`)
    // gossip caps stay well under gossipsub's ~4 MiB silent-drop size
    assert.ok(MAX_GOSSIP_BYTES <= 1024 * 1024)
    // shares must carry multi-megabyte vectors
    assert.ok(net.protocols['round-share'].maxRequestBytes >= 8 * 1024 * 1024)
  })

  it('the round protocol\'s families and topics scope into this table, with caps that carry its messages', () => {
    const net = networkProtocols(networkIdFromGenesis(new Uint8Array(32).fill(3)))
    const ids = new Set(Object.values(net.protocols).map((p) => p.id))
    for (const fam of [round.FAMILY_SHARE, round.FAMILY_ZERO, round.FAMILY_PARTIAL]) {
      const id = scopeProtocol(net.netId, fam)
      assert.ok(ids.has(id), id)
      const spec = Object.values(net.protocols).find((p) => p.id === id)!
      assert.ok(spec.maxRequestBytes >= round.LIMITS.maxVectorBytes, `${fam} carries a full field vector`)
    }
    for (const t of [round.TOPIC_CONTRIBUTION, round.TOPIC_RECEIPT, round.TOPIC_PLAN, round.TOPIC_CHECKPOINT]) {
      assert.ok(net.allTopics.includes(scopeTopic(net.netId, t)), t)
    }
    assert.equal(scopeProtocol(net.netId, '/tessera/round-share/1.0.0'), `/tessera/${net.netId}/round-share/1.0.0`)
    for (const bad of ['', '/tessera/x', `/tessera/${net.netId}/round-share/1.0.0`, '/other/round-share/1.0.0', '/tessera/Round/1.0.0']) {
      assert.throws(() => scopeProtocol(net.netId, bad), (e: Error) => e.name === 'InvalidParametersError', bad)
    }
    for (const bad of ['', '/round/receipt/1', 'round/receipt', 'a/b/c/d/e/1', 'a/b/c/d/1', 'Round/x/1']) {
      assert.throws(() => scopeTopic(net.netId, bad), (e: Error) => e.name === 'InvalidParametersError', bad)
    }
  })

  it('two networks never share an id', () => {
    const a = networkProtocols(networkIdFromGenesis(new Uint8Array(32).fill(1)))
    const b = networkProtocols(networkIdFromGenesis(new Uint8Array(32).fill(2)))
    const sa = new Set([...Object.values(a.protocols).map((p) => p.id), ...a.allTopics])
    for (const id of [...Object.values(b.protocols).map((p) => p.id), ...b.allTopics]) assert.ok(!sa.has(id))
  })

  it('hostile inputs give InvalidParametersError or undefined, never a crash', () => {
    for (const bad of [new Uint8Array(0), new Uint8Array(15), 'abc', null, 12]) {
      assert.throws(() => networkIdFromGenesis(bad as Uint8Array), (e: Error) => e.name === 'InvalidParametersError')
    }
    for (const bad of ['', 'ABCDEF0123456789', '0123', '../etc', '0123456789abcdef/x', null]) {
      assert.throws(() => networkProtocols(bad as string), (e: Error) => e.name === 'InvalidParametersError')
    }
    for (const bad of ['', '/tessera', '/tessera/xyz/shares/1.0.0', '/tessera/0123456789abcdef/shares/v1', 'x'.repeat(10000), '/tessera/0123456789abcdef/Shares/1.0.0', '/tessera/0123456789abcdef/1.0.0']) {
      assert.equal(parseProtocolId(bad), undefined)
    }
    fc.assert(fc.property(fc.string(), (s) => { parseProtocolId(s) }))
  })
})
