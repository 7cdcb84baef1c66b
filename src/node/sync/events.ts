/**
 * A minimal typed event emitter (House style 5: events are typed). Listeners
 * that throw are isolated: one bad listener never breaks the service emitting.
 * Pure module (no node:events), so it runs in the browser unchanged.
 */
export type Listener<T> = (detail: T) => void

export class TypedEmitter<Events extends { [K in keyof Events]: unknown }> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>()

  /** Add a listener; returns the remover. */
  on<K extends keyof Events> (type: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(type)
    if (set === undefined) { set = new Set(); this.listeners.set(type, set) }
    set.add(listener as Listener<never>)
    return () => { set.delete(listener as Listener<never>) }
  }

  /** Resolve with the next event of `type` that satisfies `filter` (for tests and callers that wait). */
  async once<K extends keyof Events> (type: K, filter: (d: Events[K]) => boolean = () => true, signal?: AbortSignal): Promise<Events[K]> {
    return await new Promise<Events[K]>((resolve, reject) => {
      if (signal?.aborted === true) { reject(signal.reason); return }
      const off = this.on(type, (d) => {
        if (!filter(d)) return
        off()
        signal?.removeEventListener('abort', onAbort)
        resolve(d)
      })
      const onAbort = (): void => { off(); reject(signal!.reason) }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  protected emit<K extends keyof Events> (type: K, detail: Events[K]): void {
    const set = this.listeners.get(type)
    if (set === undefined) return
    for (const l of [...set]) {
      try { (l as Listener<Events[K]>)(detail) } catch { /* a listener's failure is its own */ }
    }
  }

  protected removeAllListeners (): void { this.listeners.clear() }
}
