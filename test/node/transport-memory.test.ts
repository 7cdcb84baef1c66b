import { MemoryNetwork } from '../../src/node/memory-transport.ts'
import { seededRng } from '../../src/util/rng.ts'
import { transportCompliance } from './transport-compliance.ts'

transportCompliance('in-memory', async (n) => {
  const net = new MemoryNetwork({ rng: seededRng('compliance') })
  const transports = Array.from({ length: n }, () => net.createTransport())
  for (const t of transports) await t.start()
  return { transports, teardown: async () => { for (const t of transports) await t.stop() } }
}, { settleMs: 50 })
