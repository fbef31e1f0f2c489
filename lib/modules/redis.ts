/**
 * redis as testcontainers' `RedisContainer`: the official image's
 * `redis-server` without persistence, ready when it says so, reached through
 * `redis://[default:password@]127.0.0.1:<port>` (the ACL user of redis 6+).
 *
 * @module
 */
import type { ContainerContext } from '../container/context'
import { run } from '../container/run'
import { Wait } from '../harness/wait'
import { StartedService } from './started-service'

/** Options of {@link RedisContainer}. */
export interface RedisOptions {
  /** A `Runtime` of minicontainer's (its `runtime` option); omitted, the default runtime. */
  runtime?: ContainerContext
  /** The image; default 'redis:7' (any image with `redis-server` on its PATH, e.g. one from `Image.fromHost`). */
  image?: string
  /** Makes the server require this password (`--requirepass`); it is in the connection URL. */
  password?: string
  /** How long the server may take to be ready, in ms (default 30 000). */
  startupTimeout?: number
}

/** A redis server for a test: `const redis = await new RedisContainer().start(); redis.connectionUrl`. */
export class RedisContainer {
  /** @param opts - image, password, startup timeout and runtime */
  constructor(private readonly opts: RedisOptions = {}) {}

  /** Starts the server and resolves once it accepts connections. */
  async start(): Promise<StartedService> {
    const { image = 'redis:7', password, startupTimeout = 30_000, runtime } = this.opts
    const args = ['redis-server', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', ...(password ? ['--requirepass', password] : [])]
    const container = await run(image, args, {
      ports: ['6379'], rm: true, startupTimeout, waitFor: Wait.forLogMessage(/Ready to accept connections/), ...(runtime ? { runtime } : {}),
    })
    const port = container.mappedPort(6379)
    const auth = password ? `default:${encodeURIComponent(password)}@` : ''
    return new StartedService(container, port, `redis://${auth}${container.host}:${port}`)
  }
}
