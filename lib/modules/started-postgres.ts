/**
 * A started PostgreSQL with testcontainers' `snapshot()` / `restore()`: the
 * database copied into a template database and recreated from it, which is
 * far faster than re-running migrations between tests. The SQL runs with the
 * container's own psql, as its superuser, over the local socket.
 *
 * @module
 */
import { InvalidArgumentError, ServiceCommandError } from '../errors'
import type { Container } from '../container/container'
import { StartedService } from './started-service'

/** A SQL identifier, quoted; names with a NUL are refused (EINVALID). */
function ident(name: string): string {
  if (!name || name.includes('\0')) throw new InvalidArgumentError(`a database name is a non-empty string without NUL bytes, not ${JSON.stringify(name)}`)
  return `"${name.replaceAll('"', '""')}"`
}

/** A SQL string literal. */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`
}

/** What {@link PostgresContainer} starts: a {@link StartedService} with snapshots of its database. */
export class StartedPostgres extends StartedService {
  /**
   * @param container - the running container
   * @param port - the host port published for 5432
   * @param connectionUrl - postgres://user:password@host:port/database
   * @param user - the superuser
   * @param database - the database snapshots are of
   */
  constructor(container: Container, port: number, connectionUrl: string, readonly user: string, readonly database: string) {
    super(container, port, connectionUrl)
  }

  /** Runs SQL statements in the maintenance database, one transaction each; ESERVICE with psql's message when one fails. */
  private async sql(what: string, statements: string[]): Promise<void> {
    const args = ['psql', '-v', 'ON_ERROR_STOP=1', '-q', '-U', this.user, '-d', 'postgres']
    const result = await this.container.exec([...args, ...statements.flatMap((s) => ['-c', s])])
    if (result.exitCode !== 0) throw new ServiceCommandError(what, result.exitCode, result.stderr || result.stdout)
  }

  /** Ends every other session of `database` (a template copy and a drop need it alone). */
  private disconnect(database: string): string {
    return `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${literal(database)} AND pid <> pg_backend_pid()`
  }

  /** Copies the database into the template database `name` (replacing an older one of that name); open sessions on it are ended. */
  async snapshot(name = 'migrated_template'): Promise<void> {
    await this.sql(`snapshot ${JSON.stringify(name)}`, [
      // A template database cannot be dropped: an older snapshot of this name stops being one first.
      `UPDATE pg_database SET datistemplate = FALSE WHERE datname = ${literal(name)}`,
      `DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`,
      this.disconnect(this.database),
      `CREATE DATABASE ${ident(name)} WITH TEMPLATE ${ident(this.database)} OWNER ${ident(this.user)}`,
      `ALTER DATABASE ${ident(name)} WITH is_template = TRUE`,
    ])
  }

  /** Recreates the database from the snapshot `name`; open sessions on it are ended. */
  async restore(name = 'migrated_template'): Promise<void> {
    await this.sql(`restore ${JSON.stringify(name)}`, [
      // Checked before the drop: a missing snapshot leaves the database as it is.
      `DO $mc$ BEGIN IF NOT EXISTS (SELECT FROM pg_database WHERE datname = ${literal(name)}) THEN RAISE EXCEPTION 'snapshot % does not exist', ${literal(name)}; END IF; END $mc$`,
      `DROP DATABASE IF EXISTS ${ident(this.database)} WITH (FORCE)`,
      `CREATE DATABASE ${ident(this.database)} WITH TEMPLATE ${ident(name)} OWNER ${ident(this.user)}`,
    ])
  }
}
