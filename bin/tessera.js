#!/usr/bin/env node
// The `tessera` command: TypeScript sources run through tsx's loader, so the CLI,
// the tests and the examples all run the same code with no build step.
import { register } from 'tsx/esm/api'
register()
const { main } = await import('../src/node/cli.ts')
process.exitCode = await main(process.argv.slice(2))
