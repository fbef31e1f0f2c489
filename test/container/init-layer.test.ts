/**
 * The init layer (lib/storage/init-layer.ts): the /etc mount points and the
 * /etc/mtab link come from one lower dir shared by the root's containers,
 * not from files made in each container's writable layer.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, Image, MiniContainerError, run, type Runtime } from '../../lib'
import { busyboxImage, busyboxRootfs, destroyRuntime, tempRuntime, useRuntime } from '../helpers'

let runtime: Runtime

useRuntime((r) => (runtime = r), { hostImage: false, busybox: true })

const probe = 'cat /etc/hostname; readlink /etc/mtab; stat -c "%a %u:%g %F" /etc; grep -c ip6-localnet /etc/hosts; echo x > /etc/resolv.conf && cat /etc/resolv.conf'

/** Runs the probe in a container of `ref`; its output and what its writable layer holds. */
async function probeRun(ref: string, on = runtime): Promise<{ out: string[]; upper: string[]; hostname: string }> {
  const c = await run(ref, ['sh', '-c', probe], { runtime: on, network: 'none' })
  const exit = await c.wait()
  const info = await c.inspect()
  const upper = fs.readdirSync(info.graphDriver.data.upperDir)
  let out = ''
  for await (const chunk of c.logs()) out += chunk.toString()
  await c.remove()
  expect(exit.exitCode).toBe(0)
  return { out: out.trim().split('\n'), upper, hostname: info.config.hostname }
}

/** Imports a busybox rootfs whose /etc `shape` changed as `ref`. */
async function imageWith(ref: string, shape: (rootfs: string) => void): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-initlayer-'))
  try {
    shape(busyboxRootfs(dir))
    await Image.import(dir, { runtime, ref })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

test('a container writes none of its /etc mount points or /etc/mtab into its writable layer: they come from one init layer per root, made in scratch and renamed whole', async () => {
  for (let i = 0; i < 2; i++) {
    const { out, upper, hostname } = await probeRun('bb')
    expect(out).toEqual([hostname, '/proc/mounts', '755 0:0 directory', '1', 'x'])
    // Before the init layer: [ 'etc' ] (etc/hostname, hosts, resolv.conf and mtab copied up into it).
    expect(upper).toEqual([])
  }
  const layers = path.join(runtime.root, 'layers')
  expect(fs.readdirSync(layers).filter((n) => n.startsWith('init-'))).toEqual(['init-755'])
  expect(fs.readlinkSync(path.join(layers, 'l', 'init-755'))).toBe('../init-755/diff')
  expect(fs.readdirSync(path.join(layers, 'init-755', 'diff', 'etc')).sort()).toEqual(['hostname', 'hosts', 'mtab', 'resolv.conf'])
  expect(fs.readdirSync(path.join(layers, 'tmp'))).toEqual([])
})

test("an image's /etc of another mode keeps its mode (an init layer of that mode); one of another owner, or a link, keeps what it is and gets its mount points made at start", async () => {
  await imageWith('etc-750', (root) => fs.chmodSync(path.join(root, 'etc'), 0o750))
  await imageWith('etc-1000', (root) => fs.chownSync(path.join(root, 'etc'), 1000, 1000))
  await imageWith('etc-link', (root) => {
    fs.mkdirSync(path.join(root, 'private'))
    fs.renameSync(path.join(root, 'etc'), path.join(root, 'private', 'etc'))
    fs.symlinkSync('private/etc', path.join(root, 'etc'))
  })
  const mode750 = await probeRun('etc-750')
  expect(mode750.out).toEqual([mode750.hostname, '/proc/mounts', '750 0:0 directory', '1', 'x'])
  expect(mode750.upper).toEqual([])
  const owned = await probeRun('etc-1000')
  expect(owned.out).toEqual([owned.hostname, '/proc/mounts', '755 1000:1000 directory', '1', 'x'])
  expect(owned.upper).toEqual(['etc'])
  const linked = await probeRun('etc-link')
  expect(linked.out).toEqual([linked.hostname, '/proc/mounts', '777 0:0 symbolic link', '1', 'x'])
  expect(linked.upper).toEqual(['private'])
  const layers = path.join(runtime.root, 'layers')
  expect(fs.readdirSync(layers).filter((n) => n.startsWith('init-')).sort()).toEqual(['init-750', 'init-755'])
})

test("an image's own /etc/mtab is hidden by the init layer's link to /proc/mounts, as Docker's init layer hides it (Docker 20.10: /proc/mounts for an image whose /etc/mtab is ../proc/self/mounts)", async () => {
  await imageWith('etc-mtab', (root) => fs.symlinkSync('../proc/self/mounts', path.join(root, 'etc', 'mtab')))
  const { out, upper, hostname } = await probeRun('etc-mtab')
  expect(out).toEqual([hostname, '/proc/mounts', '755 0:0 directory', '1', 'x'])
  expect(upper).toEqual([])
})

test('a root whose init layer is damaged (a file where its directory belongs) still starts containers: their mount points are made in the writable layer', async () => {
  const damaged = tempRuntime('mc-initlayer-root-')
  try {
    await busyboxImage(damaged)
    fs.writeFileSync(path.join(damaged.root, 'layers', 'init-755'), '')
    const { out, upper, hostname } = await probeRun('bb', damaged)
    expect(out).toEqual([hostname, '/proc/mounts', '755 0:0 directory', '1', 'x'])
    expect(upper).toEqual(['etc'])
  } finally {
    await destroyRuntime(damaged)
  }
})

test("a start of an image already started looks no more down its layers for /etc (fixed per layer stack); an init layer removed since is made again", async () => {
  await imageWith('etc-seen', (root) => fs.writeFileSync(path.join(root, 'etc', 'seen'), ''))
  await probeRun('etc-seen')
  // The module object itself: lib reads its functions from it at each call (the test's own import is a frozen copy).
  const lstat = jest.spyOn(require('node:fs') as typeof fs, 'lstatSync')
  try {
    const again = await probeRun('etc-seen')
    expect(again.upper).toEqual([])
    // Before: one lstat of each layer's etc down to the top-most that has one, at every start.
    expect(lstat.mock.calls.filter(([p]) => String(p).endsWith('/etc'))).toEqual([])
  } finally {
    lstat.mockRestore()
  }
  const layers = path.join(runtime.root, 'layers')
  fs.rmSync(path.join(layers, 'init-755'), { recursive: true })
  fs.unlinkSync(path.join(layers, 'l', 'init-755'))
  const remade = await probeRun('etc-seen')
  expect(remade.out).toEqual([remade.hostname, '/proc/mounts', '755 0:0 directory', '1', 'x'])
  expect(remade.upper).toEqual([])
  expect(fs.readdirSync(path.join(layers, 'init-755', 'diff', 'etc')).sort()).toEqual(['hostname', 'hosts', 'mtab', 'resolv.conf'])
})

test("a start that ran while one of the image's layers was missing leaves the image's later starts their init layer (a 'none fits' met then is not remembered)", async () => {
  await imageWith('etc-gap', (root) => fs.writeFileSync(path.join(root, 'etc', 'gap'), ''))
  const layers = path.join(runtime.root, 'layers')
  const [home] = fs.readdirSync(layers).filter((n) => n.startsWith('sha256-') && fs.existsSync(path.join(layers, n, 'diff', 'etc', 'gap')))
  const diff = path.join(layers, home, 'diff')
  const c = await Container.create('etc-gap', ['true'], { runtime, network: 'none' })
  fs.renameSync(diff, `${diff}.away`)
  try {
    await expect(c.start()).rejects.toBeInstanceOf(MiniContainerError) // the overlay has no lower dir to mount
  } finally {
    fs.renameSync(`${diff}.away`, diff)
    await c.remove({ force: true })
  }
  const later = await probeRun('etc-gap')
  expect(later.out).toEqual([later.hostname, '/proc/mounts', '755 0:0 directory', '1', 'x'])
  // Before: [ 'etc' ], the mount points made in the writable layer at every later start of the image.
  expect(later.upper).toEqual([])
})
