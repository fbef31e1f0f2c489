// Volumes in real containers: an nginx-style html volume shared by two containers, seeding,
// read-only, outliving containers, in-use rules, anonymous volumes removed with the container.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { run } from '../../lib'
import { Volume } from '../../lib/storage/volume'
import { e2eRuntime, mountImage, sh } from './e2e-helpers'
import { uniqueName } from './helpers'

const { runtime, destroy } = e2eRuntime()
const html = '/usr/share/nginx/html'

beforeAll(async () => {
  await mountImage(runtime)
})
afterAll(() => destroy())

describe('named volumes', () => {
  test('an html volume shared by two containers: seeded from the image, edits seen by both', async () => {
    const name = uniqueName('html')
    await Volume.create(name, { runtime })
    const web = await run('mnt', ['sleep', '60'], { runtime, volumes: [`${name}:${html}`] })
    const editor = await run('mnt', ['sleep', '60'], { runtime, volumes: [`${name}:/edit`] })
    try {
      expect((await editor.exec(['cat', '/edit/index.html'])).stdout).toBe('<h1>from the image</h1>\n')
      await editor.exec(['sh', '-c', 'echo "<h1>edited</h1>" > /edit/index.html'])
      expect((await web.exec(['cat', `${html}/index.html`])).stdout).toBe('<h1>edited</h1>\n')
      await web.exec(['sh', '-c', `echo new > ${html}/new.html`])
      expect((await editor.exec(['cat', '/edit/new.html'])).stdout).toBe('new\n')
    } finally {
      await web.remove({ force: true })
      await editor.remove({ force: true })
    }
  })

  test('seeding keeps ownership, modes and symlinks, and happens once', async () => {
    const name = uniqueName('seed')
    const r = await sh(runtime, `stat -c '%n %u:%g %a' ${html} ${html}/private ${html}/private/conf; readlink ${html}/home.html`, { volumes: [`${name}:${html}`] })
    expect(r.out).toBe(`${html} 101:101 775\n${html}/private 1000:1000 750\n${html}/private/conf 1000:1000 640\nindex.html\n`)
    const data = (await runtime.volumes.inspect(name)).mountpoint
    expect(fs.readFileSync(path.join(data, 'index.html'), 'utf8')).toBe('<h1>from the image</h1>\n')
    expect((await runtime.volumes.get(name)).seeded).toBe(true)
    // Emptied by a container, it is not refilled by the next one.
    await sh(runtime, `rm -rf ${html}/*`, { volumes: [`${name}:${html}`] })
    expect((await sh(runtime, `ls -A ${html}`, { volumes: [`${name}:${html}`] })).out).toBe('')
  })

  test('nocopy and a non-empty volume are not seeded', async () => {
    const name = uniqueName('nocopy')
    expect((await sh(runtime, `ls -A ${html}`, { volumes: [`${name}:${html}:nocopy`] })).out).toBe('')
    const full = uniqueName('full')
    const v = await Volume.create(full, { runtime })
    fs.writeFileSync(path.join(v.mountpoint, 'already'), '')
    expect((await sh(runtime, `ls -A ${html}`, { volumes: [`${full}:${html}`] })).out).toBe('already\n')
  })

  test(':ro volume: EROFS inside', async () => {
    const name = uniqueName('ro')
    const r = await sh(runtime, `cat ${html}/index.html; touch ${html}/x; echo rc=$?`, { volumes: [`${name}:${html}:ro`] })
    expect(r.out).toMatch(/^<h1>from the image<\/h1>\n.*Read-only file system\nrc=1\n$/s)
  })

  test('a volume outlives its container and is created on first use', async () => {
    const name = uniqueName('keep')
    await expect(runtime.volumes.get(name)).rejects.toMatchObject({ code: 'ENOVOLUME' })
    await sh(runtime, 'echo persisted > /data/file', { volumes: [`${name}:/data`] })
    expect((await sh(runtime, 'cat /again/file', { mounts: [{ type: 'volume', source: name, target: '/again' }] })).out).toBe('persisted\n')
  })

  test('removal while a container references it: EINUSE; forced, or after the container is gone: removed', async () => {
    const name = uniqueName('busy')
    const c = await run('mnt', ['true'], { runtime, volumes: [`${name}:/data`] })
    await c.wait()
    const v = await Volume.get(name, { runtime })
    expect((await v.inspect()).usedBy).toEqual([c.id])
    await expect(v.remove()).rejects.toMatchObject({ code: 'EINUSE' })
    expect(await Volume.prune({ runtime })).not.toContain(name)
    await c.remove()
    expect((await v.inspect()).usedBy).toEqual([])
    await v.remove()
    await expect(Volume.get(name, { runtime })).rejects.toMatchObject({ code: 'ENOVOLUME' })
  })

  test('inspect().mounts shows the volume like Docker', async () => {
    const name = uniqueName('insp')
    const c = await run('mnt', ['true'], { runtime, volumes: [`${name}:/data:ro`] })
    try {
      await c.wait()
      expect((await c.inspect()).mounts).toEqual([
        { type: 'volume', name, source: runtime.volumes.paths(name).data, destination: '/data', mode: 'ro', rw: false, anonymous: false },
      ])
    } finally {
      await c.remove()
    }
  })
})

describe('anonymous volumes', () => {
  test('-v /path makes one, seeded; remove({ volumes: true }) deletes it, remove() keeps it', async () => {
    const store = runtime.volumes
    const c1 = await run('mnt', ['cat', `${html}/index.html`], { runtime, volumes: [html] })
    await c1.wait()
    const [m1] = (await c1.inspect()).mounts as { name: string; anonymous: boolean }[]
    expect(m1.name).toMatch(/^[0-9a-f]{64}$/)
    expect(m1.anonymous).toBe(true)
    expect(fs.readdirSync(store.paths(m1.name).data).sort()).toEqual(['home.html', 'index.html', 'private'])
    await c1.remove({ volumes: true })
    expect(store.find(m1.name)).toBeUndefined()

    const c2 = await run('mnt', ['true'], { runtime, mounts: [{ type: 'volume', target: '/anon' }] })
    await c2.wait()
    const [m2] = (await c2.inspect()).mounts as { name: string }[]
    await c2.remove()
    expect(store.find(m2.name)).toBeDefined()
    expect(await store.prune({ anonymousOnly: true })).toContain(m2.name)
  })

  test('rm: true removes the anonymous volumes with the container, keeps named ones', async () => {
    const store = runtime.volumes
    const before = new Set((await store.list()).map((v) => v.name))
    const name = uniqueName('kept')
    const c = await run('mnt', ['true'], { runtime, rm: true, volumes: ['/anon', `${name}:/named`] })
    await c.wait()
    for (let i = 0; i < 100 && (await store.list()).some((v) => v.anonymous && !before.has(v.name)); i++) await new Promise((r) => setTimeout(r, 20))
    expect((await store.list()).filter((v) => !before.has(v.name)).map((v) => v.name)).toEqual([name])
  })

  test('remove({ volumes: true }) keeps named volumes', async () => {
    const name = uniqueName('named')
    const c = await run('mnt', ['true'], { runtime, volumes: [`${name}:/n`, '/anon'] })
    await c.wait()
    await c.remove({ volumes: true })
    expect(runtime.volumes.find(name)).toBeDefined()
  })
})
