/**
 * `run()`: create and start, then the test-harness options: wait until
 * ready (`waitFor`, `startupTimeout`), clean up a container that never got
 * ready (unless `keepOnFailure`), share one container between workers
 * (`reuse`), and stream output to a callback (`onLog`).
 *
 * @module
 */
import { ContainerNotFoundError, InvalidArgumentError, throwIfAborted } from '../errors'
import { contextOf, type RuntimeOption } from './context'
import type { WaitStrategy } from '../harness/strategy'
import type { LogStreamName } from '../harness/target'
import { checkReuse, configHash, reuseHashLabel, withReuseLock } from '../harness/reuse'
import { defaultStartupTimeout } from '../harness/wait-until-ready'
import { Container, createForRun } from './container'
import { networkModeOf } from './network-options'
import { optionsObject } from '../util/options-object'
import { stamp } from '../util/start-trace'
import type { RunOptions } from './types'
import { Image, type BuildOptions } from '../image/image'

/** Options of {@link run} beyond create's: readiness, reuse and live logs. */
export interface HarnessRunOptions {
  /** Resolve only once this strategy says the container is ready (see `Wait`). */
  waitFor?: WaitStrategy
  /** Milliseconds `waitFor` may take before ETIMEOUT (default 60 000). */
  startupTimeout?: number
  /** Keep a container that failed to get ready (for a post-mortem); by default it is stopped and removed. */
  keepOnFailure?: boolean
  /**
   * With `name`: return the running container of that name when it was made
   * from an identical configuration, else create it. Reused containers are
   * detached: they outlive the process; `Container.get(name).remove()` ends them.
   */
  reuse?: boolean
  /** Called with each line of output as it arrives, until the program exits. */
  onLog?: (line: string, stream: LogStreamName) => void
}

const harnessOptions = ['waitFor', 'startupTimeout', 'keepOnFailure', 'reuse', 'onLog'] as const

function createOptions(opts: AllRunOptions): RunOptions & RuntimeOption {
  const rest: Record<string, unknown> = { ...opts }
  for (const k of harnessOptions) delete rest[k]
  // A Network handle becomes its name: the reuse hash is of plain data.
  if (opts.network !== undefined) rest.network = networkModeOf(opts.network)
  return rest as RunOptions & RuntimeOption
}

async function startNew(image: string, cmd: string[] | undefined, opts: RunOptions & RuntimeOption): Promise<Container> {
  const container = await createForRun(image, cmd, opts)
  stamp('node: created')
  try {
    await container.start({ signal: opts.signal })
  } catch (err) {
    await container.remove({ force: true }).catch(() => {})
    throw err
  }
  return container
}

async function ready(c: Container, opts: AllRunOptions): Promise<Container> {
  if (opts.onLog) void forwardLogs(c, opts.onLog)
  if (!opts.waitFor) return c
  try {
    await c.waitFor(opts.waitFor, { timeout: opts.startupTimeout ?? defaultStartupTimeout, signal: opts.signal })
  } catch (err) {
    if (!opts.keepOnFailure) await c.remove({ force: true }).catch(() => {})
    throw err
  }
  return c
}

/** Calls `onLog` with each line the container writes, until it ends. @internal */
export async function forwardLogs(c: Container, onLog: NonNullable<HarnessRunOptions['onLog']>): Promise<void> {
  // Not persistent: listening to a container's output never keeps the Node process alive.
  for await (const { line, stream } of c.waitTarget().logLines(new AbortController().signal, { persistent: false })) onLog(line, stream)
}

async function existing(name: string, opts: RuntimeOption): Promise<Container | undefined> {
  try {
    return await Container.get(name, opts)
  } catch (err) {
    if (err instanceof ContainerNotFoundError) return undefined
    throw err
  }
}

/** Reuse: the running container with this name and configuration, or a new detached one; under the name's lock. */
function reuse(image: string, cmd: string[] | undefined, opts: AllRunOptions): Promise<Container> {
  checkReuse(opts.name)
  const rt = contextOf(opts)
  const create = createOptions(opts)
  const hash = configHash(rt.images.resolve(image).id, cmd, create)
  return withReuseLock(rt.root, opts.name, async () => {
    const found = await existing(opts.name!, opts)
    if (found) {
      const info = await found.inspect()
      if (info.state.running && info.config.labels[reuseHashLabel] === hash) return ready(found, opts)
      // Stopped, or made from another configuration: replace it.
      await found.remove({ force: true })
    }
    const labels = { ...create.labels, [reuseHashLabel]: hash }
    return ready(await startNew(image, cmd, { ...create, labels, detach: true }), opts)
  })
}

/** `run({ build })`'s image: built from a Dockerfile first (Image.build with the run's runtime and signal). */
export interface BuildSource {
  /** The build context directory and Image.build's options (`dockerfile`, `target`, `buildArgs`, `tag`...). */
  build: Omit<BuildOptions, 'runtime' | 'signal'> & {
    /** The build context directory. */
    context: string
  }
}

/** The image ref of `run()`'s first argument: as given, or the id of the image it builds. */
async function builtImage(image: BuildSource, opts: AllRunOptions): Promise<string> {
  if (!image || typeof image.build?.context !== 'string') throw new InvalidArgumentError('run({ build }): pass { build: { context: "./dir", target?, dockerfile?, buildArgs? } } or an image ref string')
  const { context, ...build } = image.build
  return (await Image.build(context, { ...build, runtime: opts.runtime, signal: opts.signal })).id
}

/** Every option `run()` takes: create's, the harness options, and `runtime`. */
type AllRunOptions = RunOptions & HarnessRunOptions & RuntimeOption

/**
 * `run(image, opts)` or `run(image, cmd, opts)`: a second argument that is
 * not an array (nor undefined) is the options, as testcontainers users write it.
 */
function commandAndOptions(cmdOrOpts: string[] | AllRunOptions | undefined, opts: AllRunOptions | undefined): { cmd?: string[]; opts?: AllRunOptions } {
  if (cmdOrOpts === undefined || Array.isArray(cmdOrOpts)) return { cmd: cmdOrOpts, opts }
  if (opts !== undefined) throw new InvalidArgumentError('run(image, cmd, opts): the command must be an array of strings, e.g. ["sh", "-c", "echo hi"]; to pass only options, write run(image, opts)')
  return { opts: cmdOrOpts }
}

/**
 * Creates and starts a container (`docker run`) with the image's command.
 * Resolves once the program runs, or with `waitFor` once it is ready (see
 * the overload with a command for the details).
 *
 * @param image - image ref ("bb:latest"), id or id prefix, or `{ build: { context, target } }` to build it from a Dockerfile first
 * @param opts - Docker-like options, the harness options, and `runtime` to target a non-default `Runtime`
 */
export async function run(image: string | BuildSource, opts?: RunOptions & HarnessRunOptions & RuntimeOption): Promise<Container>
/**
 * Creates and starts a container (`docker run`). Resolves once the program
 * runs, or with `waitFor` once it is ready; a start that fails removes the
 * container again and throws a `StartError` naming the step, errno and path.
 * A container that does not get ready throws ETIMEOUT or EEXITED (with its
 * last log lines) and is removed unless `keepOnFailure`.
 *
 * @param image - image ref ("bb:latest"), id or id prefix, or `{ build: { context, target } }` to build it from a Dockerfile first
 * @param cmd - command; defaults to the image's
 * @param opts - Docker-like options, the harness options, and `runtime` to target a non-default `Runtime`
 */
export async function run(image: string | BuildSource, cmd?: string[], opts?: RunOptions & HarnessRunOptions & RuntimeOption): Promise<Container>
export async function run(source: string | BuildSource, cmdOrOpts?: string[] | AllRunOptions, maybeOpts?: AllRunOptions): Promise<Container> {
  stamp('node: run called')
  const { cmd, opts } = commandAndOptions(cmdOrOpts, maybeOpts)
  const options = optionsObject(opts, 'run()')
  // No await for a ref: a run called just before close() must be known to the runtime before close() begins.
  const image = typeof source === 'string' ? source : await builtImage(source, options)
  throwIfAborted(options.signal, `running ${image}`)
  if (options.reuse) return reuse(image, cmd, options)
  return ready(await startNew(image, cmd, createOptions(options)), options)
}
