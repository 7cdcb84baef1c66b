/** Real libp2p peers on loopback for tests: n nodes, fully connected, stopped by teardown. */
import '../../src/node/polyfills.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Libp2pTransport } from '../../src/node/libp2p-transport.ts'
import type { TesseraLibp2pOptions } from '../../src/node/libp2p.ts'
import type { Harness } from './transport-compliance.ts'
import { NET } from './transport-compliance.ts'

export async function libp2pHarness (n: number, extra: Partial<TesseraLibp2pOptions> = {}): Promise<Harness & { transports: Libp2pTransport[] }> {
  const transports: Libp2pTransport[] = []
  const teardown = async (): Promise<void> => { await Promise.all(transports.map(async (t) => { await t.stop() })) }
  try {
    for (let i = 0; i < n; i++) {
      const t = await Libp2pTransport.create({
        privateKey: await generateKeyPair('Ed25519'),
        netId: NET.netId,
        pubsubDiscovery: false,
        heartbeatIntervalMs: 200,
        ...extra
      })
      transports.push(t)
      await t.start()
    }
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) await transports[i]!.dial(transports[j]!.addresses()[0]!)
    }
  } catch (err) {
    await teardown()
    throw err
  }
  return { transports, teardown }
}
