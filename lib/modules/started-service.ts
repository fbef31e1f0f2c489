/**
 * What every service module's `start()` gives back: the running container,
 * where the host reaches it, its connection URL, and its end.
 *
 * @module
 */
import type { Container } from '../container/container'

/** A service container that is ready: reach it at `host`:`port`, or through `connectionUrl`. */
export class StartedService {
  /**
   * @param container - the running container (exec, logs, copies...)
   * @param port - the host port published for the service's port
   * @param connectionUrl - the URL a client library takes (`redis://...`, `postgres://...`, `http://...`)
   */
  constructor(
    readonly container: Container,
    readonly port: number,
    readonly connectionUrl: string,
  ) {}

  /** Where the host reaches the service: '127.0.0.1'. */
  get host(): string {
    return this.container.host
  }

  /** testcontainers' name for {@link connectionUrl}. */
  getConnectionUrl(): string {
    return this.connectionUrl
  }

  /** Stops and removes the container (its anonymous volumes with it). */
  async stop(): Promise<void> {
    await this.container.remove({ force: true, volumes: true })
  }

  /** `await using redis = await new RedisContainer().start()` stops it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}
