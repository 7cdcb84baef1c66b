import { transportCompliance } from './transport-compliance.ts'
import { libp2pHarness } from './libp2p-harness.ts'

transportCompliance('libp2p (TCP, Noise, Yamux, gossipsub) on loopback', libp2pHarness, { settleMs: 500 })
