/**
 * minicontainer/modules' MySqlContainer and MariaDbContainer against a real
 * server: Debian's mariadb-server through Image.fromHost, behind an
 * imitation of the official images' entrypoint (mysql-entrypoint.sh; nothing
 * can be pulled here), reached by the real client mysql2 through the URL the
 * module gives.
 */
import * as mysql from 'mysql2/promise'
import type { Runtime } from '../../lib'
import { MariaDbContainer, MySqlContainer } from '../../lib/modules'
import { useRuntime } from '../helpers'
import { serviceStandIn } from '../tools/stand-in-image'

jest.setTimeout(240_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { hostImage: true })

/** An image shaped like the official mysql and mariadb images (their CMD, their entrypoint's environment), from the host's mariadb-server. */
function mysqlImage(): Promise<string> {
  return serviceStandIn(runtime, 'mysql', { cmd: ['mariadbd'], env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'] })
}

/** The rows of `sql` through a fresh mysql2 connection to `uri`. */
async function query(uri: string, sql: string): Promise<unknown[]> {
  const conn = await mysql.createConnection({ uri, multipleStatements: true })
  try {
    const [rows] = await conn.query(sql)
    return rows as unknown[]
  } finally {
    await conn.end()
  }
}

test("MySqlContainer: the official image's MYSQL_* environment, ready for mysql2 at its URL with testcontainers' defaults; root has its password", async () => {
  const db = await new MySqlContainer({ image: await mysqlImage(), runtime }).start()
  try {
    expect(db.connectionUrl).toBe(`mysql://test:test@127.0.0.1:${db.port}/test`)
    expect(await query(db.connectionUrl, 'select current_user() as who, database() as db')).toEqual([{ who: 'test@%', db: 'test' }])
    expect(await query(`mysql://root:test@127.0.0.1:${db.port}/`, 'select 1 as one')).toEqual([{ one: 1 }])
    await expect(query(`mysql://test:wrong@127.0.0.1:${db.port}/test`, 'select 1')).rejects.toMatchObject({ code: 'ER_ACCESS_DENIED_ERROR' })
  } finally {
    await db.stop()
  }
})

test('MariaDbContainer: its own credentials through MARIADB_*, in the URL; snapshot() and restore()', async () => {
  const db = await new MariaDbContainer({ image: await mysqlImage(), runtime, database: 'orders', user: 'app', password: "p@ss wo'rd", rootPassword: 'r00t' }).start()
  try {
    expect(db.connectionUrl).toBe(`mysql://app:p%40ss%20wo'rd@127.0.0.1:${db.port}/orders`)
    await query(db.connectionUrl, 'create table t (n int); insert into t values (42)')
    await db.snapshot('seeded')
    await query(db.connectionUrl, 'insert into t values (43)')
    await db.snapshot('seeded') // replaces the older snapshot of that name
    await query(db.connectionUrl, 'insert into t values (44); create table u (n int)')
    await db.restore('seeded')
    expect(await query(db.connectionUrl, 'select n from t order by n')).toEqual([{ n: 42 }, { n: 43 }])
    expect(await query(db.connectionUrl, "select count(*) as c from information_schema.tables where table_schema = 'orders' and table_name = 'u'")).toEqual([{ c: 0 }])
    await expect(db.restore('no-such-snapshot')).rejects.toMatchObject({ code: 'ESERVICE', message: expect.stringContaining('snapshot no-such-snapshot does not exist') })
    expect(await query(db.connectionUrl, 'select count(*) as c from t')).toEqual([{ c: 2 }]) // left as it was
    expect(await query(`mysql://root:r00t@127.0.0.1:${db.port}/`, 'select 1 as one')).toEqual([{ one: 1 }])
  } finally {
    await db.stop()
  }
})
