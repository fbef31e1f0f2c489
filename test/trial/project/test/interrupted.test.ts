// A run that the user interrupts (Ctrl-C) while its services, network and volumes are in use.
import { writeFileSync } from 'node:fs'
import { Network, Volume, run } from 'minicontainer'
import { PostgresContainer, RedisContainer } from 'minicontainer/modules'
import { created } from './ids'

test('a long test, interrupted', async () => {
  const unique = `${process.pid}-${Date.now().toString(36)}`
  const net = await Network.create(`trial-ctrlc-${unique}`)
  created('network', net.name)
  const volume = await Volume.create(`trial-ctrlc-${unique}`)
  created('volume', volume.name)
  const [redis, pg] = await Promise.all([new RedisContainer().start(), new PostgresContainer().start()])
  created('container', redis.container.id)
  created('container', pg.container.id)
  const worker = await run('host', ['sh', '-c', 'head -c 20000000 /dev/zero > /big; echo filled; sleep 600'], {
    network: net, volumes: [`${volume.name}:/data`, '/scratch'],
  })
  created('container', worker.id)
  const postMortem = await run('host', ['sleep', '600'], { keepOnOwnerDeath: true })
  created('container', postMortem.id)
  writeFileSync(process.env.TRIAL_KEPT ?? '/dev/null', postMortem.id)
  for await (const chunk of worker.logs({ follow: true })) if (String(chunk).includes('filled')) break
  writeFileSync(process.env.TRIAL_READY ?? '/dev/null', 'ready\n')
  await new Promise((resolve) => setTimeout(resolve, 600_000))
}, 700_000)
