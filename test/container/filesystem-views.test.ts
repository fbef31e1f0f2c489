/**
 * Views of a stopped container's files (copyTo, copyFrom, getArchive...) and its start mount its
 * writable layer one at a time: overlayfs empties its workdir when it mounts, so a second mount of
 * the same upper and work dirs broke every later copy-up of the first with ENOENT (two copyTo's at
 * once into a stopped container: 30 of 60 failed; chaos.js: ESTART "mount target" /etc/hostname and
 * ESYSCALL "mkdirat .mc-cp-..." in copyTo).
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { finished } from 'node:stream/promises'
import { Container, type Runtime } from '../../lib'
import { sleep, useRuntime } from '../helpers'
import { spawnNode } from '../tools/node-child'

let runtime: Runtime
useRuntime((r) => (runtime = r))

let tmp: string
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-views-'))))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

async function until<T>(get: () => T | undefined, ms: number): Promise<T | undefined> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(20)) {
    const v = get()
    if (v !== undefined) return v
  }
  return get()
}

test("another process's copyTo waits for this process's view of the stopped container, and a file written through the view lands", async () => {
  const c = await Container.create('host', ['true'], { runtime, network: 'none', name: 'two-views' })
  const payload = path.join(tmp, 'payload.txt')
  fs.writeFileSync(payload, 'other\n')
  let out = ''
  const other = spawnNode(
    `const { Container, Runtime } = lib();
    const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)} })
    process.stdin.once('data', () =>
      Container.get('two-views', { runtime }).then((c) => (console.log('copying'), c.copyTo(${JSON.stringify(payload)}, '/'))).then(
        () => console.log('copied'),
        (err) => console.log('failed ' + err.code + ': ' + err.message),
      ),
    )`,
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  other.stdout!.on('data', (d) => (out += String(d)))
  try {
    let copiedMeanwhile: string | undefined
    await c.withFilesystem(async (root) => {
      other.stdin!.write('go\n')
      expect(await until(() => (out.includes('copying') ? true : undefined), 30_000)).toBe(true)
      // Time for the other copy to mount the layer beside this view, as it did without the lock.
      copiedMeanwhile = await until(() => /(copied|failed .*)\n/.exec(out)?.[1], 2000)
      // /tmp is a directory of the image: a file there is a copy-up, through this view's workdir.
      fs.writeFileSync(path.join(root, 'tmp', 'mine.txt'), 'mine\n')
    })
    expect(copiedMeanwhile).toBeUndefined()
    expect(await until(() => /(copied|failed .*)\n/.exec(out)?.[1], 30_000)).toBe('copied')
    expect((await c.statPath('/tmp/mine.txt')).size).toBe(5)
    expect((await c.statPath('/payload.txt')).size).toBe(6)
  } finally {
    other.kill('SIGKILL')
    await c.remove({ force: true })
  }
})

test('views of one stopped container in one process share its mount: a copyFrom while a getArchive stream is still open', async () => {
  const c = await Container.create('host', ['true'], { runtime, network: 'none' })
  try {
    const { stream } = await c.getArchive('/etc')
    const dest = path.join(tmp, 'passwd')
    await c.copyFrom('/etc/passwd', dest)
    expect(fs.readFileSync(dest, 'utf8')).toMatch(/^root:/)
    stream.resume()
    await finished(stream)
    await c.copyTo(dest, '/tmp')
    expect((await c.statPath('/tmp/passwd')).size).toBe(fs.statSync(dest).size)
  } finally {
    await c.remove({ force: true })
  }
})

test('a start waits for a view of the stopped container, and the view of a container that runs is its own root', async () => {
  const c = await Container.create('host', ['sleep', '60'], { runtime, network: 'none' })
  try {
    let started = false
    let start: Promise<void> | undefined
    await c.withFilesystem(async (root) => {
      start = c.start().then(() => void (started = true))
      await sleep(300)
      expect(started).toBe(false)
      fs.writeFileSync(path.join(root, 'tmp', 'before-start.txt'), 'x\n')
    })
    await start
    const { pid } = (await c.inspect()).state
    await c.withFilesystem(async (root) => expect(root).toBe(`/proc/${pid}/root`))
    expect((await c.exec(['cat', '/tmp/before-start.txt'])).stdout).toBe('x\n')
  } finally {
    await c.remove({ force: true })
  }
})

test('a start aborted while it waits for a view of the container is EABORTED, and leaves it startable', async () => {
  const c = await Container.create('host', ['sleep', '60'], { runtime, network: 'none' })
  try {
    const ac = new AbortController()
    let start: Promise<void> | undefined
    await c.withFilesystem(async () => {
      start = c.start({ signal: ac.signal })
      await sleep(200)
      ac.abort(new Error('changed my mind'))
      await expect(start).rejects.toMatchObject({ code: 'EABORTED' })
    })
    expect((await c.inspect()).state.status).toBe('created')
    await c.start()
    expect((await c.inspect()).state.running).toBe(true)
  } finally {
    await c.remove({ force: true })
  }
})
