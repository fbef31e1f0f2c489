/**
 * A started MySQL or MariaDB: its credentials, and snapshot() / restore()
 * as the postgres module has them. MySQL has no template databases, so a
 * snapshot is a dump of the database into a database of the snapshot's
 * name, made with the container's own client as root over the local socket.
 *
 * @module
 */
import { ServiceCommandError } from '../errors'
import type { Container } from '../container/container'
import { StartedService } from './started-service'

/** What the server was started with. */
export interface MySqlCredentials {
  /** The database snapshots are of. */
  database: string
  /** The user with every right on it. */
  user: string
  /** Its password. */
  password: string
  /** root's password. */
  rootPassword: string
}

/** A MySQL identifier, quoted (backticks doubled). */
function ident(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``
}

/** A shell word, single-quoted. */
function shellWord(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`
}

/** What {@link MySqlContainer} and {@link MariaDbContainer} start: a {@link StartedService} with its credentials and snapshots of its database. */
export class StartedMySql extends StartedService {
  /**
   * @param container - the running container
   * @param port - the host port published for 3306
   * @param connectionUrl - mysql://user:password@host:port/database
   * @param credentials - the database, user and passwords it was started with
   */
  constructor(container: Container, port: number, connectionUrl: string, private readonly credentials: MySqlCredentials) {
    super(container, port, connectionUrl)
  }

  /** The database made at first start. */
  get database(): string {
    return this.credentials.database
  }

  /** The user with every right on {@link database}. */
  get user(): string {
    return this.credentials.user
  }

  /** That user's password. */
  get password(): string {
    return this.credentials.password
  }

  /** root's password. */
  get rootPassword(): string {
    return this.credentials.rootPassword
  }

  /**
   * Runs a shell script with `$client` and `$dump` (the image's mariadb/mysql client and dump tool)
   * logged in as root over the socket; ESERVICE with the script's message when it fails.
   */
  private async script(what: string, body: string): Promise<void> {
    const tools = 'client=$(command -v mariadb || command -v mysql); dump=$(command -v mariadb-dump || command -v mysqldump)'
    const env = { MYSQL_PWD: this.credentials.rootPassword }
    const result = await this.container.exec(['sh', '-ec', `${tools}; client="$client -uroot"; dump="$dump -uroot"; ${body}`], { env })
    if (result.exitCode !== 0) throw new ServiceCommandError(what, result.exitCode, result.stderr || result.stdout)
  }

  /** `$client` statements recreating database `to` as a copy of `from`. */
  private copy(from: string, to: string): string {
    const recreate = `DROP DATABASE IF EXISTS ${ident(to)}; CREATE DATABASE ${ident(to)}`
    return `$client -e ${shellWord(recreate)}; $dump --routines --triggers --events --single-transaction ${shellWord(from)} | $client ${shellWord(to)}`
  }

  /** Copies the database into the database `name` (replacing an older snapshot of that name). */
  async snapshot(name = 'migrated_snapshot'): Promise<void> {
    await this.script(`snapshot ${JSON.stringify(name)}`, this.copy(this.credentials.database, name))
  }

  /** Recreates the database from the snapshot `name`; a missing snapshot is ESERVICE and leaves the database as it is. */
  async restore(name = 'migrated_snapshot'): Promise<void> {
    const exists = `SELECT 1 FROM information_schema.schemata WHERE schema_name = '${name.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`
    const check = `[ -n "$($client -N -e ${shellWord(exists)})" ] || { echo "snapshot ${name.replaceAll(/[^\w.-]/g, '_')} does not exist" >&2; exit 1; }`
    await this.script(`restore ${JSON.stringify(name)}`, `${check}; ${this.copy(name, this.credentials.database)}`)
  }
}
