/**
 * Input an attacker or a careless caller gives (issue 17): ids outside
 * Docker's range, option objects that are not objects, environment names
 * with "=", very long names. Each gets one coded error at once, or works.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, Image, Network, run, type Runtime } from '../../lib'
import { text, useRuntime } from '../helpers'
import { buildOciLayout } from '../image/oci-fixture'

let runtime: Runtime

useRuntime((r) => (runtime = r), { busybox: true })

const overflowing = ['4294967296', '4294967295', '0:4294967296', '99999999999', '2147483648', '1000:2147483648']
const rangeError = { code: 'EINVALID', message: expect.stringContaining('0-2147483647') }

async function output(c: Container): Promise<string> {
  expect(await c.wait()).toEqual({ exitCode: 0 })
  return (await text(c.logs())).trim()
}

/** The ids the container's program runs as, as `id` prints them: "uid gid". */
async function idsOf(user: string): Promise<string> {
  const c = await run('bb', ['sh', '-c', 'echo $(id -u) $(id -g)'], { runtime, network: 'none', user })
  try {
    return await output(c)
  } finally {
    await c.remove({ force: true })
  }
}

describe('uids and gids outside 0-2147483647 are EINVALID, never root', () => {
  test('run() and Container.create() refuse them at once, naming the value, and leave no container', async () => {
    for (const user of overflowing) {
      await expect(run('bb', ['id'], { runtime, network: 'none', user })).rejects.toMatchObject({ ...rangeError, message: expect.stringContaining(user) })
      await expect(Container.create('bb', ['id'], { runtime, network: 'none', user })).rejects.toMatchObject(rangeError)
    }
    await expect(run('bb', ['id'], { runtime, network: 'none', groupAdd: ['4294967296'] })).rejects.toMatchObject(rangeError)
    expect(await Container.list({ runtime, all: true })).toEqual([])
  })

  test('the largest id is accepted', async () => {
    expect(await idsOf('2147483647:2147483647')).toBe('2147483647 2147483647')
  })

  test('exec() refuses them; a valid exec user still works', async () => {
    const c = await run('bb', ['sleep', '30'], { runtime, network: 'none' })
    try {
      for (const user of overflowing) await expect(c.exec(['id', '-u'], { user })).rejects.toMatchObject(rangeError)
      expect((await c.exec(['sh', '-c', 'echo $(id -u) $(id -g)'], { user: '1000:50' })).stdout.trim()).toBe('1000 50')
    } finally {
      await c.remove({ force: true })
    }
  })

  test("an image whose User overflows, or whose /etc/passwd gives an overflowing uid, does not start", async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-uid-'))
    try {
      const [image] = await Image.load(buildOciLayout(work, ['--config.user', '4294967296']), { runtime })
      await expect(run(image.id, ['id'], { runtime, network: 'none' })).rejects.toMatchObject({ ...rangeError, message: expect.stringContaining('4294967296') })
      const passwd = { target: '/etc/passwd', content: 'root:x:0:0::/root:/bin/sh\nevil:x:4294967296:4294967296::/:/bin/sh\n' }
      await expect(run('bb', ['id'], { runtime, network: 'none', user: 'evil', files: [passwd] })).rejects.toMatchObject({ ...rangeError, message: expect.stringContaining('/etc/passwd') })
      expect(await Container.list({ runtime, all: true })).toEqual([])
      await image.remove()
    } finally {
      fs.rmSync(work, { recursive: true, force: true })
    }
  })

  test("owners of the files API: putArchive's chown and run's files refuse them", async () => {
    const c = await Container.create('bb', ['true'], { runtime, network: 'none' })
    try {
      const tar = await (await c.getArchive('/etc/motd')).stream.toArray()
      for (const chown of [{ uid: 4294967296, gid: 0 }, { uid: 0, gid: 4294967296 }, { uid: -1, gid: 0 }, { uid: 1.5, gid: 0 }])
        await expect(c.putArchive('/tmp', Buffer.concat(tar), { chown })).rejects.toMatchObject(rangeError)
      expect(fs.existsSync(path.join(await c.inspect().then((i) => i.graphDriver.data.upperDir), 'tmp/motd'))).toBe(false)
      await c.putArchive('/tmp', Buffer.concat(tar), { chown: { uid: 2147483647, gid: 7 } })
      expect(await c.statPath('/tmp/motd')).toBeDefined()
    } finally {
      await c.remove({ force: true })
    }
    await expect(run('bb', ['true'], { runtime, network: 'none', files: [{ target: '/f', content: 'x', uid: 4294967296 }] })).rejects.toMatchObject(rangeError)
  })
})

test('null or non-object options are EINVALID, not a TypeError or EINTERNAL', async () => {
  const invalid = { code: 'EINVALID', message: expect.stringContaining('must be an object') }
  // @ts-expect-error: a JavaScript caller's null
  await expect(run('bb', ['true'], null)).rejects.toMatchObject(invalid)
  // @ts-expect-error: a JavaScript caller's null
  await expect(Container.create('bb', ['true'], null)).rejects.toMatchObject(invalid)
  // @ts-expect-error: a string where the options go
  await expect(run('bb', ['true'], 'bb')).rejects.toMatchObject(invalid)
  const c = await run('bb', ['sleep', '30'], { runtime, network: 'none' })
  try {
    // @ts-expect-error: a JavaScript caller's null
    await expect(c.exec(['true'], null)).rejects.toMatchObject(invalid)
  } finally {
    await c.remove({ force: true })
  }
})

test('an environment name with "=" is EINVALID (it would set another variable)', async () => {
  const invalid = { code: 'EINVALID', message: expect.stringContaining('"A=B"') }
  await expect(run('bb', ['env'], { runtime, network: 'none', env: { 'A=B': 'x' } })).rejects.toMatchObject(invalid)
  await expect(run('bb', ['env'], { runtime, network: 'none', env: { '': 'x' } })).rejects.toMatchObject({ code: 'EINVALID' })
  const c = await run('bb', ['sleep', '30'], { runtime, network: 'none', env: { A: 'B=x' } })
  try {
    await expect(c.exec(['env'], { env: { 'A=B': 'x' } })).rejects.toMatchObject(invalid)
    // A value may hold "=": only names may not.
    expect((await c.exec(['sh', '-c', 'echo $A'])).stdout.trim()).toBe('B=x')
  } finally {
    await c.remove({ force: true })
  }
})

describe('names longer than a file name (Docker accepts them)', () => {
  const long = (prefix: string) => `${prefix}${'x'.repeat(300 - prefix.length)}`

  test('a 300-character container name works: run, get, a second one is ENAMECONFLICT, remove frees it', async () => {
    const name = long('c-')
    const c = await run('bb', ['sleep', '30'], { runtime, network: 'none', name })
    try {
      expect(c.name).toBe(name)
      expect((await Container.get(name, { runtime })).id).toBe(c.id)
      await expect(run('bb', ['true'], { runtime, network: 'none', name })).rejects.toMatchObject({ code: 'ENAMECONFLICT' })
      // A name sharing the first 255 characters is another name.
      const sibling = await Container.create('bb', ['true'], { runtime, network: 'none', name: `${name.slice(0, 299)}y` })
      expect(sibling.id).not.toBe(c.id)
      await sibling.remove()
    } finally {
      await c.remove({ force: true })
    }
    await expect(Container.get(name, { runtime })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
    const again = await Container.create('bb', ['true'], { runtime, network: 'none', name })
    await again.remove()
  })

  test('reuse with a 300-character name finds the same container', async () => {
    const name = long('r-')
    const first = await run('bb', ['sleep', '30'], { runtime, network: 'none', name, reuse: true })
    try {
      expect((await run('bb', ['sleep', '30'], { runtime, network: 'none', name, reuse: true })).id).toBe(first.id)
    } finally {
      await first.remove({ force: true })
    }
  })

  test('a 300-character network name works: create, a container on it, remove', async () => {
    const name = long('n-')
    const net = await Network.create(name, { runtime })
    try {
      await expect(Network.create(name, { runtime })).rejects.toMatchObject({ code: 'ENAMECONFLICT' })
      const c = await run('bb', ['sh', '-c', 'ip -4 -o addr show eth0 | wc -l'], { runtime, network: name, name: long('m-') })
      expect(await output(c)).toBe('1')
      await c.remove()
    } finally {
      await net.remove()
    }
    await expect(Network.get(name, { runtime })).rejects.toMatchObject({ code: 'ENONETWORK' })
  })
})
