/**
 * MySQL and MariaDB as testcontainers' `MySqlContainer` and
 * `MariaDbContainer`: the official images' environment (MYSQL_ROOT_PASSWORD,
 * MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD; the mariadb image's MARIADB_*
 * names), ready once the real server says it listens on port 3306 (the
 * entrypoint's temporary server of the first start says "port: 0") and the
 * port listens.
 *
 * @module
 */
import { Wait } from '../harness/wait'
import { runService, type ServiceOptions } from './service-options'
import { StartedMySql } from './started-mysql'

/** Options of {@link MySqlContainer} and {@link MariaDbContainer}: a 120 s startup timeout (the first start initialises the data directory) and testcontainers' 'test' credentials unless given. */
export interface MySqlOptions extends ServiceOptions {
  /** The database made at first start (MYSQL_DATABASE); default 'test'. */
  database?: string
  /** A user made at first start with every right on `database` (MYSQL_USER); default 'test'. Not 'root': root is made anyway. */
  user?: string
  /** Its password (MYSQL_PASSWORD); default 'test'. */
  password?: string
  /** root's password (MYSQL_ROOT_PASSWORD); default 'test'. */
  rootPassword?: string
}

/** "Version: '...'  socket: '...'  port: 3306 ..." : the real server's line; the temporary one says port: 0 and mysqlx says 33060. */
const listening = /socket: '[^']*'\s+port: 3306\s/

/** Runs a MySQL-family server whose image reads its settings from `<prefix>_ROOT_PASSWORD` etc. */
function startMySqlFamily(opts: MySqlOptions, image: string, prefix: 'MYSQL' | 'MARIADB'): Promise<StartedMySql> {
  const { database = 'test', user = 'test', password = 'test', rootPassword = 'test' } = opts
  const credentials = `${encodeURIComponent(user)}:${encodeURIComponent(password)}`
  return runService(opts, {
    image, startupTimeout: 120_000, port: 3306,
    waitFor: Wait.forAll([Wait.forLogMessage(listening), Wait.forListeningPorts([3306])]),
    env: { [`${prefix}_ROOT_PASSWORD`]: rootPassword, [`${prefix}_DATABASE`]: database, [`${prefix}_USER`]: user, [`${prefix}_PASSWORD`]: password },
    url: (host, port) => `mysql://${credentials}@${host}:${port}/${encodeURIComponent(database)}`,
  }, (container, port, url) => new StartedMySql(container, port, url, { database, user, password, rootPassword }))
}

/** A MySQL server for a test: `const db = await new MySqlContainer().start(); mysql2.createConnection(db.connectionUrl)`. */
export class MySqlContainer {
  /** @param opts - database, user, passwords, and the options of every module (image 'mysql:8' unless given) */
  constructor(private readonly opts: MySqlOptions = {}) {}

  /** Starts the server and resolves once it accepts connections on its published port. */
  async start(): Promise<StartedMySql> {
    return startMySqlFamily(this.opts, 'mysql:8', 'MYSQL')
  }
}

/** A MariaDB server for a test, set through the mariadb image's MARIADB_* variables: `await new MariaDbContainer().start()`. */
export class MariaDbContainer {
  /** @param opts - database, user, passwords, and the options of every module (image 'mariadb:11' unless given) */
  constructor(private readonly opts: MySqlOptions = {}) {}

  /** Starts the server and resolves once it accepts connections on its published port. */
  async start(): Promise<StartedMySql> {
    return startMySqlFamily(this.opts, 'mariadb:11', 'MARIADB')
  }
}
