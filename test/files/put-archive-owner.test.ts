// Container.putArchive keeps the archive's owners (uid/gid per entry, like `docker cp` as root), or applies `chown`.
import { buffer } from 'node:stream/consumers'
import * as tar from 'tar-stream'
import { run, type Runtime } from '../../lib'
import { useRuntime } from '../helpers'

let runtime: Runtime

useRuntime((r) => (runtime = r), { hostImage: false, busybox: true })

/** A tar with a directory, a file and a symlink, each with its own owner and mode. */
async function ownedTar(): Promise<Buffer> {
  const pack = tar.pack()
  const mtime = new Date('2020-01-02T03:04:05Z')
  pack.entry({ name: 'owned', type: 'directory', uid: 1234, gid: 5678, mode: 0o750, mtime })
  pack.entry({ name: 'owned/f', type: 'file', uid: 4321, gid: 8765, mode: 0o640, mtime }, 'data\n')
  pack.entry({ name: 'owned/l', type: 'symlink', linkname: 'f', uid: 77, gid: 88, mode: 0o777, mtime })
  pack.finalize()
  return buffer(pack)
}

const statScript = 'cd /tmp/owned && stat -c "%n %u:%g %a" . f && stat -c "%n %u:%g" l && cat f'

test('uid/gid and modes from the tar are kept, in a running and in a stopped container', async () => {
  const c = await run('bb', ['sleep', '60'], { runtime, network: 'none' })
  await c.putArchive('/tmp', await ownedTar())
  const r = await c.exec(['sh', '-c', statScript])
  expect(r).toMatchObject({ exitCode: 0, stdout: '. 1234:5678 750\nf 4321:8765 640\nl 77:88\ndata\n' })
  // Stopped: the files go into the writable layer with the same owners.
  await c.stop({ timeout: 0 })
  await c.putArchive('/', await ownedTar())
  await c.start()
  const again = await c.exec(['sh', '-c', 'cd /owned && stat -c "%n %u:%g %a" . f && stat -c "%n %u:%g" l'])
  expect(again).toMatchObject({ exitCode: 0, stdout: '. 1234:5678 750\nf 4321:8765 640\nl 77:88\n' })
  await c.remove({ force: true })
})

test('chown replaces every entry owner', async () => {
  const c = await run('bb', ['sleep', '60'], { runtime, network: 'none' })
  await c.putArchive('/tmp', await ownedTar(), { chown: { uid: 1000, gid: 50 } })
  const r = await c.exec(['sh', '-c', statScript])
  expect(r).toMatchObject({ exitCode: 0, stdout: '. 1000:50 750\nf 1000:50 640\nl 1000:50\ndata\n' })
  await c.remove({ force: true })
})
