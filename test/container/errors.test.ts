import * as fs from 'node:fs'
import * as path from 'node:path'
import { Container, MiniContainerError, Runtime, run } from '../../lib'
import { containerDirs, processesWith, text, useRuntime } from '../helpers'

let runtime: Runtime

// No container pre-started beside the failed starts: what is left is theirs (a failed claim's cleanup: prestart.test).
useRuntime((r) => (runtime = r), { prestart: false })

test('unknown image', async () => {
  await expect(run('no-such-image:1', ['true'], { runtime, pull: 'never' })).rejects.toMatchObject({ code: 'ENOIMAGE', message: expect.stringContaining('no-such-image:1') })
})

test('duplicate name', async () => {
  const a = await run('host', ['sleep', '30'], { runtime, name: 'dup' })
  const err = await run('host', ['true'], { runtime, name: 'dup' }).catch((e) => e)
  expect(err).toBeInstanceOf(MiniContainerError)
  expect(err).toMatchObject({ code: 'ENAMECONFLICT', message: expect.stringContaining('"dup"') })
  await a.remove({ force: true })
})

test("a name's file a killed claim left empty (or with part of an id): taken for a moment, as a claim under way, then free", async () => {
  for (const [name, left] of [['unwritten', ''], ['half-written', '3fa9c0']]) {
    const file = path.join(runtime.root, 'names', name)
    fs.writeFileSync(file, left)
    await expect(run('host', ['true'], { runtime, name })).rejects.toMatchObject({ code: 'ENAMECONFLICT' })
    const past = new Date(Date.now() - 5_000) // past the grace a claim's write gets
    fs.utimesSync(file, past, past)
    const c = await run('host', ['true'], { runtime, name })
    expect(await c.wait()).toEqual({ exitCode: 0 })
    expect(fs.readFileSync(file, 'utf8')).toBe(c.id)
    await c.remove()
    expect(fs.existsSync(file)).toBe(false)
  }
})

test('invalid name and invalid options', async () => {
  await expect(run('host', ['true'], { runtime, name: 'bad name!' })).rejects.toMatchObject({ code: 'EINVALID' })
  await expect(run('host', ['true'], { runtime, name: '-x' })).rejects.toMatchObject({ code: 'EINVALID' })
  await expect(run('host', ['true'], { runtime, env: ['NOEQUALS'] })).rejects.toMatchObject({ code: 'EINVALID' })
  await expect(run('host', ['true'], { runtime, capAdd: ['FLY'] })).rejects.toMatchObject({ code: 'EINVALID' })
  await expect(run('host', ['true'], { runtime, user: 'nosuchuser' })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('nosuchuser') })
  // A JavaScript caller's typo still fails at run time (TypeScript refuses it at compile time).
  // @ts-expect-error: not an option
  await expect(run('host', ['true'], { runtime, bogus: 1 })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('bogus') })
})

function leftovers(): { dirs: string[]; mounts: number } {
  return {
    dirs: containerDirs(runtime.root),
    mounts: fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(runtime.root)).length,
  }
}

test('command not found names the command; the failed start leaves nothing behind', async () => {
  const before = leftovers()
  const err = await run('host', ['definitely-not-a-program'], { runtime, name: 'notfound' }).catch((e) => e)
  expect(err).toMatchObject({ code: 'ESTART', step: 'exec', errno: 'ENOENT' })
  expect(err.message).toContain('executable file not found in $PATH: definitely-not-a-program')
  const abs = await run('host', ['/no/such/bin'], { runtime }).catch((e) => e)
  expect(abs).toMatchObject({ code: 'ESTART', message: expect.stringContaining('/no/such/bin') })
  expect(leftovers()).toEqual(before)
  await expect(Container.get('notfound', { runtime })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
  // No process left behind: no shim child of ours is a zombie or still has a container under it
  // (the one idle spare shim kept warm for the next start has neither, only its old-root helper,
  // native/old-root.c, which waits there for that start's child).
  const statusOf = (pid: string) => {
    try {
      return fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    } catch {
      return ''
    }
  }
  const pids = () => fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))
  const ppid = (status: string) => /^PPid:\s+(\d+)$/m.exec(status)?.[1]
  const strayShims = () => {
    const all = pids().map((pid) => ({ pid, status: statusOf(pid) }))
    const shims = all.filter((p) => /^Name:\s+mc-shim$/m.test(p.status) && ppid(p.status) === String(process.pid))
    const underShim = (s: { pid: string }) => all.some((p) => ppid(p.status) === s.pid && !/^Name:\s+mc-old-root$/m.test(p.status))
    return shims.filter((s) => /^State:\s+Z/m.test(s.status) || underShim(s)).map((s) => s.pid)
  }
  for (let i = 0; i < 100 && strayShims().length; i++) await new Promise((r) => setTimeout(r, 20))
  expect(strayShims()).toEqual([])
})

test('a non-existent workdir is created', async () => {
  const c = await run('host', ['pwd'], { runtime, workdir: '/does/not/exist/yet' })
  expect(await c.wait()).toEqual({ exitCode: 0 })
  expect(await text(c.logs())).toBe('/does/not/exist/yet\n')
  await c.remove()
})

test('removing a running container without force fails, with force succeeds', async () => {
  const c = await run('host', ['sleep', '30'], { runtime })
  await expect(c.remove()).rejects.toMatchObject({ code: 'ERUNNING', message: expect.stringContaining('force') })
  expect((await c.inspect()).state.running).toBe(true)
  await c.remove({ force: true })
  await expect(c.inspect()).rejects.toMatchObject({ code: 'ENOCONTAINER' })
})

test('stop of an exited container is a no-op; exec and kill need a running one', async () => {
  const c = await run('host', ['true'], { runtime })
  await c.wait()
  expect(await c.stop()).toEqual({ exitCode: 0 })
  await expect(c.exec(['true'])).rejects.toMatchObject({ code: 'ENOTRUNNING' })
  await expect(c.kill()).rejects.toMatchObject({ code: 'ENOTRUNNING' })
  await c.remove()
})

// A non-root caller is rootless by default (test/rootless/mode.test.ts); asking for the root mode is EPERM.
test('a non-root caller asking for rootless: false gets EPERM with a hint, and nothing is made', () => {
  fs.rmSync('/tmp/never-created-by-nobody', { recursive: true, force: true })
  process.seteuid!(65534)
  let err: unknown
  try {
    new Runtime({ root: '/tmp/never-created-by-nobody', rootless: false })
  } catch (e) {
    err = e
  } finally {
    process.seteuid!(0)
  }
  expect(err).toMatchObject({ code: 'EPERM', message: expect.stringMatching(/root/) })
  expect(fs.existsSync('/tmp/never-created-by-nobody')).toBe(false)
})

describe('AbortSignal', () => {
  test('an already aborted signal: EABORTED, and run() leaves no container', async () => {
    const before = leftovers()
    const err = await run('host', ['sleep', '31'], { runtime, name: 'aborted-early', signal: AbortSignal.abort() }).catch((e) => e)
    expect(err).toMatchObject({ code: 'EABORTED' })
    expect(err).toBeInstanceOf(MiniContainerError)
    expect(leftovers()).toEqual(before)
    await expect(Container.get('aborted-early', { runtime })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
  })

  test('aborted while the network is being set up: the start is undone (no veth, no address, no process)', async () => {
    const c = await Container.create('host', ['sleep', '32'], { runtime, name: 'aborted-net', network: 'bridge' })
    const ac = new AbortController()
    const starting = c.start({ signal: ac.signal })
    ac.abort(new Error('changed my mind'))
    const err = await starting.catch((e) => e)
    expect(err).toMatchObject({ code: 'EABORTED', cause: expect.objectContaining({ message: 'changed my mind' }) })
    expect((await c.inspect()).state.status).toBe('created')
    expect((await c.inspect()).networkSettings.ipAddress).toBe('')
    expect(processesWith('sleep\x0032')).toEqual([])
    // The container can still be started normally afterwards.
    await c.start()
    expect((await c.inspect()).state.running).toBe(true)
    await c.remove({ force: true })
  })

  test('aborted at any moment of run(): either it had started, or nothing of it is left', async () => {
    let undone = 0
    for (const delay of [0, 1, 2, 3, 5, 8]) {
      const before = leftovers()
      const name = `aborted-${delay}`
      const marker = `${33000 + delay}`
      const signal = AbortSignal.timeout(delay)
      const result = await run('host', ['sleep', marker], { runtime, name, signal, network: 'bridge' }).catch((e) => e)
      if (result instanceof Container) {
        await result.remove({ force: true })
        continue
      }
      undone++
      expect(result).toMatchObject({ code: 'EABORTED' })
      expect(leftovers()).toEqual(before)
      await expect(Container.get(name, { runtime })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
      for (let i = 0; i < 50 && processesWith(`sleep\x00${marker}`).length; i++) await new Promise((r) => setTimeout(r, 20))
      expect(processesWith(`sleep\x00${marker}`)).toEqual([])
    }
    expect(undone).toBeGreaterThan(0)
  })

  test('copyTo and putArchive cancelled through their signal are EABORTED, whatever reason the signal carries', async () => {
    const c = await run('host', ['sleep', '33'], { runtime, network: 'none' })
    const src = fs.mkdtempSync('/tmp/mc-abort-src-')
    try {
      for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(src, `f${i}`), 'x'.repeat(4096))
      // The default reason (a DOMException AbortError) and a caller's own reason.
      await expect(c.copyTo(src, '/tmp/in', { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'EABORTED' })
      const ac = new AbortController()
      ac.abort('not now')
      await expect(c.putArchive('/tmp', Buffer.alloc(1024), { signal: ac.signal })).rejects.toMatchObject({ code: 'EABORTED', cause: 'not now' })
    } finally {
      fs.rmSync(src, { recursive: true, force: true })
      await c.remove({ force: true })
    }
  })
})

test('a relative workdir is refused as Docker refuses it', async () => {
  await expect(run('host', ['true'], { runtime, workdir: 'rel' })).rejects.toMatchObject({
    code: 'EINVALID',
    message: "the working directory 'rel' is invalid, it needs to be an absolute path",
  })
})

test('a NUL byte in a command, env or exec argument is EINVALID, not a TypeError', async () => {
  await expect(run('host', ['echo', 'a\0b'], { runtime })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('NUL byte') })
  await expect(run('host', ['true'], { runtime, env: { X: 'a\0b' } })).rejects.toMatchObject({ code: 'EINVALID' })
  const c = await run('host', ['sleep', '30'], { runtime })
  const err = await c.exec(['echo', 'x\0y']).catch((e) => e)
  expect(err).toBeInstanceOf(MiniContainerError)
  expect(err).toMatchObject({ code: 'EINVALID' })
  await c.remove({ force: true })
})

test('a raw system error inside a public method reaches the caller as ESYSCALL with the original as cause', async () => {
  const c = await Container.create('host', ['true'], { runtime })
  // Break the container's directory behind the library's back: a non-empty directory where the exit file goes
  // makes the start's removal of a stale exit file fail with a raw fs error.
  const exit = path.join(runtime.root, 'containers', c.id, 'exit')
  fs.mkdirSync(path.join(exit, 'sub'), { recursive: true })
  const err = await c.start().catch((e) => e)
  expect(err).toBeInstanceOf(MiniContainerError)
  expect(err.code).toBe('ESYSCALL')
  expect(err.cause).toMatchObject({ syscall: expect.any(String) })
  fs.rmSync(exit, { recursive: true })
  await c.remove({ force: true })
})

test('a failure in the shim before the container process exists is a precise StartError too (one native error convention)', async () => {
  const c = await Container.create('host', ['true'], { runtime })
  const log = (await c.inspect()).logPath
  fs.rmSync(log, { force: true })
  fs.mkdirSync(log) // the shim cannot open a directory as the container's log
  const err = await c.start().catch((e) => e)
  expect(err).toMatchObject({ code: 'ESTART', step: 'open log', errno: 'EISDIR', detail: log })
  fs.rmdirSync(log)
  await c.remove({ force: true })
})
