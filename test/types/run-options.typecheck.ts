/**
 * Type-level tests, compiled by `npm run typecheck` (part of `npm test`) and
 * never run: every `@ts-expect-error` line must fail to compile, so a
 * misspelt option can never again pass the type checker. If one of them
 * compiles, tsc reports the directive as unused and the suite fails.
 */
import { run, Container, Network, Image, Volume, type RunOptions } from '../../lib'

export async function misspeltOptionsDoNotCompile(): Promise<void> {
  // @ts-expect-error: "prots" is not an option (ports)
  await run('bb', ['true'], { prots: ['8080:80'] })
  // @ts-expect-error: "netwrok" is not an option (network)
  await run('bb', ['true'], { netwrok: 'none' })
  // @ts-expect-error: ports are strings, not numbers
  await run('bb', ['true'], { ports: [8080] })
  // @ts-expect-error: volumes are -v strings
  await Container.create('bb', ['true'], { volumes: { '/a': '/b' } })
  // @ts-expect-error: publishAll is a boolean
  const opts: RunOptions = { publishAll: 'yes' }
  void opts
  // @ts-expect-error: "subnett" is not a network option
  await Network.create('n', { subnett: '10.0.0.0/24' })
  // @ts-expect-error: Image.import takes "ref", not "tag"
  await Image.import('/tmp/rootfs', { tag: 'x' })
  // @ts-expect-error: Volume.create takes "labels", not "label"
  await Volume.create('v', { label: { a: 'b' } })
  const c = await Container.create('bb', ['true'])
  // @ts-expect-error: processEnv is the builder's internal way to give a RUN its secrets, not an option of start()
  await c.start({ processEnv: ['TOKEN=x'] })
}

export async function correctOptionsCompile(): Promise<void> {
  await run('bb', ['sh'], {
    name: 'web', network: 'mynet', ip: '10.1.0.5', aliases: ['db'], links: ['a:b'], dns: ['10.0.0.53'], extraHosts: ['h:10.0.0.1'],
    ports: ['8080:80'], publishAll: true, volumes: ['/srv:/data:ro'], mounts: [{ type: 'tmpfs', target: '/t' }], tmpfs: { '/run': 'size=1m' },
  })
}

export async function optionsWithoutACommand(): Promise<void> {
  // run(image, opts): the image's command, with options.
  await run('bb', { name: 'web', ports: ['6379'], waitFor: undefined })
  await run('bb', undefined, { name: 'web' })
  // @ts-expect-error: "prots" is not an option, without a command too
  await run('bb', { prots: ['8080:80'] })
  // @ts-expect-error: a command is an array of strings
  await run('bb', 'sh -c true')
}
