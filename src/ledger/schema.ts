/**
 * Tiny structural checks for decoded CBOR values. Each throws a
 * LedgerVerificationError('malformed') naming the field path, so a hostile
 * entry gets a typed error, never a crash.
 */
import { CID } from 'multiformats/cid'
import { LedgerVerificationError } from './errors.ts'

export type Obj = Record<string, unknown>

export function fail(path: string, what: string): never {
  throw new LedgerVerificationError('malformed', `${path}: ${what}`)
}

export function obj(v: unknown, path: string, required: readonly string[], optional: readonly string[] = []): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array || CID.asCID(v) !== null) fail(path, 'expected a map')
  const o = v as Obj
  for (const k of required) if (!(k in o)) fail(`${path}.${k}`, 'missing')
  for (const k of Object.keys(o)) if (!required.includes(k) && !optional.includes(k)) fail(`${path}.${k}`, 'unexpected field')
  return o
}

export function int(v: unknown, path: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(path, 'expected an integer')
  if (v < min || v > max) fail(path, `out of range [${min}, ${max}]`)
  return v
}

export function num(v: unknown, path: string, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, 'expected a finite number')
  if (v < min || v > max) fail(path, `out of range [${min}, ${max}]`)
  return v
}

export function str(v: unknown, path: string, maxLen = 256, minLen = 0): string {
  if (typeof v !== 'string') fail(path, 'expected a string')
  if (v.length > maxLen || v.length < minLen) fail(path, `length must be in [${minLen}, ${maxLen}]`)
  return v
}

export function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, 'expected a boolean')
  return v
}

export function bytes(v: unknown, path: string, len?: number, maxLen = 1 << 20): Uint8Array {
  if (!(v instanceof Uint8Array)) fail(path, 'expected bytes')
  if (len !== undefined && v.length !== len) fail(path, `expected ${len} bytes, got ${v.length}`)
  if (v.length > maxLen) fail(path, `more than ${maxLen} bytes`)
  return v
}

export function cid(v: unknown, path: string): CID {
  const c = CID.asCID(v)
  if (c === null) fail(path, 'expected a CID link')
  return c
}

export function list<T>(v: unknown, path: string, maxLen: number, each: (x: unknown, p: string) => T, minLen = 0): T[] {
  if (!Array.isArray(v)) fail(path, 'expected a list')
  if (v.length > maxLen || v.length < minLen) fail(path, `length must be in [${minLen}, ${maxLen}]`)
  return v.map((x, i) => each(x, `${path}[${i}]`))
}

export function oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) fail(path, `expected one of ${allowed.join(', ')}`)
  return v as T
}
