/**
 * The owner's side of a container's restart policy: restart-policy.ts
 * decides whether and after how long; this keeps the delay between runs,
 * schedules the start, and records a stop by the user so that the policy
 * does not undo it. As Docker's restart manager without a daemon: the
 * process that started the container restarts it while it lives, no longer.
 *
 * @module
 */
import type { ContainerContext } from './context'
import { observe } from './observe'
import { nextRestartDelay, shouldRestart } from './restart-policy'
import type { ContainerRecord, ContainerState } from './types'

/** A start by the policy: `restartCount` is the count the run records. */
export type PolicyStart = (restartCount: number) => Promise<void>

/** One container's restarts by its policy, as its handle in this process sees them. */
export class PolicyRestarts {
  /** The last delay in ms (0: none yet), doubled at each restart in a row. */
  private delayMs = 0

  constructor(
    private readonly ctx: ContainerContext,
    private readonly id: string,
    private readonly name: string,
    private readonly start: PolicyStart,
  ) {}

  /**
   * After a run of this process ended (`ended`, having run `ranMs`): a start after Docker's delay,
   * unless the user stopped, killed or removed the container meanwhile. The timer does not keep Node alive.
   * `record` is the run's: a policy is set at create only, so a record without one spares the read of
   * the record on disk (which tells whether the container was removed meanwhile) at every exit.
   */
  afterRun(ended: ContainerState, ranMs: number, record: ContainerRecord): void {
    if (!record.hostConfig.restartPolicy) return
    const policy = this.ctx.containers.read(this.id)?.hostConfig.restartPolicy
    const restartCount = ended.restartCount ?? 0
    if (ended.status !== 'exited' || !shouldRestart(policy, { exitCode: ended.exitCode ?? 0, manuallyStopped: !!ended.manuallyStopped, restartCount })) return
    this.delayMs = nextRestartDelay(this.delayMs, ranMs)
    setTimeout(() => this.restart(restartCount + 1), this.delayMs).unref()
  }

  /** Marks that the user ended the container (of `record`), so that its policy does not bring it back. */
  stoppedByUser(record: ContainerRecord | undefined): void {
    if (!record?.hostConfig.restartPolicy) return
    const state = this.ctx.containers.readState(this.id)
    this.ctx.containers.writeState(this.id, { ...state, manuallyStopped: true })
  }

  /** The scheduled start, unless the container was started, stopped by the user or removed meanwhile; a failure is a warning. */
  private restart(restartCount: number): void {
    const now = observe(this.ctx, this.id, { record: true })
    if (now.status !== 'exited' || now.state.manuallyStopped) return
    this.ctx.starts.track(`restart container ${this.name}`, () => this.start(restartCount)).catch((err: unknown) => {
      if (!this.ctx.starts.closed && observe(this.ctx, this.id, { record: true }).status !== 'removed')
        process.emitWarning(`minicontainer: restarting container ${this.name} by its restart policy failed: ${(err as Error).message}`)
    })
  }
}
