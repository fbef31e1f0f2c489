#!/usr/bin/env node
/**
 * The `minicontainer` command (package.json "bin"): a small dispatcher over
 * subcommands. `minicontainer doctor [--json]` is the only one so far.
 *
 * @module
 */
import { doctor } from './doctor'

const usage = 'usage: minicontainer doctor [--json]\n  doctor   check what rootless mode needs on this host, with the fix for each failure\n'

/** Runs the subcommand named by `argv[0]`; resolves with the exit status (2 for a usage error). */
export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv
  if (command === 'doctor') return doctor(args)
  process.stderr.write(command && command !== '--help' && command !== '-h' ? `minicontainer: unknown command "${command}"\n${usage}` : usage)
  return command === '--help' || command === '-h' ? 0 : 2
}

if (require.main === module)
  main(process.argv.slice(2)).then(
    (status) => (process.exitCode = status),
    (err: Error) => {
      process.stderr.write(`minicontainer: ${err.message}\n`)
      process.exitCode = 1
    },
  )
