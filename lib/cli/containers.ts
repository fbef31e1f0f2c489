/**
 * The container commands of `minicontainer`: ps, logs, exec, rm, run and
 * inspect, with Docker's flags where they overlap, a table or plain text for
 * people and `--json` for scripts. They act on the default runtime
 * (`$MINICONTAINER_ROOT`, else /var/lib/minicontainer).
 *
 * @module
 */
import { Container, Image, MiniContainerError, RunningError, run, type ContainerInspect } from '../index'
import { lastValue, parseArgs, UsageError } from './args'
import { ago, formatTable } from './table'

/** Where a command writes: its standard output and error (the process's, or a test's). */
export interface CliIO {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
}

/** Docker's STATUS column: "Up 5 seconds", "Exited (3) 2 minutes ago", "Created". */
function statusText(info: ContainerInspect): string {
  const { state } = info
  if (state.paused) return `Up ${ago(state.startedAt).replace(' ago', '')} (Paused)`
  if (state.running) return `Up ${ago(state.startedAt).replace(' ago', '')}`
  if (state.status === 'exited') return `Exited (${state.exitCode}) ${ago(state.finishedAt)}`
  return state.status.charAt(0).toUpperCase() + state.status.slice(1)
}

/** Docker's PORTS column: "0.0.0.0:8080->80/tcp, ...". */
function portsText(info: ContainerInspect): string {
  return Object.entries(info.networkSettings.ports)
    .flatMap(([port, bindings]) => (bindings.length ? bindings.map((b) => `${b.hostIp}:${b.hostPort}->${port}`) : [port]))
    .join(', ')
}

/** `ps [-a] [--json]`: running containers (every one with -a). */
export async function ps(argv: string[], io: CliIO): Promise<number> {
  const args = parseArgs(argv, { flags: { all: ['-a', '--all'], json: ['--json'] } })
  const infos = await Promise.all((await Container.list({ all: args.flags.has('all') })).map((c) => c.inspect()))
  if (args.flags.has('json')) {
    const rows = infos.map((i) => ({ id: i.id, name: i.name, image: i.image, command: [i.path, ...i.args].join(' '), created: i.created, status: i.state.status, exitCode: i.state.exitCode, ports: i.networkSettings.ports }))
    io.stdout.write(JSON.stringify(rows, null, 2) + '\n')
    return 0
  }
  const rows = infos.map((i) => [i.id.slice(0, 12), i.image, JSON.stringify([i.path, ...i.args].join(' ').slice(0, 30)), ago(i.created), statusText(i), portsText(i), i.name])
  io.stdout.write(formatTable(['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'], rows))
  return 0
}

/** The one positional a command needs (a container, an image). */
function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`expects one ${what}`)
  return positionals[0] as string
}

/** `logs [-f] [--tail N] [-t] <container>`: stdout records to stdout, stderr records to stderr. */
export async function logs(argv: string[], io: CliIO): Promise<number> {
  const args = parseArgs(argv, { flags: { follow: ['-f', '--follow'], timestamps: ['-t', '--timestamps'] }, options: { tail: ['-n', '--tail'] } })
  const tailText = lastValue(args, 'tail')
  const tail = tailText === undefined || tailText === 'all' ? 'all' : Number(tailText)
  if (tail !== 'all' && !(Number.isInteger(tail) && tail >= 0)) throw new UsageError(`--tail takes a count or "all", not ${JSON.stringify(tailText)}`)
  const c = await Container.get(onePositional(args.positionals, 'container'))
  await printLogs(c, { follow: args.flags.has('follow'), tail }, args.flags.has('timestamps'), io)
  return 0
}

/** Writes a container's log records, each to the stream it came from. */
async function printLogs(c: Container, opts: { follow: boolean; tail: number | 'all' }, timestamps: boolean, io: CliIO): Promise<void> {
  for await (const entry of c.logEntries(opts)) {
    const text = timestamps ? `${entry.time} ${entry.log}` : entry.log
    ;(entry.stream === 'stderr' ? io.stderr : io.stdout).write(text)
  }
}

/** `exec <container> [--] cmd...`: runs the command, prints its output, exits with its exit code. */
export async function exec(argv: string[], io: CliIO): Promise<number> {
  const args = parseArgs(argv, { options: { user: ['-u', '--user'], workdir: ['-w', '--workdir'], env: ['-e', '--env'] } })
  const [ref, ...rest] = args.positionals
  const cmd = rest[0] === '--' ? rest.slice(1) : rest
  if (!ref || cmd.length === 0) throw new UsageError('expects a container and a command')
  const env = Object.fromEntries((args.options.get('env') ?? []).map(splitEnv))
  const user = lastValue(args, 'user')
  const workdir = lastValue(args, 'workdir')
  const result = await (await Container.get(ref)).exec(cmd, { env, ...(user ? { user } : {}), ...(workdir ? { workdir } : {}) })
  io.stdout.write(result.stdout)
  io.stderr.write(result.stderr)
  return result.exitCode
}

/** "K=V" as an entry; "K" alone takes this process's value, as Docker's -e. */
function splitEnv(spec: string): [string, string] {
  const eq = spec.indexOf('=')
  return eq < 0 ? [spec, process.env[spec] ?? ''] : [spec.slice(0, eq), spec.slice(eq + 1)]
}

/** `rm [-f] [-v] <container>...`: removes each, printing the name given; the first failure stops it. */
export async function rm(argv: string[], io: CliIO): Promise<number> {
  const args = parseArgs(argv, { flags: { force: ['-f', '--force'], volumes: ['-v', '--volumes'] } })
  if (args.positionals.length === 0) throw new UsageError('expects at least one container')
  for (const ref of args.positionals) {
    await (await Container.get(ref)).remove({ force: args.flags.has('force'), volumes: args.flags.has('volumes') }).catch(withCliHint)
    io.stdout.write(`${ref}\n`)
  }
  return 0
}

/** The library's ERUNNING says "pass { force: true }"; a CLI user's way is -f. */
function withCliHint(err: unknown): never {
  if (err instanceof RunningError) throw new RunningError(err.containerId, err.action, 'stop it first or use rm -f')
  throw err
}

/** `run [--rm] [-d] [--name N] [-p SPEC]... [-e K=V]... image [cmd...]`: prints the output and exits with the program's code; -d prints the id. */
export async function runCommand(argv: string[], io: CliIO): Promise<number> {
  const args = parseArgs(argv, {
    flags: { rm: ['--rm'], detach: ['-d', '--detach'], init: ['--init'] },
    options: { name: ['--name'], publish: ['-p', '--publish'], env: ['-e', '--env'], network: ['--network', '--net'], volume: ['-v', '--volume'], workdir: ['-w', '--workdir'], user: ['-u', '--user'] },
  })
  const [image, ...cmd] = args.positionals
  if (!image) throw new UsageError('expects an image')
  const name = lastValue(args, 'name')
  const network = lastValue(args, 'network')
  const workdir = lastValue(args, 'workdir')
  const user = lastValue(args, 'user')
  const c = await run(image, cmd.length ? cmd : undefined, {
    rm: args.flags.has('rm'), detach: args.flags.has('detach'), init: args.flags.has('init'),
    ports: args.options.get('publish') ?? [], env: Object.fromEntries((args.options.get('env') ?? []).map(splitEnv)),
    volumes: args.options.get('volume') ?? [],
    ...(name ? { name } : {}), ...(network ? { network } : {}), ...(workdir ? { workdir } : {}), ...(user ? { user } : {}),
  })
  if (args.flags.has('detach')) {
    io.stdout.write(`${c.id}\n`)
    return 0
  }
  // Followed through this handle: an rm: true container's records stay readable from it after the exit.
  const printed = printLogs(c, { follow: true, tail: 'all' }, false, io)
  const { exitCode } = await c.wait()
  await printed
  return exitCode
}

/** `inspect <container|image>`: Docker's inspect as JSON (a container first, then an image of that name). */
export async function inspect(argv: string[], io: CliIO): Promise<number> {
  const ref = onePositional(parseArgs(argv, {}).positionals, 'container or image')
  const container = await Container.get(ref).catch((err: unknown) => {
    if (err instanceof MiniContainerError && err.code === 'ENOCONTAINER') return undefined
    throw err
  })
  const info = container ? await container.inspect() : await (await Image.get(ref)).inspect()
  io.stdout.write(JSON.stringify([info], null, 2) + '\n')
  return 0
}
