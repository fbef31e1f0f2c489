/**
 * Starting native/mc-shim and listening to it.
 *
 * The shim is posix_spawn'ed through koffi (child_process.spawn costs ~6 ms
 * here, posix_spawn a fraction of that) with a socketpair as fd 3; a `run`
 * shim, and an `exec` shim while the zygote runs, is forked by the zygote
 * (./zygote.ts) instead, which skips the exec. Node watches the socket with a net.Socket, so a running container costs one
 * epoll registration — no polling, no thread-pool thread.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as net from 'node:net'
import { StartError, type ShimProtocolError } from '../errors'
import { closeQuietly, errnoName, reapEnded, socketPair, spawnProcess, spawnProcessAsync } from '../sys/libc'
import { signalQuietly } from '../sys/signal-quietly'
import { shimPath } from './shim-path'
import { debug } from '../util/debug'
import { shimFailure } from './protocol'
import { specDebugText } from './spec'
import { stampShimExit, stampShimSteps } from './steps'
import { stamp } from '../util/start-trace'
import { ShimZygote } from './zygote'

/** How a process ended. */
export interface ExitStatus {
  /** Exit code; 128 + signal number when killed by a signal (as Docker reports it). */
  exitCode: number
  /** The signal that killed it, if any (e.g. "SIGKILL"). */
  signal?: NodeJS.Signals
}

/** fds the shim (and, for exec, the program) get as 0, 1, 2. */
export interface ShimStdio {
  stdin: number
  stdout: number
  stderr: number
}


const signalNames = new Map<number, NodeJS.Signals>(
  Object.entries(require('node:os').constants.signals as Record<string, number>).map(([name, n]) => [n, name as NodeJS.Signals]),
)

/** Converts the shim's "X code signal" numbers to an ExitStatus. */
export function toExitStatus(code: number, signal: number): ExitStatus {
  return signal ? { exitCode: code, signal: signalNames.get(signal) } : { exitCode: code }
}

/**
 * A running shim. Resolves `started` with the program's pid once execve
 * succeeded (or rejects with a {@link StartError}, or a
 * {@link ShimProtocolError} from a shim of another build), and `exited` when the
 * program ends.
 */
export class Shim {
  /** A pre-started container's shim (RunSpec.prestart): resolves with the child's pid once it is set up and awaits its claim. */
  readonly prestarted: Promise<number>
  readonly started: Promise<number>
  readonly exited: Promise<ExitStatus>
  /**
   * The OOM killer's kills in the container's cgroup as the shim read them at the exit (CgroupJoin.oomCounter),
   * once `exited` has resolved; undefined when it could not (no counter, an exec, a killed shim).
   */
  exitOomKills: number | undefined
  /** Resolves when the shim process itself is gone (after `exited`): its files are final. */
  readonly closed: Promise<void>
  /** @internal */
  readonly socket: net.Socket
  private holds = 0

  private constructor(
    readonly shimPid: number,
    /** Our end of the control socket, which {@link socket} owns (closed with it). */
    private readonly fd: number,
  ) {
    this.socket = new net.Socket({ fd, readable: true, writable: true })
    let resolveStart!: (pid: number) => void, rejectStart!: (e: Error) => void
    /** Whether `started` settled: the shim's end then makes no error (its stack trace is not free). */
    let startSettled = false
    let resolveExit!: (s: ExitStatus) => void
    let resolveClosed!: () => void
    this.closed = new Promise((res) => (resolveClosed = res))
    this.started = new Promise((res, rej) => ((resolveStart = res), (rejectStart = rej)))
    this.exited = new Promise((res) => (resolveExit = res))
    this.started.catch(() => {})
    let resolvePrestart!: (pid: number) => void
    // Settled by the start's failure too (an "E" line, the shim's end) when that comes first.
    this.prestarted = Promise.race([new Promise<number>((res) => (resolvePrestart = res)), this.started])
    this.prestarted.catch(() => {})
    let buffered = ''
    this.socket.setEncoding('utf8')
    this.socket.on('data', (chunk: string) => {
      buffered += chunk
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        debug('shim %d says: %s', shimPid, line)
        if (line.startsWith('S ')) {
          stamp('node: start reported')
          startSettled = true
          resolveStart(Number(line.slice(2)))
        } else if (line.startsWith('R ')) resolvePrestart(Number(line.slice(2)))
        else if (line.startsWith('T ')) stampShimSteps(line.slice(2))
        else if (line.startsWith('X ')) {
          stamp('node: exit reported')
          const [code, sig, seen, oomKills] = line.slice(2).split(' ')
          stampShimExit(seen)
          if (oomKills !== undefined && Number(oomKills) >= 0) this.exitOomKills = Number(oomKills)
          resolveExit(toExitStatus(Number(code), Number(sig))) // now, not at the shim's own exit: its namespace teardown is not our latency
        } else if (line.startsWith('E ')) {
          const [step, errno, detail] = line.slice(2).split('\t')
          startSettled = true
          rejectStart(shimFailure(shimPath, step, errnoName(Number(errno)), detail ?? ''))
        }
      }
    })
    this.socket.on('error', () => {})
    this.socket.on('close', () => {
      stamp('node: shim gone')
      this.reap()
      if (!startSettled) rejectStart(new StartError('shim', 'EPIPE', 'the shim exited before starting the container'))
      // Without an X line the shim itself was killed, and took its container with it.
      resolveExit({ exitCode: 137, signal: 'SIGKILL' })
      resolveClosed()
    })
    this.socket.unref()
  }

  /** Kills the shim, and with it (PDEATHSIG) a program it started; `closed` resolves once it is gone. */
  kill(): void {
    // Once its socket is closed the shim is gone, and reaped: its pid may name another process now.
    if (this.socket.destroyed) return
    signalQuietly(this.shimPid, 'SIGKILL')
  }

  /**
   * Ends a spare shim, one that has no spec yet: closing our side of its socket, it reads the end of
   * the spec and exits through its failure path, which ends and reaps its old root's helper (killed,
   * it would leave the helper an orphan, which an init that reaps none keeps as a zombie).
   * `closed` resolves once it is gone.
   */
  dismiss(): void {
    if (!this.socket.destroyed) this.socket.end()
  }

  /**
   * Sends the encoded spec; the shim starts working when it has read it. `hiddenEnv`: env entries
   * whose values the debug output must not show (secrets). `more`: a message follows
   * ({@link sendLast}; a spec with a late network namespace), so our side stays open.
   */
  send(spec: Buffer, hiddenEnv: readonly string[] = [], more = false): this {
    if (debug.enabled) debug('shim %d spec: %s', this.shimPid, specDebugText(spec, hiddenEnv))
    if (more) this.socket.write(spec)
    else this.socket.end(spec)
    return this
  }

  /**
   * Sends the message that follows a spec sent with `more` (encodeLateNetns's). With write(2) on the
   * socket's fd, once the spec has left the stream's buffer, rather than through the stream: a shim
   * that failed meanwhile has said why and exited, and a write into its closed socket (EPIPE) would
   * make the stream destroy itself before reading that line. The failure line then rejects the start
   * as it always did. Nothing is written to a socket already closed (its fd may be another file's now).
   */
  sendLast(message: Buffer): void {
    if (this.socket.destroyed) return
    if (this.socket.writableLength > 0) {
      // The spec is still queued (a spec larger than the socket's buffer): the stream keeps the order.
      this.socket.end(message)
      return
    }
    let written = 0
    try {
      written = fs.writeSync(this.fd, message)
    } catch (err) {
      // EPIPE: the shim is gone, and its last line (or its end) settles the start.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return
    }
    // The socket's buffer is full (never seen for a message this small): the stream queues the rest.
    if (written < message.length) this.socket.end(message.subarray(written))
  }

  /**
   * A shim for `run`, taken from a pool of one kept warm: spawning and
   * exec'ing the shim (a millisecond or two) happens ahead of time, and the
   * spec carries the paths of the program's stdio and network namespace.
   * Without a spare (many starts at once), one is spawned off the event loop.
   * `warmNetns`: whether this start takes a network namespace of its own
   * (network none), which a spare makes ahead; the next spares follow the
   * last start's need (a bridge's would only make and destroy one). Without
   * it (a filesystem view), the pool keeps its way.
   */
  static async forRun(opts?: { warmNetns: boolean }): Promise<Shim> {
    spareWanted = true
    if (opts) spareNetns = opts.warmNetns
    // A spare on its way is nearer than a new one.
    if ((!warm || warm.socket.destroyed) && refilling) await refilling
    let shim = warm
    warm = undefined
    if (!shim || shim.socket.destroyed) shim = await spawnRunShim(opts?.warmNetns ?? true)
    // Refill when the CPU is ours again: once this program has exited (short jobs), or a moment
    // after it started (long-running ones); never while a start is in flight.
    const refill = () => void setImmediate(refillPool)
    const settle = () => setTimeout(refill, refillDelayMs).unref()
    shim.started.then(settle, refill)
    void shim.exited.then(refill)
    return shim
  }

  /**
   * {@link forRun} for a container pre-started in the background (lib/container/prestarts.ts): none
   * once the pool was drained (a runtime of this process closed) and no start came since, so that a
   * process winding down starts no zygote again, which nothing would end.
   */
  static async forPrestart(warmNetns: boolean): Promise<Shim> {
    if (!spareWanted) throw new Error('the shim pool was drained (a runtime closed) and no start came since')
    return Shim.forRun({ warmNetns })
  }

  /** Spawns `mc-shim <mode>` with the given fds; send() it a spec next. */
  static spawn(mode: 'run' | 'exec', stdio: ShimStdio, detach: boolean): Shim {
    const [ours, theirs] = socketPair()
    try {
      return new Shim(spawnProcess(shimPath, shimArgv(mode), [], shimFds(stdio, theirs), detach), ours)
    } catch (err) {
      closeQuietly(ours)
      throw err
    } finally {
      closeQuietly(theirs)
    }
  }

  /** {@link spawn} on a worker thread (see spawnProcessAsync). */
  static spawnAsync(mode: 'run' | 'exec', stdio: ShimStdio, detach: boolean): Promise<Shim> {
    return Shim.started((theirs) => spawnProcessAsync(shimPath, shimArgv(mode), [], shimFds(stdio, theirs), detach))
  }

  /**
   * A shim forked by `zygote`: a `run` shim (stdio /dev/null, owned: what a
   * spare is), or with `stdio` an `exec` shim (what {@link spawn} makes of
   * it); rejects when the zygote is gone. `bare`: a run shim without a warm
   * network namespace (native/zygote.h).
   */
  static forkedBy(zygote: ShimZygote, stdio?: ShimStdio, bare = false): Promise<Shim> {
    return Shim.started((theirs) => zygote.fork(theirs, stdio && [stdio.stdin, stdio.stdout, stdio.stderr], bare))
  }

  /**
   * An `exec` shim with `stdio` (the caller closes them once it resolved):
   * forked by the zygote while one runs (a container ran here), which skips
   * the shim's exec and start; spawned otherwise, or when the zygote is gone.
   */
  static async forExec(stdio: ShimStdio): Promise<Shim> {
    // No zygote is started for an exec alone (one into another process's container): a run starts it.
    const forker = zygote && (await runningZygote())
    if (forker)
      try {
        return await Shim.forkedBy(forker, stdio)
      } catch {
        // The zygote is gone: this shim is spawned, and the next run starts a new zygote.
      }
    return Shim.spawn('exec', stdio, false)
  }

  /** A shim that `start` makes with `theirs` as its end of the control socket, which is closed here once it has. */
  private static async started(start: (theirs: number) => Promise<number>): Promise<Shim> {
    const [ours, theirs] = socketPair()
    try {
      return new Shim(await start(theirs), ours)
    } catch (err) {
      closeQuietly(ours)
      throw err
    } finally {
      closeQuietly(theirs)
    }
  }

  /**
   * Keeps the Node process alive while something awaits this shim (a
   * wait(), a log follower); otherwise a running container does not hold
   * the event loop open, like an unref'd child process.
   */
  hold<T>(promise: Promise<T>): Promise<T> {
    if (this.holds++ === 0) this.socket.ref()
    return promise.finally(() => {
      if (--this.holds === 0) this.socket.unref()
    })
  }

  private reap(): void {
    // The socket closes as the shim exits; the zombie appears a moment later.
    reapEnded(this.shimPid)
  }
}

/** Our pid: an owned container's shim exits if it finds another parent (we died before it could watch us). */
function shimArgv(mode: 'run' | 'exec'): string[] {
  return ['mc-shim', mode, String(process.pid)]
}

/** The shim's fds 0-3: its stdio and its end of the control socket. */
function shimFds(stdio: ShimStdio, control: number): number[] {
  return [stdio.stdin, stdio.stdout, stdio.stderr, control]
}

let warm: Shim | undefined
/** The zygote that forks run shims (./zygote.ts), from the first spare until {@link drainShimPool}. */
let zygote: Promise<ShimZygote | undefined> | undefined
/** The spare being spawned, so that one refill at a time runs. */
let refilling: Promise<void> | undefined
/** Whether the pool keeps a spare: from a run until {@link drainShimPool}. */
let spareWanted = false
/** Whether spares make a warm network namespace: the last start's need (see Shim.forRun). */
let spareNetns = true
/** How long after a start the spare shim is spawned when the program is still running. */
const refillDelayMs = 25

/**
 * Ends the spare shim and the zygote, and stops refilling until the next run: a closed
 * runtime leaves no process behind, nor a socket that keeps this copy of
 * the module reachable (jest loads a copy per test file, and each copy's
 * spare stayed for the worker's life). Resolves once both are reaped.
 */
export async function drainShimPool(): Promise<void> {
  spareWanted = false
  await refilling
  const spare = warm
  warm = undefined
  const ending = zygote
  zygote = undefined
  await (await ending)?.stop()
  if (!spare) return
  spare.dismiss()
  await spare.hold(spare.closed)
}

function devNullStdio(): ShimStdio {
  const fd = fs.openSync('/dev/null', 'r+')
  return { stdin: fd, stdout: fd, stderr: fd }
}

/**
 * A `run` shim with /dev/null for stdio (the spec names the program's): forked by the zygote, or,
 * without one, spawned off the event loop (which always makes a warm network namespace). Without
 * `warmNetns`, a forked one makes none.
 */
async function spawnRunShim(warmNetns: boolean): Promise<Shim> {
  const forker = await runningZygote()
  if (forker)
    try {
      return await Shim.forkedBy(forker, undefined, !warmNetns)
    } catch {
      // The zygote is gone (killed, or of another build): this shim is spawned; the next call starts a new zygote.
    }
  const stdio = devNullStdio()
  try {
    return await Shim.spawnAsync('run', stdio, false)
  } finally {
    fs.closeSync(stdio.stdin)
  }
}

/** The zygote, started on first use while spares are wanted, and again once found gone; undefined when none can fork. */
async function runningZygote(): Promise<ShimZygote | undefined> {
  const known = zygote
  if (known && !(await known)?.usable && zygote === known) zygote = undefined
  // Not even a zygote spawns: the shim's own spawn will say why.
  if (!zygote && spareWanted) zygote = ShimZygote.start().catch(() => undefined)
  const current = await zygote
  return current?.usable ? current : undefined
}

function refillPool(): void {
  if (!spareWanted || (warm && !warm.socket.destroyed) || refilling) return
  refilling = spawnRunShim(spareNetns).then(
    async (shim) => {
      if (spareWanted && !warm) warm = shim
      else {
        // Drained meanwhile (or a spare came first): this one is not wanted.
        shim.dismiss()
        await shim.hold(shim.closed)
      }
    },
    () => {
      // The next forRun() spawns on demand and reports the error.
    },
  )
  void refilling.finally(() => (refilling = undefined))
}
