/**
 * A build process killed mid-build (SIGKILL, as a jest worker's timeout
 * kills it) leaves no temporary files on the root once the next runtime
 * starts there: its bind copies (from= a stage, rw of the context) and its
 * URL download in progress go; a live build's files stay. So does the
 * tmpfs directory of a secret whose RUN had not started yet.
 */
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as path from 'node:path'
import type { AddressInfo } from 'node:net'
import { Container, Image, Runtime } from '../../lib'
import { scratchPath } from '../../lib/builder/build-scratch'
import { makeSecretDir } from '../../lib/builder/secret-files'
import { sleep, useRuntime } from '../helpers'
import { useBuildContexts } from '../tools/build-context'
import { spawnNode } from '../tools/node-child'

jest.setTimeout(120_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true, hostImage: false })
const context = useBuildContexts('mc-build-killed-')

/** Polls `done` until it holds (ready() removes dead builds' files right after it resolves); throws past 10 s. */
async function eventually(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not removed within 10 s: ${what}`)
    await sleep(20)
  }
}

/** What <root>/tmp holds: its files, and the entries of its directories as "dir/name". */
function tmpEntries(root: string): string[] {
  const tmp = path.join(root, 'tmp')
  if (!fs.existsSync(tmp)) return []
  return fs.readdirSync(tmp).flatMap((d) => (fs.statSync(path.join(tmp, d)).isDirectory() ? fs.readdirSync(path.join(tmp, d)).map((n) => `${d}/${n}`) : [d]))
}

test('the bind copies and the URL download of a SIGKILLed build are removed at the next runtime start; a live build keeps its own', async () => {
  // A server that sends part of the file and then stalls: the download stays in progress.
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-length': '1000000' })
    res.write('x'.repeat(1000))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  const ctx = context({ 'conf/a.txt': 'context file\n' })
  // Two independent stages, built side by side: one downloading, one in a RUN with its binds.
  const df = [
    'FROM bb AS files',
    'RUN mkdir /out && echo x > /out/a',
    'FROM bb AS fetch',
    `ADD http://127.0.0.1:${port}/big /big`,
    'FROM bb AS runner',
    'RUN --mount=type=bind,from=files,source=/out,target=/m --mount=type=bind,source=conf,target=/c,rw sleep 600',
    'FROM bb',
    'COPY --from=fetch /big /big',
    'COPY --from=runner /etc/motd /motd',
    '',
  ].join('\n')
  const child = spawnNode(
    `const { Image, Runtime } = lib()
    const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)} })
    Image.build(${JSON.stringify(ctx)}, { runtime, network: 'none', dockerfile: { content: ${JSON.stringify(df)} } }).catch((e) => { console.error(e); process.exit(3) })`,
    { stdio: 'inherit' },
  )
  const mine = scratchPath(runtime.root, 'bind') // this (live) process's own scratch, to keep
  fs.mkdirSync(mine)
  try {
    const mineRel = path.relative(path.join(runtime.root, 'tmp'), mine)
    const ofChild = () => tmpEntries(runtime.root).filter((e) => e !== mineRel)
    const deadline = Date.now() + 60_000
    while (!(ofChild().some((e) => e.includes('add-url-')) && ofChild().filter((e) => e.includes('bind-')).length === 2)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the child build did not reach its RUN and download: ${tmpEntries(runtime.root).join(', ')}`)
      await sleep(50)
    }
    child.kill('SIGKILL')
    await new Promise((r) => (child.signalCode !== null ? r(null) : child.once('exit', r)))
    expect(ofChild().length).toBe(3)

    const next = new Runtime({ root: runtime.root })
    await next.ready()
    await eventually(() => tmpEntries(runtime.root).length === 1, tmpEntries(runtime.root).join(', '))
    expect(tmpEntries(runtime.root)).toEqual([mineRel])
  } finally {
    child.kill('SIGKILL')
    server.closeAllConnections()
    server.close()
    fs.rmSync(path.dirname(mine), { recursive: true, force: true })
  }
})

test("the tmpfs secret directory of a build killed before its RUN started is removed at the next runtime start; a live build's stays", async () => {
  const live = makeSecretDir(false)
  // A process that ran and is gone, as a killed build's: its pid, with a start time it never had.
  const deadPid = spawnSync('true').pid!
  const dead = path.join(path.dirname(live), `minicontainer-secret-${deadPid}-1-AbCdEf`)
  fs.mkdirSync(dead, { mode: 0o700 })
  fs.writeFileSync(path.join(dead, 'secret'), 'left by a killed build', { mode: 0o400 })
  try {
    const next = new Runtime({ root: runtime.root })
    await next.ready()
    await eventually(() => !fs.existsSync(dead), dead)
    expect([fs.existsSync(dead), fs.existsSync(live)]).toEqual([false, true])
  } finally {
    for (const dir of [live, dead]) fs.rmSync(dir, { recursive: true, force: true })
  }
})

/**
 * Every path under `root` (as "rel/path"), but not inside the store's layers, which a RUN never adds to
 * before its step ends. A directory gone during the walk (trash/ is emptied in the background) lists nothing.
 */
function rootTree(root: string): string[] {
  const out: string[] = []
  const entries = (dir: string) => {
    try {
      return fs.readdirSync(dir, { withFileTypes: true })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
  }
  const walk = (rel: string) => {
    for (const e of entries(path.join(root, rel))) {
      const p = rel ? `${rel}/${e.name}` : e.name
      // Not the spare directory the runtime keeps made for its next create (spare-dir.ts): each create takes it and makes another.
      if (p.startsWith('containers/.creating-spare')) continue
      out.push(p)
      if (e.isDirectory() && !/^layers\/[^/]/.test(p) && p.split('/').length < 6) walk(p)
    }
  }
  walk('')
  return out.sort()
}

/** Whether a container of the test's runtime runs (a build's RUN). */
async function aContainerRuns(): Promise<boolean> {
  const all = await Container.list({ runtime, all: true })
  return (await Promise.all(all.map((c) => c.inspect().catch(() => undefined)))).some((i) => i?.state.running)
}

/** Mount points under `root`. */
function mountsUnder(root: string): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m?.startsWith(root + '/'))
}

test("a build SIGKILLed during a RUN leaves no throwaway image, container, upper dir, mount, scratch or lock file once the next runtime's ready() resolves", async () => {
  const ctx = context({})
  const images = async () => (await Image.list({ runtime })).map((i) => i.id).sort()
  // A build before makes what stays on a root once made (the init layer, the lock directories).
  await Image.build(ctx, { runtime, network: 'none', noCache: true, dockerfile: { content: 'FROM bb\nRUN true\n' } })
  const imagesBefore = await images()
  const treeBefore = rootTree(runtime.root)
  const child = spawnNode(
    `const { Image, Runtime } = lib()
    const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)} })
    Image.build(${JSON.stringify(ctx)}, { runtime, network: 'none', noCache: true, dockerfile: { content: 'FROM bb\\nRUN sleep 600\\n' } }).catch((e) => { console.error(e); process.exit(3) })`,
    { stdio: 'inherit' },
  )
  try {
    const deadline = Date.now() + 60_000
    while (!(await aContainerRuns())) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('the child build did not reach its RUN')
      await sleep(50)
    }
    expect((await images()).length).toBeGreaterThan(imagesBefore.length) // the RUN's throwaway image, as the test's premise
    child.kill('SIGKILL')
    await new Promise((r) => (child.signalCode !== null ? r(null) : child.once('exit', r)))

    const next = new Runtime({ root: runtime.root })
    await next.ready()
    const added = () => rootTree(runtime.root).filter((p) => !treeBefore.includes(p))
    await eventually(() => added().length === 0, 'what the killed build left').catch(() => {})
    expect(added()).toEqual([])
    expect(await images()).toEqual(imagesBefore)
    expect(await Container.list({ runtime, all: true })).toEqual([])
    expect(mountsUnder(runtime.root)).toEqual([])
  } finally {
    child.kill('SIGKILL')
  }
})

test('a build aborted by its signal during a RUN leaves no throwaway image, container, upper dir, mount, scratch or lock file once it rejects', async () => {
  const ctx = context({})
  await Image.build(ctx, { runtime, network: 'none', noCache: true, dockerfile: { content: 'FROM bb\nRUN true\n' } })
  const imagesBefore = (await Image.list({ runtime })).map((i) => i.id).sort()
  const treeBefore = rootTree(runtime.root)
  const abort = new AbortController()
  const build = Image.build(ctx, { runtime, network: 'none', noCache: true, signal: abort.signal, dockerfile: { content: 'FROM bb\nRUN sleep 600\n' } })
  const deadline = Date.now() + 30_000
  while (!(await aContainerRuns())) {
    if (Date.now() > deadline) throw new Error('the build did not reach its RUN')
    await sleep(20)
  }
  abort.abort()
  await expect(build).rejects.toMatchObject({ code: 'EABORTED' })
  // The container's files go from trash/ in the background, as any removed container's.
  const added = () => rootTree(runtime.root).filter((p) => !treeBefore.includes(p))
  await eventually(() => added().length === 0, 'what the aborted build left').catch(() => {})
  expect(added()).toEqual([])
  expect((await Image.list({ runtime })).map((i) => i.id).sort()).toEqual(imagesBefore)
  expect(await Container.list({ runtime, all: true })).toEqual([])
  expect(mountsUnder(runtime.root)).toEqual([])
})

test("an image carrying a dead build's throwaway label is kept when tagged (the user's), and collected when it is neither tagged nor used", async () => {
  const ctx = context({})
  // A pid above pid_max (2^22): no process has it, so the label names a dead build.
  const dockerfile = { content: 'FROM bb\nLABEL minicontainer.build.throwaway=4194305-1-deadbeef\nRUN echo a > /a\n' }
  const tagged = await Image.build(ctx, { runtime, network: 'none', tag: 'kept-throwaway:1', dockerfile })
  const loose = await Image.build(ctx, { runtime, network: 'none', noCache: true, dockerfile: { content: dockerfile.content.replace('echo a', 'echo b') } })
  const next = new Runtime({ root: runtime.root })
  await next.ready()
  const ids = async () => (await Image.list({ runtime })).map((i) => i.id)
  await eventually(() => !fs.existsSync(path.join(runtime.root, 'images', `${loose.id.replace(':', '-')}.json`)), 'the untagged labelled image')
  expect(fs.existsSync(path.join(runtime.root, 'images', `${tagged.id.replace(':', '-')}.json`))).toBe(true)
  expect(await ids()).toContain(tagged.id)
  expect(await ids()).not.toContain(loose.id)
  await (await Image.get('kept-throwaway:1', { runtime })).remove()
})
