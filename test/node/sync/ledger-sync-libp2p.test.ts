import { ledgerSyncSuite } from './ledger-sync-suite.ts'
import { libp2pPeers } from './fixture.ts'

ledgerSyncSuite('libp2p (TCP, Noise, Yamux, gossipsub) on 127.0.0.1', libp2pPeers, { settleMs: 500 })
