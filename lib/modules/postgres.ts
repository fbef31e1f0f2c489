/**
 * PostgreSQL as testcontainers' `PostgreSqlContainer`: the official image's
 * environment (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB), ready after
 * its second "ready to accept connections" (the first is the entrypoint's
 * temporary server of the first start) and once the port listens; with
 * testcontainers' snapshot() and restore().
 *
 * @module
 */
import { Wait } from '../harness/wait'
import { runService, type ServiceOptions } from './service-options'
import { StartedPostgres } from './started-postgres'

/** Options of {@link PostgresContainer}: image 'postgres:16', a 60 s startup timeout (initdb) and testcontainers' 'test' credentials unless given. */
export interface PostgresOptions extends ServiceOptions {
  /** The superuser made at first start (POSTGRES_USER); default 'test'. */
  user?: string
  /** Its password (POSTGRES_PASSWORD); default 'test'. */
  password?: string
  /** The database made at first start (POSTGRES_DB); default 'test'. */
  database?: string
}

/** A PostgreSQL server for a test: `const pg = await new PostgresContainer().start(); pg.connectionUrl`. */
export class PostgresContainer {
  /** @param opts - user, password, database, and the options of every module */
  constructor(private readonly opts: PostgresOptions = {}) {}

  /** Starts the server and resolves once it accepts connections on its published port. */
  async start(): Promise<StartedPostgres> {
    const { user = 'test', password = 'test', database = 'test' } = this.opts
    const credentials = `${encodeURIComponent(user)}:${encodeURIComponent(password)}`
    return runService(this.opts, {
      image: 'postgres:16', startupTimeout: 60_000, port: 5432,
      waitFor: Wait.forAll([Wait.forLogMessage(/database system is ready to accept connections/, { times: 2 }), Wait.forListeningPorts([5432])]),
      env: { POSTGRES_USER: user, POSTGRES_PASSWORD: password, POSTGRES_DB: database },
      url: (host, port) => `postgres://${credentials}@${host}:${port}/${encodeURIComponent(database)}`,
    }, (container, port, url) => new StartedPostgres(container, port, url, user, database))
  }
}
