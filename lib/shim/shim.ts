/**
 * Starting native/mc-shim and listening to it.
 *
 * The shim is posix_spawn'ed through koffi (child_process.spawn costs ~6 ms
 * here, posix_spawn a fraction of that) with a socketpair as fd 3. Node
 * watches the socket with a net.Socket, so a running container costs one
 * epoll registration — no polling, no thread-pool thread.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as path from 'node:path'
import { StartError, type ShimProtocolError } from '../errors'
import { closeQuietly, errnoName, socketPair, spawnProcess, waitPid, WNOHANG } from '../sys/libc'
import { nativeDir } from '../sys/native-dir'
import { debug } from '../util/debug'
import { shimFailure } from './protocol'
import { stampShimExit, stampShimSteps } from './steps'
import { stamp } from '../util/start-trace'

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

/** The mc-shim binary of this process (see native-dir.ts). */
export const shimPath = path.join(nativeDir, 'mc-shim')

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
  readonly started: Promise<number>
  readonly exited: Promise<ExitStatus>
  /** Resolves when the shim process itself is gone (after `exited`): its files are final. */
  readonly closed: Promise<void>
  /** @internal */
  readonly socket: net.Socket
  private holds = 0

  private constructor(
    readonly shimPid: number,
    fd: number,
  ) {
    this.socket = new net.Socket({ fd, readable: true, writable: true })
    let resolveStart!: (pid: number) => void, rejectStart!: (e: Error) => void
    let resolveExit!: (s: ExitStatus) => void
    let resolveClosed!: () => void
    this.closed = new Promise((res) => (resolveClosed = res))
    this.started = new Promise((res, rej) => ((resolveStart = res), (rejectStart = rej)))
    this.exited = new Promise((res) => (resolveExit = res))
    this.started.catch(() => {})
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
          resolveStart(Number(line.slice(2)))
        } else if (line.startsWith('T ')) stampShimSteps(line.slice(2))
        else if (line.startsWith('X ')) {
          stamp('node: exit reported')
          const [code, sig, seen] = line.slice(2).split(' ')
          stampShimExit(seen)
          resolveExit(toExitStatus(Number(code), Number(sig))) // now, not at the shim's own exit: its namespace teardown is not our latency
        } else if (line.startsWith('E ')) {
          const [step, errno, detail] = line.slice(2).split('\t')
          rejectStart(shimFailure(shimPath, step, errnoName(Number(errno)), detail ?? ''))
        }
      }
    })
    this.socket.on('error', () => {})
    this.socket.on('close', () => {
      stamp('node: shim gone')
      this.reap()
      rejectStart(new StartError('shim', 'EPIPE', 'the shim exited before starting the container'))
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
    try {
      process.kill(this.shimPid, 'SIGKILL')
    } catch {
      /* already gone */
    }
  }

  /** Sends the encoded spec; the shim starts working when it has read it. */
  send(spec: Buffer): this {
    if (debug.enabled) debug('shim %d spec: %s', this.shimPid, spec.toString('latin1').replace(/\0/g, ' '))
    this.socket.end(spec)
    return this
  }

  /**
   * A shim for `run`, taken from a pool of one kept warm: spawning and
   * exec'ing the shim (a millisecond or two) happens ahead of time, and the
   * spec carries the paths of the program's stdio and network namespace.
   */
  static forRun(): Shim {
    spareWanted = true
    let shim = warm
    warm = undefined
    if (!shim || shim.socket.destroyed) shim = Shim.spawn('run', devNullStdio(), false)
    // Refill when the CPU is ours again: once this program has exited (short jobs), or a moment
    // after it started (long-running ones); never while a start is in flight.
    const refill = () => void setImmediate(refillPool)
    const settle = () => setTimeout(refill, refillDelayMs).unref()
    shim.started.then(settle, refill)
    void shim.exited.then(refill)
    return shim
  }

  /** Spawns `mc-shim <mode>` with the given fds; send() it a spec next. */
  static spawn(mode: 'run' | 'exec', stdio: ShimStdio, detach: boolean): Shim {
    const [ours, theirs] = socketPair()
    let pid: number
    try {
      // Our pid: an owned container's shim exits if it finds another parent (we died before it could watch us).
      pid = spawnProcess(shimPath, ['mc-shim', mode, String(process.pid)], [], [stdio.stdin, stdio.stdout, stdio.stderr, theirs], detach)
    } catch (err) {
      closeQuietly(ours)
      throw err
    } finally {
      closeQuietly(theirs)
    }
    return new Shim(pid, ours)
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
    try {
      if (waitPid(this.shimPid, WNOHANG) === null) waitPid(this.shimPid)
    } catch {
      /* already reaped */
    }
  }
}

let warm: Shim | undefined
/** Whether the pool keeps a spare: from a run until {@link drainShimPool}. */
let spareWanted = false
/** How long after a start the spare shim is spawned when the program is still running. */
const refillDelayMs = 25

/**
 * Ends the spare shim and stops refilling until the next run: a closed
 * runtime leaves no process behind, nor a socket that keeps this copy of
 * the module reachable (jest loads a copy per test file, and each copy's
 * spare stayed for the worker's life). Resolves once the spare is reaped.
 */
export async function drainShimPool(): Promise<void> {
  spareWanted = false
  const spare = warm
  warm = undefined
  if (!spare) return
  spare.kill()
  await spare.hold(spare.closed)
}

function devNullStdio(): ShimStdio {
  const fd = fs.openSync('/dev/null', 'r+')
  return { stdin: fd, stdout: fd, stderr: fd }
}

function refillPool(): void {
  if (!spareWanted || (warm && !warm.socket.destroyed)) return
  const stdio = devNullStdio()
  try {
    warm = Shim.spawn('run', stdio, false)
  } catch {
    warm = undefined // the next forRun() spawns on demand and reports the error
  } finally {
    fs.closeSync(stdio.stdin)
  }
}
