import { modelFetchSuite } from './model-suite.ts'
import { memoryPeers } from './fixture.ts'

modelFetchSuite('the in-memory network', memoryPeers)
