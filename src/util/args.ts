/**
 * Minimal flag parsing for the CLI on top of node:util's parseArgs, with typed
 * errors: a wrong flag is an InvalidParametersError that names it.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { InvalidParametersError } from './errors.ts'

export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T): { values: Record<string, string | boolean | undefined>, positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
    return { values: values as Record<string, string | boolean | undefined>, positionals }
  } catch (err) {
    throw new InvalidParametersError((err as Error).message)
  }
}

export function numberFlag(values: Record<string, unknown>, name: string, fallback?: number): number {
  const v = values[name]
  if (v === undefined) {
    if (fallback === undefined) throw new InvalidParametersError(`--${name} is required`)
    return fallback
  }
  const n = Number(v)
  if (!Number.isFinite(n)) throw new InvalidParametersError(`--${name} must be a number, got '${String(v)}'`)
  return n
}
