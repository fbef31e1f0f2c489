// Bind mounts in real containers: both directions, read-only, hiding image content, -v vs mounts sources.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Container, run } from '../../lib'
import { e2eRuntime, mountImage, sh } from './e2e-helpers'

const { runtime, destroy } = e2eRuntime()
let host: string

beforeAll(async () => {
  await mountImage(runtime)
})
beforeEach(() => {
  host = fs.mkdtempSync(path.join(runtime.root, 'host-'))
})
afterAll(() => destroy())

async function exec(c: Container, script: string): Promise<string> {
  const r = await c.exec(['sh', '-c', `{ ${script}; } 2>&1`])
  return `${r.exitCode}:${r.stdout}`
}

describe('bind mounts', () => {
  test('read-write by default; changes are visible both ways immediately', async () => {
    fs.writeFileSync(path.join(host, 'from-host'), 'hello from host\n')
    const c = await run('mnt', ['sleep', '60'], { runtime, volumes: [`${host}:/shared`] })
    try {
      expect(await exec(c, 'cat /shared/from-host')).toBe('0:hello from host\n')
      expect(await exec(c, 'echo from ctr > /shared/from-ctr')).toBe('0:')
      expect(fs.readFileSync(path.join(host, 'from-ctr'), 'utf8')).toBe('from ctr\n')
      fs.appendFileSync(path.join(host, 'from-host'), 'more\n')
      expect(await exec(c, 'cat /shared/from-host')).toBe('0:hello from host\nmore\n')
      fs.unlinkSync(path.join(host, 'from-ctr'))
      expect(await exec(c, 'ls /shared')).toBe('0:from-host\n')
    } finally {
      await c.remove({ force: true })
    }
  })

  test(':ro makes writes fail with EROFS inside; the host side stays writable', async () => {
    fs.writeFileSync(path.join(host, 'f'), 'x')
    const r = await sh(runtime, 'cat /ro/f; echo; touch /ro/new; echo rc=$?; rm /ro/f; echo rc=$?', { volumes: [`${host}:/ro:ro`] })
    expect(r.out).toMatch(/^x\n.*Read-only file system\nrc=1\n.*Read-only file system\nrc=1\n$/s)
    expect(fs.readdirSync(host)).toEqual(['f'])
  })

  test('a single file, read-only', async () => {
    fs.writeFileSync(path.join(host, 'app.conf'), 'key=value\n')
    const r = await sh(runtime, 'cat /etc/app.conf; echo x >> /etc/app.conf; echo rc=$?', { volumes: [`${host}/app.conf:/etc/app.conf:ro`] })
    expect(r.out).toMatch(/^key=value\n.*Read-only file system\nrc=1\n$/s)
  })

  test('a bind over a non-empty image directory hides, and does not delete, its content', async () => {
    fs.writeFileSync(path.join(host, 'mine'), '')
    expect((await sh(runtime, 'ls /srv/content', { volumes: [`${host}:/srv/content`] })).out).toBe('mine\n')
    expect((await sh(runtime, 'cat /srv/content/image-file')).out).toBe('image content\n')
    expect(fs.readdirSync(host)).toEqual(['mine'])
  })

  test('-v creates a missing host directory; mounts refuses a missing source (ENOTFOUND)', async () => {
    const missing = path.join(host, 'made/by/docker-v')
    expect((await sh(runtime, 'echo ok > /m/f && cat /m/f', { volumes: [`${missing}:/m`] })).out).toBe('ok\n')
    expect(fs.readFileSync(path.join(missing, 'f'), 'utf8')).toBe('ok\n')
    const absent = path.join(host, 'absent')
    await expect(run('mnt', ['true'], { runtime, mounts: [{ type: 'bind', source: absent, target: '/m' }] })).rejects.toMatchObject({ code: 'ENOTFOUND' })
    expect(fs.existsSync(absent)).toBe(false)
  })

  test('typed mounts: bind with readOnly', async () => {
    const r = await sh(runtime, 'touch /t/x; echo rc=$?', { mounts: [{ type: 'bind', source: host, target: '/t', readOnly: true }] })
    expect(r.out).toMatch(/Read-only file system\nrc=1\n$/)
  })

  test('bad specs are EINVALID naming the text, and leave no container behind', async () => {
    const before = (await Container.list({ runtime, all: true })).length
    await expect(run('mnt', ['true'], { runtime, volumes: ['/h:relative'] })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('/h:relative') })
    await expect(run('mnt', ['true'], { runtime, volumes: ['bad$name:/x'] })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('bad$name') })
    await expect(run('mnt', ['true'], { runtime, volumes: [`${host}:/x`], tmpfs: { '/x': '' } })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('duplicate') })
    expect((await Container.list({ runtime, all: true })).length).toBe(before)
  })

  test('inspect().mounts shows binds like Docker', async () => {
    const c = await run('mnt', ['true'], { runtime, volumes: [`${host}:/a:ro`, `${host}:/b`] })
    try {
      await c.wait()
      expect((await c.inspect()).mounts).toEqual([
        { type: 'bind', source: host, destination: '/a', mode: 'ro', rw: false },
        { type: 'bind', source: host, destination: '/b', mode: '', rw: true },
      ])
    } finally {
      await c.remove()
    }
  })
})
