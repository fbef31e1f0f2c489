/**
 * Ready when the container's health check reports healthy (the image's
 * HEALTHCHECK, or run's `healthcheck`). Woken by each health state change,
 * never polled; unhealthy ends the wait with EUNHEALTHY.
 *
 * @module
 */
import { waitFailure } from './wait-failure'
import { InvalidArgumentError, UnhealthyError } from '../errors'
import type { WaitContext, WaitStrategy } from './strategy'

/** Waits for the health status "healthy". */
export class HealthCheckStrategy implements WaitStrategy {
  readonly awaitsExit = false
  readonly description = 'health check to report healthy'

  async waitUntilReady(ctx: WaitContext): Promise<void> {
    const { target, signal } = ctx
    const started = Date.now()
    if (!target.health())
      throw new InvalidArgumentError(`container ${target.name} has no health check: pass healthcheck: { test: ['CMD', ...] } or use an image with a HEALTHCHECK`)
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        const h = target.health()
        if (signal.aborted || h?.status === 'healthy') return finish()
        if (h?.status === 'unhealthy') {
          const last = h.log[h.log.length - 1]?.output ?? ''
          return finish(new UnhealthyError(waitFailure(target, this.description, started), last))
        }
      }
      const finish = (err?: Error) => {
        unwatch()
        signal.removeEventListener('abort', check)
        if (err) reject(err)
        else resolve()
      }
      const unwatch = target.watchHealth(check)
      signal.addEventListener('abort', check)
      check()
    })
  }
}
