import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Image, run, type Runtime } from '../../lib'
import { busyboxRootfs, text, useRuntime } from '../helpers'

let runtime: Runtime

useRuntime((r) => (runtime = r), { hostImage: false })

/*
 * A missing mount target is made inside the container's root, whatever the image's symlinks say:
 * its parent is resolved with the container's root as "/" (native/linux.c ensure_path). The image's
 * /escape is an absolute link to a host directory that exists in the image too; a mount at
 * /escape/<name> must make <name> in the image's directory, never in the host's.
 */
describe('a mount target under an image symlink to a host path', () => {
  const host = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-target-host-'))
  let ref: string

  beforeAll(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-target-root-'))
    try {
      busyboxRootfs(dir)
      fs.mkdirSync(path.join(dir, host), { recursive: true })
      fs.symlinkSync(host, path.join(dir, 'escape'))
      ref = `mc-target-${process.pid}`
      await Image.import(dir, { runtime, ref })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
  afterAll(() => fs.rmSync(host, { recursive: true, force: true }))

  test.each([
    ['a tmpfs directory', { tmpfs: { '/escape/mnt-dir': '' } }, 'mnt-dir'],
    ['a bound file', { volumes: [`${__filename}:/escape/mnt-file:ro`] }, 'mnt-file'],
  ])('%s is made in the image, not on the host', async (_what, opts, name) => {
    const c = await run(ref, ['sh', '-c', `ls -d /escape/${name} ${host}/${name}`], { runtime, network: 'none', ...opts })
    expect(await c.wait()).toEqual({ exitCode: 0 })
    expect((await text(c.logs())).trim().split('\n')).toEqual([`/escape/${name}`, `${host}/${name}`])
    await c.remove()
    expect(fs.readdirSync(host)).toEqual([])
  })
})
