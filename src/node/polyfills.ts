/**
 * Platform gaps that libp2p 3 expects to be filled before it loads.
 *
 * libp2p 3 targets Node 22+ and browsers: it calls `Promise.withResolvers`
 * (ES2024, V8 12.2+) and, in @libp2p/websockets, dials with the global
 * `WebSocket` class (global in Node 22, absent in Node 20). Node 20 has neither,
 * so every entry point that may load libp2p imports this module FIRST:
 *
 *   import './polyfills.ts'   // before any @libp2p/* or libp2p import
 *
 * ESM evaluates imports depth-first in order, so a side-effect import placed
 * first runs before libp2p's modules evaluate. Both fills are no-ops where the
 * platform already provides the feature.
 */
import { WebSocket as WsWebSocket } from 'ws'

interface WithResolvers<T> { promise: Promise<T>, resolve: (value: T | PromiseLike<T>) => void, reject: (reason?: unknown) => void }

const P = Promise as unknown as { withResolvers?: <T>() => WithResolvers<T> }
if (typeof P.withResolvers !== 'function') {
  // Same contract as ES2024 Promise.withResolvers (ECMA-262 §27.2.4.8).
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T> (): WithResolvers<T> {
      let resolve!: (value: T | PromiseLike<T>) => void
      let reject!: (reason?: unknown) => void
      const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}

const G = globalThis as unknown as { WebSocket?: unknown }
if (typeof G.WebSocket !== 'function') {
  // `ws` implements the WHATWG WebSocket surface that @libp2p/websockets uses
  // (binaryType, onopen/onmessage/onclose, send, close, bufferedAmount).
  G.WebSocket = WsWebSocket
}

export {}
