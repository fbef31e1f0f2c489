// The shim's fallbacks for kernels without the new mount API, forced on this kernel through the
// test-only switch in lib/shim/spec.ts: the overlay option string (before fsconfig "lowerdir+", 6.8)
// and a read-only remount (before mount_setattr, 5.12).
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, Image, run, type Runtime } from '../../lib'
import { mountFallbacks } from '../../lib/shim/spec'
import { kernelAtLeast, text, timeScale, useRuntime } from '../helpers'

let runtime: Runtime

useRuntime((r) => (runtime = r), { hostImage: false, busybox: true })
afterEach(() => (mountFallbacks.force = false))

async function mountinfo(opts: Parameters<typeof run>[2] = {}): Promise<string> {
  const c = await run('bb', ['cat', '/proc/self/mountinfo'], { runtime, network: 'none', ...opts })
  await c.wait()
  const out = await text(c.logs())
  await c.remove()
  return out
}

/** The mount options of `target` in a mountinfo text ("ro,nosuid,..."). */
function optionsOf(info: string, target: string): string {
  const line = info.split('\n').find((l) => l.split(' ')[4] === target)
  if (!line) throw new Error(`${target} is not mounted:\n${info}`)
  return line.split(' ')[5]
}

test('the overlay root is mounted with the lowerdir option string, and works', async () => {
  // Unforced, the kernel's own choice: fsconfig "lowerdir+" from 6.8, the option string before (the VM lane's 6.1).
  expect(await mountinfo()).toMatch(kernelAtLeast(6, 8) ? / \/ \/ \S+ - overlay overlay rw,lowerdir\+=/ : / \/ \/ \S+ - overlay overlay rw,lowerdir=[^,/]+,upperdir=/)
  mountFallbacks.force = true
  expect(await mountinfo()).toMatch(/ \/ \/ \S+ - overlay overlay rw,lowerdir=[^,/]+,upperdir=/)
  const c = await run('bb', ['sh', '-c', 'cat /etc/motd; echo changed > /etc/motd; cat /etc/motd'], { runtime, network: 'none' })
  await c.wait()
  expect(await text(c.logs())).toBe('from the image\nchanged\n')
  expect(fs.readFileSync(path.join((await c.inspect()).graphDriver.data.upperDir, 'etc/motd'), 'utf8')).toBe('changed\n')
  await c.remove()
})

test('read-only paths and :ro binds are remounted read-only, keeping nosuid, nodev and noexec', async () => {
  const bind = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-fallback-bind-'))
  try {
    const opts = { volumes: [`${bind}:/data:ro`] }
    const modern = await mountinfo(opts)
    mountFallbacks.force = true
    const legacy = await mountinfo(opts)
    for (const target of ['/proc/sys', '/proc/bus', '/data']) {
      expect(optionsOf(legacy, target)).toBe(optionsOf(modern, target))
      expect(optionsOf(legacy, target).split(',')[0]).toBe('ro')
    }
    expect(optionsOf(legacy, '/proc/sys').split(',')).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec']))
    const c = await run('bb', ['sh', '-c', 'touch /data/x 2>&1; echo 1 > /proc/sys/kernel/domainname 2>&1; true'], { runtime, network: 'none', ...opts })
    await c.wait()
    expect((await text(c.logs())).match(/Read-only file system/g)).toHaveLength(2)
    expect(fs.readdirSync(bind)).toEqual([])
    await c.remove()
  } finally {
    fs.rmSync(bind, { recursive: true, force: true })
  }
})

/**
 * Building an image layer by layer is CPU work that grows faster than the layer count (300 layers:
 * 54 s on a loaded host, over 600 s under the VM lane's emulation), so the deep tests have their own
 * bound, stretched as the lane stretches waits.
 */
const deepBuildTimeout = 300_000 * timeScale

/** An image of busybox and `n` more layers, each a COPY of one file /layers/f<i>. */
async function deepImage(n: number, tag: string): Promise<Image> {
  const ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-deep-'))
  const lines = ['FROM bb']
  for (let i = 0; i < n; i++) {
    fs.writeFileSync(path.join(ctx, `f${i}`), `${i}\n`)
    lines.push(`COPY f${i} /layers/f${i}`)
  }
  try {
    return await Image.build(ctx, { dockerfile: { content: lines.join('\n') + '\n' }, tag, runtime })
  } finally {
    fs.rmSync(ctx, { recursive: true, force: true })
  }
}

test('an image of 150 layers runs through the option string too: the lower dirs go by short names, mounted from their directory', async () => {
  // Full paths hold about 35 layers in the option string's page; Docker allows up to 125.
  {
    const image = await deepImage(150, 'deep:150')
    expect((await image.inspect()).rootFS.diffIds.length).toBeGreaterThan(150)
    mountFallbacks.force = true
    const c = await run('deep:150', ['sh', '-c', 'ls /layers | wc -l; cat /layers/f0 /layers/f149 /etc/motd'], { runtime, network: 'none' })
    expect(await c.wait()).toMatchObject({ exitCode: 0 })
    expect(await text(c.logs())).toBe('150\n0\n149\nfrom the image\n')
    await c.remove()
    await image.remove()
  }
}, deepBuildTimeout)

test('an image too deep even for short names is EUNSUPPORTED naming Linux 6.8 before anything is made', async () => {
  const image = await deepImage(300, 'deep:300')
  mountFallbacks.force = true
  const before = await Container.list({ runtime, all: true })
  const err = await run('deep:300', ['true'], { runtime, network: 'none' }).then(() => undefined, (e: unknown) => e)
  expect(err).toMatchObject({ code: 'EUNSUPPORTED', since: '6.8' })
  expect((err as Error).message).toMatch(/^an image of 30\d layers .* needs Linux 6\.8 or later/)
  expect(await Container.list({ runtime, all: true })).toEqual(before)
  await image.remove()
}, deepBuildTimeout)
