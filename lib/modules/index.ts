/**
 * `minicontainer/modules`: ready-made service containers in testcontainers'
 * shape (`await new RedisContainer().start()` → a connection URL), each with
 * its image's conventions and the right wait strategy.
 *
 * @module
 */
import { guardClass } from '../util/public-boundary'
import { NginxContainer } from './nginx'
import { PostgresContainer } from './postgres'
import { RedisContainer } from './redis'
import { StartedService } from './started-service'
import { StartedPostgres } from './started-postgres'
import { MariaDbContainer, MySqlContainer } from './mysql'
import { StartedMySql } from './started-mysql'
import { RabbitMqContainer } from './rabbitmq'

for (const cls of [RedisContainer, PostgresContainer, NginxContainer, MySqlContainer, MariaDbContainer, RabbitMqContainer, StartedService, StartedPostgres, StartedMySql]) guardClass(cls)

export { RedisContainer, type RedisOptions } from './redis'
export { PostgresContainer, type PostgresOptions } from './postgres'
export { NginxContainer, type NginxOptions } from './nginx'
export { MySqlContainer, MariaDbContainer, type MySqlOptions } from './mysql'
export { RabbitMqContainer, type RabbitMqOptions } from './rabbitmq'
export { StartedService } from './started-service'
export { StartedPostgres } from './started-postgres'
export { StartedMySql, type MySqlCredentials } from './started-mysql'
export { ServiceCommandError } from '../errors'
export type { ServiceOptions } from './service-options'
