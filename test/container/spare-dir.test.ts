/**
 * The container directory a runtime makes ahead for its next create (lib/container/spare-dir.ts):
 * the next create takes it whole (the same directory), with that container's own hostname, hosts and
 * resolv.conf; another is made; a create whose spare was collected meanwhile makes its directory
 * itself; close() removes it, and so does the process's exit; one left by a killed process is removed
 * by the next recovery.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Container, Image, run, type Runtime } from '../../lib'
import { sleep, tempRuntime, destroyRuntime, text } from '../helpers'
import { nodeOutput, runNodeSync } from '../tools/node-child'

let runtime: Runtime
beforeAll(async () => {
  runtime = tempRuntime('mc-spare-')
  await Image.fromHost({ runtime })
})
afterAll(() => destroyRuntime(runtime))

/** The spare directories in a root's containers/. */
function spares(root: string): string[] {
  return fs.readdirSync(path.join(root, 'containers')).filter((d) => d.startsWith('.creating-spare'))
}

/** What a spare holds once made. */
const spareEntries = ['hosts', 'resolv.conf', 'upper', 'work']

/** The path of the one spare of `root`, once it is made (on the threadpool, just after a create). */
async function spareOf(root: string): Promise<string> {
  const made = () => spares(root).length === 1 && fs.readdirSync(path.join(root, 'containers', spares(root)[0]!)).length === spareEntries.length
  for (let i = 0; i < 200 && !made(); i++) await sleep(10)
  expect(spares(root)).toHaveLength(1)
  const spare = path.join(root, 'containers', spares(root)[0]!)
  expect(fs.readdirSync(spare).sort()).toEqual(spareEntries)
  // Its last write's completion reaches the event loop at its next turn: only then is the spare the next create's.
  await sleep(20)
  return spare
}

test("the next create takes the spare whole, with its own hostname, hosts and resolv.conf, which its program sees; another spare is made", async () => {
  const first = await Container.create('host', ['true'], { runtime, network: 'none' })
  const spare = await spareOf(runtime.root)
  // Made under the name of a create under way (.creating-<...>-<pid>): collected as one if this process dies.
  expect(path.basename(spare)).toMatch(new RegExp(`^\\.creating-spare[0-9a-f]+-${process.pid}$`))
  const inode = fs.statSync(spare).ino
  // A hosts file other than the first container's, which the spare holds: written again.
  const c = await run('host', ['cat', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf'], { runtime, network: 'none', hostname: 'second', extraHosts: ['db:10.1.2.3'] })
  expect(await c.wait()).toEqual({ exitCode: 0 })
  const dir = path.join(runtime.root, 'containers', c.id)
  expect(fs.statSync(dir).ino).toBe(inode)
  expect(fs.existsSync(spare)).toBe(false)
  const file = (id: string, name: string) => fs.readFileSync(path.join(runtime.root, 'containers', id, name), 'utf8')
  expect(file(c.id, 'hostname')).toBe('second\n')
  expect(file(c.id, 'hosts')).toContain('10.1.2.3\tdb\n')
  expect(file(first.id, 'hosts')).not.toContain('10.1.2.3')
  expect(file(c.id, 'resolv.conf')).toBe(file(first.id, 'resolv.conf'))
  expect(await text(c.logs())).toBe(file(c.id, 'hostname') + file(c.id, 'hosts') + file(c.id, 'resolv.conf'))
  const info = await c.inspect()
  expect([info.hostnamePath, info.hostsPath, info.resolvConfPath]).toEqual(['hostname', 'hosts', 'resolv.conf'].map((f) => path.join(dir, f)))
  // The next spare holds the hosts of the create before it.
  const next = await spareOf(runtime.root)
  expect(next).not.toBe(spare)
  expect(fs.readFileSync(path.join(next, 'hosts'), 'utf8')).toBe(file(c.id, 'hosts'))
  await c.remove()
  await first.remove()
})

test('a create whose spare is gone (collected by a recovery elsewhere) makes its directory itself', async () => {
  fs.rmSync(await spareOf(runtime.root), { recursive: true })
  const c = await Container.create('host', ['true'], { runtime, network: 'none', hostname: 'own-dir' })
  const dir = path.join(runtime.root, 'containers', c.id)
  expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'hostname', 'hosts', 'resolv.conf', 'upper', 'work'])
  expect(fs.readFileSync(path.join(dir, 'hostname'), 'utf8')).toBe('own-dir\n')
  expect((await c.inspect()).config.hostname).toBe('own-dir')
  await spareOf(runtime.root)
  await c.remove()
})

test('close() removes the spare', async () => {
  const rt = tempRuntime('mc-spare-close-')
  try {
    await Image.fromHost({ runtime: rt })
    const c = await Container.create('host', ['true'], { runtime: rt, network: 'none' })
    await spareOf(rt.root)
    await c.remove()
    await rt.close()
    expect(spares(rt.root)).toEqual([])
  } finally {
    fs.rmSync(rt.root, { recursive: true, force: true })
  }
})

/** A child process that creates a container in `root`, waits until its spare is made, prints its pid and ends with `end`. */
function childMakingSpare(root: string, end: string): string {
  const containers = JSON.stringify(path.join(root, 'containers'))
  return `
    const fs = require('fs')
    const { Runtime, Container } = lib()
    const runtime = new Runtime({ root: ${JSON.stringify(root)} })
    const made = () => fs.readdirSync(${containers}).filter((d) => d.startsWith('.creating-spare')).some((d) => fs.readdirSync(${containers} + '/' + d).length === 4)
    Container.create('host', ['true'], { runtime, network: 'none' }).then(async () => {
      for (let i = 0; i < 200 && !made(); i++) await new Promise((r) => setTimeout(r, 10))
      await new Promise((r) => setTimeout(r, 50))
      console.log(process.pid)
      ${end}
    })`
}

test('a process that exits without close() takes its spare with it; one killed leaves it to the next recovery', async () => {
  const rt = tempRuntime('mc-spare-dead-')
  try {
    await Image.fromHost({ runtime: rt })
    nodeOutput(childMakingSpare(rt.root, 'process.exit(0)'))
    expect(spares(rt.root)).toEqual([])
    const killed = runNodeSync(childMakingSpare(rt.root, "process.kill(process.pid, 'SIGKILL')"))
    expect(killed.signal).toBe('SIGKILL')
    expect(spares(rt.root)).toEqual([expect.stringMatching(new RegExp(`-${killed.stdout.trim()}$`))])
    nodeOutput(`const { Runtime } = lib(); new Runtime({ root: ${JSON.stringify(rt.root)} }).ready().then(() => process.exit(0))`)
    expect(spares(rt.root)).toEqual([])
  } finally {
    await destroyRuntime(rt)
  }
})
