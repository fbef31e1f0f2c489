/**
 * RabbitMQ as testcontainers' `RabbitMQContainer`: the official image's
 * environment (RABBITMQ_DEFAULT_USER, RABBITMQ_DEFAULT_PASS,
 * RABBITMQ_DEFAULT_VHOST), ready once the broker says "Server startup
 * complete" and AMQP's port listens, reached through
 * `amqp://user:password@127.0.0.1:<port>[/vhost]`.
 *
 * @module
 */
import { Wait } from '../harness/wait'
import { runService, type ServiceOptions } from './service-options'
import type { StartedService } from './started-service'

/** Options of {@link RabbitMqContainer}: image 'rabbitmq:3', a 120 s startup timeout (Erlang boots slowly) and the image's guest/guest unless given. */
export interface RabbitMqOptions extends ServiceOptions {
  /** The user made at first start (RABBITMQ_DEFAULT_USER); default 'guest'. */
  user?: string
  /** Its password (RABBITMQ_DEFAULT_PASS); default 'guest'. */
  password?: string
  /** The virtual host made at first start (RABBITMQ_DEFAULT_VHOST); default '/', which the URL leaves out. */
  vhost?: string
}

/** A RabbitMQ broker for a test: `const mq = await new RabbitMqContainer().start(); amqplib.connect(mq.connectionUrl)`. */
export class RabbitMqContainer {
  /** @param opts - user, password, vhost, and the options of every module */
  constructor(private readonly opts: RabbitMqOptions = {}) {}

  /** Starts the broker and resolves once it accepts AMQP connections on its published port. */
  async start(): Promise<StartedService> {
    const { user = 'guest', password = 'guest', vhost = '/' } = this.opts
    const credentials = `${encodeURIComponent(user)}:${encodeURIComponent(password)}`
    const path = vhost === '/' ? '' : `/${encodeURIComponent(vhost)}`
    return runService(this.opts, {
      image: 'rabbitmq:3', startupTimeout: 120_000, port: 5672,
      waitFor: Wait.forAll([Wait.forLogMessage(/Server startup complete/), Wait.forListeningPorts([5672])]),
      env: { RABBITMQ_DEFAULT_USER: user, RABBITMQ_DEFAULT_PASS: password, RABBITMQ_DEFAULT_VHOST: vhost },
      url: (host, port) => `amqp://${credentials}@${host}:${port}${path}`,
    })
  }
}
