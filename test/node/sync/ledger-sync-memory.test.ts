import { ledgerSyncSuite } from './ledger-sync-suite.ts'
import { memoryPeers } from './fixture.ts'

ledgerSyncSuite('the in-memory network', memoryPeers, { settleMs: 20 })
