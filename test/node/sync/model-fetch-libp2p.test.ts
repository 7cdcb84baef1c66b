import { modelFetchSuite } from './model-suite.ts'
import { libp2pPeers } from './fixture.ts'

modelFetchSuite('libp2p (TCP, Noise, Yamux) on 127.0.0.1', libp2pPeers)
