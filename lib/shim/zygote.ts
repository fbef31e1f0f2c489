/**
 * The shim zygote (native/zygote.c): one `mc-shim zygote` per copy of this
 * module while run shims are wanted, which forks each run shim (and the
 * exec shims meanwhile) instead of
 * Node spawning and exec'ing it. Starting a static glibc program costs ~0.6
 * ms of CPU on a VM (glibc's start traps to the hypervisor with `cpuid`); a
 * fork of the small, started zygote skips it. The shim it forks is Node's
 * child (CLONE_PARENT), with /dev/null as stdio (an exec shim: the pipes
 * Node passed) and its own control socket as fd 3: what a spawned shim is.
 *
 * @module
 */
import * as fs from 'node:fs'
import { SyscallError } from '../errors'
import { attachZygote, closeQuietly, errnoName, forkFromZygoteAsync, forkManyFromZygoteAsync, reapEnded, unclaimedZygoteForks } from '../sys/libc'
import { Throttle } from '../sys/throttle'
import { signalQuietly } from '../sys/signal-quietly'
import { spawnShimMode } from './mode-process'
import { SHIM_PROTOCOL_VERSION } from './protocol'
import { shimPath } from './shim-path'

/**
 * The shim binary (its {@link binaryIdentity}) whose zygote refused this library: one of another
 * protocol exits at once, and so would every zygote started after it, each costing a start the
 * failed fork and a spawn. Shims are spawned instead until the binary changes (a rebuild).
 */
let refusingBinary: string | undefined
/** Zygotes being stopped: a start waits for their verdict. */
const stopsInFlight = new Set<Promise<void>>()

/** The shim binary as a file (device, inode, size, mtime): a rebuild or a replacement changes it. */
function binaryIdentity(): string {
  try {
    const st = fs.statSync(shimPath)
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`
  } catch {
    return 'missing'
  }
}

/** Whether a waitpid status says the process exited by itself with a failure (not killed by a signal). */
function exitedFailing(status: number): boolean {
  return (status & 0x7f) === 0 && status >> 8 !== 0
}

/** Run shims asked for at once go to the zygote in batches of at most this many (fds in flight on its socket stay few). */
const maxBatch = 16

/** A run shim asked for while the zygote was busy: its control socket, whether it is bare, and its caller's promise. */
interface WaitingFork {
  control: number
  bare: boolean
  resolve: (pid: number) => void
  reject: (err: unknown) => void
}

/** A running zygote; {@link fork} asks it for a shim. */
export class ShimZygote {
  /** Its answers come in the order of the requests: one turn at a time. */
  private readonly turns = new Throttle(1)
  /** Run shims asked for and not yet sent: the next turn sends them all (a burst of starts). */
  private waiting: WaitingFork[] = []
  private stopping: Promise<void> | undefined
  /** Whether it forked a shim: one that did was of our protocol. */
  private forked = false

  private constructor(
    /** The zygote's pid (Node's child). */
    readonly pid: number,
    private readonly socket: number,
    /** The shim binary it was started from ({@link binaryIdentity}). */
    private readonly binary: string,
  ) {}

  /** Spawns `mc-shim zygote <our pid> <protocol>` from the thread that lives as long as the process, as every helper mode. */
  static async start(): Promise<ShimZygote> {
    await Promise.all(stopsInFlight)
    const binary = binaryIdentity()
    if (binary === refusingBinary) throw new SyscallError('zygote start', 'EPROTO')
    // fd 3 is /dev/null: a shim built before zygotes reads an empty spec from it and exits.
    const { pid, control } = spawnShimMode(['zygote', String(process.pid), String(SHIM_PROTOCOL_VERSION)], [], 4)
    const zygote = new ShimZygote(pid, control, binary)
    try {
      attachZygote(control)
    } catch (err) {
      await zygote.stop()
      throw err
    }
    return zygote
  }

  /** Whether it can still fork: not stopped, and no request found it gone. */
  get usable(): boolean {
    return !this.stopping
  }

  /**
   * A shim forked from the zygote, with `control` as its fd 3 (the caller
   * closes its copy): a run shim, or with `stdio` (an exec's pipes, which
   * the caller closes too) an exec shim. Its pid. Rejects, and stops the
   * zygote, when the zygote is gone or could not fork. `bare`: a run shim
   * that makes no warm network namespace, for a start that brings its own.
   */
  async fork(control: number, stdio?: readonly [stdin: number, stdout: number, stderr: number], bare = false): Promise<number> {
    if (!stdio) return this.forkRun(control, bare)
    return this.turns.run(async () => {
      if (this.stopping) throw new SyscallError('zygote fork', 'ESHUTDOWN')
      try {
        const pid = await forkFromZygoteAsync(this.socket, stdio ? [control, ...stdio] : [control])
        this.forked = true
        return pid
      } catch (err) {
        void this.stop()
        throw err
      }
    })
  }

  /**
   * A run shim: queued, and sent with every other one asked for meanwhile in one turn (one trip to a
   * worker thread and back for the batch). Under a burst, a turn per shim made each start wait for
   * the event loop to come back to the previous one's answer: 50 starts at once spent most of their
   * time in that queue.
   */
  private forkRun(control: number, bare: boolean): Promise<number> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ control, bare, resolve, reject })
      // One turn per batch: the first of a batch queues it, and it takes whatever waits when it runs.
      if (this.waiting.length === 1) void this.turns.run(() => this.sendWaiting())
    })
  }

  /** Sends the waiting run forks (at most {@link maxBatch}; a turn is queued for the rest) and settles each. */
  private async sendWaiting(): Promise<void> {
    const batch = this.waiting.splice(0, maxBatch)
    if (this.waiting.length) void this.turns.run(() => this.sendWaiting())
    try {
      if (this.stopping) throw new SyscallError('zygote fork', 'ESHUTDOWN')
      const pids = await forkManyFromZygoteAsync(this.socket, batch.map((w) => w.control), batch.map((w) => w.bare))
      pids.forEach((pid, i) => (pid > 0 ? batch[i].resolve(pid) : batch[i].reject(new SyscallError('zygote fork', errnoName(-pid)))))
      if (pids.some((pid) => pid > 0)) this.forked = true
      if (pids.some((pid) => pid <= 0)) void this.stop()
    } catch (err) {
      for (const w of batch) w.reject(err)
      void this.stop()
    }
  }

  /**
   * Ends the zygote (killed) and reaps it, once the forks in flight got their answer; then the shims
   * it forked for requests that had given up (a request's answer came after its 2 s bound, or after a
   * failure ended its batch), whose pids only the answers left on its socket name, are killed and
   * reaped too: Node's children (CLONE_PARENT) that nobody else would ever reap. One zygote that
   * exited by itself with a failure before forking anything refused us (another protocol, or a
   * shim older than zygotes): its binary starts no zygote again.
   */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping
    // After the queue: a request on its way must not find its socket closed, nor its number reused.
    const stopping = this.turns.run(async () => {
      // Killed and reaped before its socket is read and closed: no fork comes after the answers read.
      signalQuietly(this.pid, 'SIGKILL')
      const status = reapEnded(this.pid)
      for (const orphan of unclaimedZygoteForks(this.socket)) {
        signalQuietly(orphan, 'SIGKILL')
        reapEnded(orphan)
      }
      closeQuietly(this.socket)
      if (!this.forked && status !== undefined && exitedFailing(status)) refusingBinary = this.binary
    })
    this.stopping = stopping
    stopsInFlight.add(stopping)
    void stopping.finally(() => stopsInFlight.delete(stopping))
    return stopping
  }
}
