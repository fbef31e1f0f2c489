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

for (const cls of [RedisContainer, PostgresContainer, NginxContainer, StartedService, StartedPostgres]) guardClass(cls)

export { RedisContainer, type RedisOptions } from './redis'
export { PostgresContainer, type PostgresOptions } from './postgres'
export { NginxContainer, type NginxOptions } from './nginx'
export { StartedService } from './started-service'
export { StartedPostgres } from './started-postgres'
export { ServiceCommandError } from '../errors'
export type { ServiceOptions } from './service-options'
