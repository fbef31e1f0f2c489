/**
 * Docker interop through a private engine (its own network namespace): an
 * image built by `docker build` (several layers, a deleted file, a replaced
 * directory, ENV, WORKDIR, USER, ENTRYPOINT, CMD, VOLUME, STOPSIGNAL) and
 * written by `docker save` loads here and runs with the output `docker run`
 * gives; Image.save output is read by `docker load` and runs there;
 * layer xattrs (binary values) reach Docker's layer store, and a file
 * capability comes back from `docker save`.
 */
import * as path from 'node:path'
import { Image, run } from '../../lib'
import { destroyRuntime, runOutput, tempRuntime } from '../helpers'
import { useDockerFixture } from '../tools/docker-engine'
import { expectTreeXattrs, hasPingerCap, requireXattrTools, treeWithXattrs } from './xattr-fixture'

const dockerfile = `FROM mc-bb:base
RUN mkdir -p /opt/dir && echo a > /opt/dir/a && echo b > /opt/dir/b && echo gone > /etc/gone
RUN rm /etc/gone && rm -rf /opt/dir && mkdir /opt/dir && echo c > /opt/dir/c
ENV GREETING=hello
WORKDIR /opt
USER app
VOLUME /data
STOPSIGNAL SIGUSR1
ENTRYPOINT ["sh", "-c", "echo \\"$0 $GREETING $(id -u) $(pwd)\\"; ls /opt/dir; test -e /etc/gone || echo gone; test -d /data && echo data"]
CMD ["from-cmd"]
`

const fx = useDockerFixture({ base: 'mc-bb:base', dockerfile, tag: 'mc-built:1' })

const ours = (ref: string, cmd?: string[]) => runOutput(fx.runtime, ref, cmd)

test('docker save output loads and runs with the same output as docker run', async () => {
  const expected = await fx.engine.ok(['run', '--rm', '--network', 'none', 'mc-built:1'])
  expect(expected).toBe('from-cmd hello 1000 /opt\nc\ngone\ndata')
  const file = path.join(fx.work, 'built.tar')
  await fx.engine.ok(['save', '-o', file, 'mc-built:1'])
  const [img] = await Image.load(file, { runtime: fx.runtime })
  expect(img.refs).toEqual(['mc-built:1'])
  expect(img.id).toBe(await fx.engine.ok(['inspect', '-f', '{{.Id}}', 'mc-built:1']))
  expect((await img.inspect()).config).toMatchObject({ stopSignal: 'SIGUSR1', volumes: ['/data'], user: 'app', workdir: '/opt' })
  expect(await ours('mc-built:1')).toBe(`${expected}\n`)
  expect(await ours('mc-built:1', ['other'])).toBe((await fx.engine.ok(['run', '--rm', '--network', 'none', 'mc-built:1', 'other'])) + '\n')
}, 120000)

test('Image.save output docker-loads and runs there with the same id and output', async () => {
  const [img] = await Image.load(path.join(fx.work, 'built.tar'), { runtime: fx.runtime })
  await img.tag('mc-back:2')
  // A commit made here goes across too.
  const c = await run('mc-back:2', ['touch-ignored'], { runtime: fx.runtime, network: 'none', entrypoint: ['sh', '-c', 'echo made here > /tmp/ours'] })
  expect(await c.wait()).toEqual({ exitCode: 0 })
  const committed = await c.commit({ ref: 'mc-ours:1', changes: { entrypoint: ['cat'], cmd: ['/tmp/ours'] } })
  await c.remove({ volumes: true })
  const file = path.join(fx.work, 'ours.tar')
  await Image.save(['mc-back:2', 'mc-ours:1'], file, { runtime: fx.runtime })
  await fx.engine.ok(['load', '-q', '-i', file])
  expect(await fx.engine.ok(['inspect', '-f', '{{.Id}}', 'mc-back:2'])).toBe(img.id)
  expect(await fx.engine.ok(['inspect', '-f', '{{.Id}}', 'mc-ours:1'])).toBe(committed.id)
  expect(await fx.engine.ok(['run', '--rm', '--network', 'none', 'mc-back:2'])).toBe('from-cmd hello 1000 /opt\nc\ngone\ndata')
  expect(await fx.engine.ok(['run', '--rm', '--network', 'none', 'mc-ours:1'])).toBe('made here')
}, 120000)

test('xattrs cross into docker load (binary values in its layer) and a capability comes back from docker save', async () => {
  requireXattrTools()
  const img = await Image.import(treeWithXattrs(path.join(fx.work, 'xattr-tree')), { runtime: fx.runtime, ref: 'mc-xattrs:1' })
  const file = path.join(fx.work, 'xattrs.tar')
  await Image.save(['mc-xattrs:1'], file, { runtime: fx.runtime })
  await fx.engine.ok(['load', '-q', '-i', file])
  expect(await fx.engine.ok(['inspect', '-f', '{{.Id}}', 'mc-xattrs:1'])).toBe(img.id)
  // Docker's own unpacked layer (overlay2's diff dir under the engine's data root, a host path).
  expectTreeXattrs(await fx.engine.ok(['inspect', '-f', '{{.GraphDriver.Data.UpperDir}}', 'mc-xattrs:1']))

  // docker save writes security.capability only (moby's tar writer reads no other xattr).
  const back = path.join(fx.work, 'xattrs-back.tar')
  await fx.engine.ok(['build', '-q', '-t', 'mc-xattrs:2', '-'], { input: 'FROM mc-xattrs:1\nRUN echo more > /data/more\n' })
  await fx.engine.ok(['save', '-o', back, 'mc-xattrs:2'])
  const other = tempRuntime()
  try {
    const [loaded] = await Image.load(back, { runtime: other })
    expect(hasPingerCap(other.images.layerPath(loaded.details.layers[0]))).toBe(true)
  } finally {
    await destroyRuntime(other)
  }
}, 120000)
