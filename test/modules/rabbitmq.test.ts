/**
 * minicontainer/modules' RabbitMqContainer against a real broker: Debian's
 * rabbitmq-server through Image.fromHost, behind an imitation of the
 * official image (rabbitmq-entrypoint.sh; nothing can be pulled here),
 * reached by the real client amqplib through the URL the module gives.
 */
import * as amqp from 'amqplib'
import type { Runtime } from '../../lib'
import { RabbitMqContainer } from '../../lib/modules'
import { useRuntime } from '../helpers'
import { serviceStandIn } from '../tools/stand-in-image'

jest.setTimeout(240_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { hostImage: true })

/** An image shaped like the official rabbitmq image (its CMD, its configuration), from the host's rabbitmq-server. */
function rabbitImage(): Promise<string> {
  return serviceStandIn(runtime, 'rabbitmq', { cmd: ['rabbitmq-server'], env: ['PATH=/usr/lib/rabbitmq/bin:/usr/sbin:/usr/bin:/sbin:/bin'] })
}

/** Sends `text` to a fresh queue through `url` and reads it back, as amqplib users do. */
async function roundTrip(url: string, text: string): Promise<string | undefined> {
  const conn = await amqp.connect(url)
  try {
    const ch = await conn.createChannel()
    const { queue } = await ch.assertQueue('', { exclusive: true })
    ch.sendToQueue(queue, Buffer.from(text))
    for (let i = 0; i < 50; i++) {
      const msg = await ch.get(queue, { noAck: true })
      if (msg) return msg.content.toString()
      await new Promise((r) => setTimeout(r, 100))
    }
    return undefined
  } finally {
    await conn.close()
  }
}

test("RabbitMqContainer: ready for amqplib at its URL with the image's guest/guest, from outside the container", async () => {
  const image = await rabbitImage()
  const mq = await new RabbitMqContainer({ image, runtime }).start()
  try {
    expect(mq.connectionUrl).toBe(`amqp://guest:guest@127.0.0.1:${mq.port}`)
    expect(await roundTrip(mq.connectionUrl, 'hello')).toBe('hello')
  } finally {
    await mq.stop()
  }
})

test('RabbitMqContainer with RABBITMQ_DEFAULT_USER/PASS/VHOST: the URL carries them; a wrong password is refused', async () => {
  const image = await rabbitImage()
  const mq = await new RabbitMqContainer({ image, runtime, user: 'app', password: 'p@ss word', vhost: 'orders' }).start()
  try {
    expect(mq.connectionUrl).toBe(`amqp://app:p%40ss%20word@127.0.0.1:${mq.port}/orders`)
    expect(await roundTrip(mq.connectionUrl, 'in orders')).toBe('in orders')
    await expect(amqp.connect(`amqp://app:nope@127.0.0.1:${mq.port}/orders`)).rejects.toThrow(/ACCESS_REFUSED|403/)
    await expect(amqp.connect(`amqp://guest:guest@127.0.0.1:${mq.port}`)).rejects.toThrow(/ACCESS_REFUSED|403/) // no guest when a user is given
  } finally {
    await mq.stop()
  }
})
