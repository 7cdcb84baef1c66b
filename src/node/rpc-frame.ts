/**
 * The response frame of Tessera's request/response protocols, shared by the
 * libp2p stream service and the in-memory transport so both fail the same way.
 *
 * On a stream (one request per stream):
 *   client -> server:  varint(len) || request                         len <= maxRequestBytes
 *   server -> client:  varint(len) || status(1 byte) || body          len <= max(maxResponseBytes, MAX_ERROR_BODY) + 1
 *     status 0: body is the handler's response
 *     status 1: body is UTF-8 JSON {code, name, message, limit?}, at most MAX_ERROR_BODY bytes
 * varint = unsigned LEB128 as in multiformats unsigned-varint (the libp2p
 * length-prefix convention), at most 9 bytes.
 *
 * Pure module.
 */
import { FrameTooLargeError, MalformedFrameError, RemoteError } from './errors.ts'

export const STATUS_OK = 0
export const STATUS_ERROR = 1
export const MAX_ERROR_BODY = 2048

export type RpcErrorCode = 'handler-error' | 'frame-too-large' | 'malformed-frame' | 'timeout'
const CODES: ReadonlySet<string> = new Set(['handler-error', 'frame-too-large', 'malformed-frame', 'timeout'])

export interface RpcErrorBody {
  code: RpcErrorCode
  name: string
  message: string
  limit?: number
}

/** Largest response frame a client accepts for a given response cap. */
export function responseFrameCap (maxResponseBytes: number): number {
  return Math.max(maxResponseBytes, MAX_ERROR_BODY) + 1
}

/** Encode an error body; strings are truncated so the body always fits MAX_ERROR_BODY. */
export function encodeErrorBody (body: RpcErrorBody): Uint8Array {
  const clean: RpcErrorBody = {
    code: body.code,
    name: String(body.name).slice(0, 64),
    message: String(body.message).slice(0, 512)
  }
  if (body.limit !== undefined) clean.limit = body.limit
  let bytes = new TextEncoder().encode(JSON.stringify(clean))
  // Multi-byte characters can still push it over: cut the message until it fits.
  while (bytes.length > MAX_ERROR_BODY) {
    clean.message = clean.message.slice(0, Math.floor(clean.message.length / 2))
    bytes = new TextEncoder().encode(JSON.stringify(clean))
  }
  return bytes
}

/** Parse an error body sent by a remote; MalformedFrameError unless it has the documented shape. */
export function decodeErrorBody (bytes: Uint8Array): RpcErrorBody {
  if (bytes.length > MAX_ERROR_BODY) throw new MalformedFrameError(`error body of ${bytes.length} bytes exceeds ${MAX_ERROR_BODY}`)
  let v: unknown
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (err) {
    throw new MalformedFrameError('error body is not UTF-8 JSON', { cause: err })
  }
  if (typeof v !== 'object' || v === null) throw new MalformedFrameError('error body is not an object')
  const o = v as Record<string, unknown>
  if (typeof o.code !== 'string' || !CODES.has(o.code)) throw new MalformedFrameError('error body has an unknown code')
  if (typeof o.name !== 'string' || typeof o.message !== 'string') throw new MalformedFrameError('error body lacks name or message')
  const body: RpcErrorBody = { code: o.code as RpcErrorCode, name: o.name.slice(0, 64), message: o.message.slice(0, 512) }
  if (o.limit !== undefined) {
    if (typeof o.limit !== 'number' || !Number.isSafeInteger(o.limit) || o.limit < 0) throw new MalformedFrameError('error body has a bad limit')
    body.limit = o.limit
  }
  return body
}

/** The typed error a client throws for a remote error body. */
export function errorFromBody (body: RpcErrorBody): Error {
  switch (body.code) {
    case 'frame-too-large':
      return new FrameTooLargeError(`the remote refused our request: ${body.message}`, body.limit ?? -1, undefined, 'remote')
    case 'malformed-frame':
      return new MalformedFrameError(`the remote could not parse our request: ${body.message}`)
    default:
      return new RemoteError(body.name, body.message)
  }
}

/**
 * Decode a response frame (status byte + body, without the length prefix):
 * return the response, or throw the typed error it carries.
 */
export function decodeResponseFrame (frame: Uint8Array, maxResponseBytes: number): Uint8Array {
  if (frame.length === 0) throw new MalformedFrameError('empty response frame')
  const status = frame[0]
  const body = frame.subarray(1)
  if (status === STATUS_OK) {
    if (body.length > maxResponseBytes) throw new FrameTooLargeError(`response of ${body.length} bytes exceeds the cap of ${maxResponseBytes}`, maxResponseBytes, body.length, 'local')
    return body
  }
  if (status === STATUS_ERROR) throw errorFromBody(decodeErrorBody(body))
  throw new MalformedFrameError(`unknown response status ${String(status)}`)
}

/** An error body for whatever a handler threw. */
export function handlerErrorBody (err: unknown): RpcErrorBody {
  const e = err instanceof Error ? err : new Error(String(err))
  return { code: 'handler-error', name: e.name || 'Error', message: e.message }
}
