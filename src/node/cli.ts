/**
 * The `tessera` command line. Each subcommand lives in its own file under
 * src/node/commands/ and exports `run(argv: string[]): Promise<number>` and a
 * one-line `summary`; they are loaded lazily so that `tessera privacy` does not
 * pay for loading TensorFlow.js or libp2p.
 */
type Command = { summary: string, run: (argv: string[]) => Promise<number> }

const COMMANDS = ['privacy', 'baseline', 'federated', 'ledger', 'init', 'peer', 'status', 'sim'] as const

async function loadCommand(name: string): Promise<Command> {
  // A computed specifier keeps each command's dependencies out of the others' start-up.
  return await import(`./commands/${name}.ts`) as Command
}

function usage(): string {
  return [
    'usage: tessera <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c}`),
    '',
    'Run `tessera <command> --help` for a command\'s options.'
  ].join('\n')
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage())
    return name === undefined ? 2 : 0
  }
  if (!(COMMANDS as readonly string[]).includes(name)) {
    console.error(`tessera: unknown command '${name}'\n\n${usage()}`)
    return 2
  }
  let cmd: Command
  try {
    cmd = await loadCommand(name)
  } catch (err) {
    console.error(`tessera: command '${name}' is not available in this build: ${(err as Error).message}`)
    return 2
  }
  try {
    return await cmd.run(rest)
  } catch (err) {
    const e = err as Error
    console.error(`tessera ${name}: ${e.name}: ${e.message}`)
    return 1
  }
}
