#!/usr/bin/env node
/**
 * The `minicontainer` command (package.json "bin"): a small dispatcher over
 * subcommands, on the default runtime (`$MINICONTAINER_ROOT`, else
 * /var/lib/minicontainer). Exit status: the command's, 1 for an error (its
 * code and message on stderr), 2 for a wrong command line.
 *
 * @module
 */
import { MiniContainerError, Runtime } from '../index'
import { UsageError } from './args'
import { exec, inspect, logs, ps, rm, runCommand, type CliIO } from './containers'
import { doctor } from './doctor'
import { images, load, prune, pull } from './resources'

/** Each command with its synopsis, in the order `--help` lists them. */
const commands: Record<string, { run: (argv: string[], io: CliIO) => Promise<number>; usage: string }> = {
  ps: { run: ps, usage: 'ps [-a] [--json]                          list containers (running ones without -a)' },
  logs: { run: logs, usage: 'logs [-f] [--tail N] [-t] <container>     print a container\'s output' },
  exec: { run: exec, usage: 'exec [-u U] [-w DIR] [-e K=V] <container> [--] <cmd>...   run a command in a running container' },
  run: { run: runCommand, usage: 'run [--rm] [-d] [--name N] [-p SPEC] [-e K=V] [-v SPEC] [--network NET] <image> [cmd]...' },
  rm: { run: rm, usage: 'rm [-f] [-v] <container>...                remove containers' },
  prune: { run: prune, usage: 'prune [--volumes] [--filter label=K[=V]] [--filter until=T] [--json]   remove what is not used' },
  images: { run: images, usage: 'images [--json]                           list images' },
  pull: { run: pull, usage: 'pull [-q] [--platform P] <image>          pull from a registry, with progress' },
  load: { run: load, usage: 'load [-q] [-i FILE]                       load docker save / OCI archives (stdin without -i)' },
  inspect: { run: inspect, usage: 'inspect <container|image>                 details as JSON' },
  doctor: { run: (argv, io) => doctor(argv, io.stdout), usage: 'doctor [--json]                           check what rootless mode needs here' },
}

const usage = `usage: minicontainer <command>\n${Object.values(commands).map((c) => `  ${c.usage}`).join('\n')}\n`

/** Runs the subcommand named by `argv[0]`; resolves with the exit status. */
export async function main(argv: string[], io: CliIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [name, ...args] = argv
  if (name === '--help' || name === '-h') return io.stdout.write(usage), 0
  const command = name === undefined ? undefined : commands[name]
  if (!command) return io.stderr.write(name ? `minicontainer: unknown command "${name}"\n${usage}` : usage), 2
  try {
    return await command.run(args, io)
  } catch (err) {
    if (err instanceof UsageError) return io.stderr.write(`minicontainer ${name}: ${err.message}\nusage: minicontainer ${command.usage}\n`), 2
    if (err instanceof MiniContainerError) return io.stderr.write(`minicontainer ${name}: ${err.code}: ${err.message}\n`), 1
    throw err
  } finally {
    await Runtime.closeDefault() // ends the warm spare shim if a command opened the runtime; detached containers stay
  }
}

if (require.main === module)
  main(process.argv.slice(2)).then(
    (status) => (process.exitCode = status),
    (err: Error) => {
      process.stderr.write(`minicontainer: ${err.message}\n`)
      process.exitCode = 1
    },
  )
