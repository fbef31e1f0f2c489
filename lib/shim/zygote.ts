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
import { SyscallError } from '../errors'
import { attachZygote, closeQuietly, forkFromZygoteAsync, reapEnded } from '../sys/libc'
import { Throttle } from '../sys/throttle'
import { spawnShimMode } from './mode-process'
import { SHIM_PROTOCOL_VERSION } from './protocol'

/** A running zygote; {@link fork} asks it for a shim. */
export class ShimZygote {
  /** Its answers come in the order of the requests: one at a time. */
  private readonly turns = new Throttle(1)
  private stopping: Promise<void> | undefined

  private constructor(
    /** The zygote's pid (Node's child). */
    readonly pid: number,
    private readonly socket: number,
  ) {}

  /** Spawns `mc-shim zygote <our pid> <protocol>` from the thread that lives as long as the process, as every helper mode. */
  static async start(): Promise<ShimZygote> {
    // fd 3 is /dev/null: a shim built before zygotes reads an empty spec from it and exits.
    const { pid, control } = spawnShimMode(['zygote', String(process.pid), String(SHIM_PROTOCOL_VERSION)], [], 4)
    const zygote = new ShimZygote(pid, control)
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
   * zygote, when the zygote is gone or could not fork.
   */
  async fork(control: number, stdio?: readonly [stdin: number, stdout: number, stderr: number]): Promise<number> {
    return this.turns.run(async () => {
      if (this.stopping) throw new SyscallError('zygote fork', 'ESHUTDOWN')
      try {
        return await forkFromZygoteAsync(this.socket, stdio ? [control, ...stdio] : [control])
      } catch (err) {
        void this.stop()
        throw err
      }
    })
  }

  /** Ends the zygote (closing its socket ends its loop) and reaps it, once the forks in flight got their answer. */
  stop(): Promise<void> {
    // After the queue: a request on its way must not find its socket closed, nor its number reused.
    this.stopping ??= this.turns.run(async () => {
      closeQuietly(this.socket)
      try {
        process.kill(this.pid, 'SIGKILL')
      } catch {
        /* already gone */
      }
      reapEnded(this.pid)
    })
    return this.stopping
  }
}
