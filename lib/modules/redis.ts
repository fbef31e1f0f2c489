/**
 * redis as testcontainers' `RedisContainer`: the official image's
 * `redis-server` without persistence, ready when it says so, reached through
 * `redis://[default:password@]127.0.0.1:<port>` (the ACL user of redis 6+).
 *
 * @module
 */
import { Wait } from '../harness/wait'
import { runService, type ServiceOptions } from './service-options'
import type { StartedService } from './started-service'

/** Options of {@link RedisContainer}: image 'redis:7' and a 30 s startup timeout unless given. */
export interface RedisOptions extends ServiceOptions {
  /** Makes the server require this password (`--requirepass`); it is in the connection URL. */
  password?: string
}

/** A redis server for a test: `const redis = await new RedisContainer().start(); redis.connectionUrl`. */
export class RedisContainer {
  /** @param opts - password, and the options of every module */
  constructor(private readonly opts: RedisOptions = {}) {}

  /** Starts the server and resolves once it accepts connections. */
  async start(): Promise<StartedService> {
    const { password } = this.opts
    const auth = password ? `default:${encodeURIComponent(password)}@` : ''
    return runService(this.opts, {
      image: 'redis:7', startupTimeout: 30_000, port: 6379, waitFor: Wait.forLogMessage(/Ready to accept connections/),
      cmd: ['redis-server', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', ...(password ? ['--requirepass', password] : [])],
      url: (host, port) => `redis://${auth}${host}:${port}`,
    })
  }
}
