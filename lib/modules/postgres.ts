/**
 * PostgreSQL as testcontainers' `PostgreSqlContainer`: the official image's
 * environment (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB), ready after
 * its second "ready to accept connections" (the first is the entrypoint's
 * temporary server of the first start) and once the port listens.
 *
 * @module
 */
import type { ContainerContext } from '../container/context'
import { run } from '../container/run'
import { Wait } from '../harness/wait'
import { StartedService } from './started-service'

/** Options of {@link PostgresContainer}; the defaults are testcontainers' ('test' each). */
export interface PostgresOptions {
  /** A `Runtime` of minicontainer's (its `runtime` option); omitted, the default runtime. */
  runtime?: ContainerContext
  /** The image; default 'postgres:16' (any image with the official image's entrypoint conventions). */
  image?: string
  /** The superuser made at first start (POSTGRES_USER); default 'test'. */
  user?: string
  /** Its password (POSTGRES_PASSWORD); default 'test'. */
  password?: string
  /** The database made at first start (POSTGRES_DB); default 'test'. */
  database?: string
  /** How long the server may take to be ready, in ms (default 60 000: the first start runs initdb). */
  startupTimeout?: number
}

/** A PostgreSQL server for a test: `const pg = await new PostgresContainer().start(); pg.connectionUrl`. */
export class PostgresContainer {
  /** @param opts - image, user, password, database, startup timeout and runtime */
  constructor(private readonly opts: PostgresOptions = {}) {}

  /** Starts the server and resolves once it accepts connections on its published port. */
  async start(): Promise<StartedService> {
    const { image = 'postgres:16', user = 'test', password = 'test', database = 'test', startupTimeout = 60_000, runtime } = this.opts
    const ready = Wait.forAll([Wait.forLogMessage(/database system is ready to accept connections/, { times: 2 }), Wait.forListeningPorts([5432])])
    const container = await run(image, {
      env: { POSTGRES_USER: user, POSTGRES_PASSWORD: password, POSTGRES_DB: database },
      ports: ['5432'], rm: true, startupTimeout, waitFor: ready, ...(runtime ? { runtime } : {}),
    })
    const port = container.mappedPort(5432)
    const url = `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${container.host}:${port}/${encodeURIComponent(database)}`
    return new StartedService(container, port, url)
  }
}
