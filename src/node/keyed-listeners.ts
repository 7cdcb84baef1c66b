/**
 * Listeners kept per key (a topic), for the transports' `onTopicPeer`: both the
 * libp2p gossip service and the in-memory transport register and remove them
 * the same way, so the bookkeeping lives here once.
 */
import { InvalidParametersError } from '../util/errors.ts'

/** Add `listener` under `key`; returns the remover (idempotent, drops the key's empty set). */
export function addKeyedListener<L extends (...args: never[]) => unknown> (map: Map<string, Set<L>>, key: string, listener: L, what = 'onTopicPeer'): () => void {
  if (typeof key !== 'string' || key.length === 0 || typeof listener !== 'function') throw new InvalidParametersError(`${what} needs a topic and a listener function`)
  const set = map.get(key) ?? new Set<L>()
  set.add(listener)
  map.set(key, set)
  return () => {
    set.delete(listener)
    if (set.size === 0 && map.get(key) === set) map.delete(key)
  }
}
