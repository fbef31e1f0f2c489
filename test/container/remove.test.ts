/**
 * Removal: atomic for every reader, safe against a shim still writing into
 * the container's directory, and off the start path (rm: true).
 */
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Container, Runtime, run } from '../../lib'
import { useRuntime } from '../helpers'

let runtime: Runtime
useRuntime((r) => (runtime = r))

test('removing a container while another process keeps writing into its directory never fails and leaves no half container', async () => {
  for (let i = 0; i < 5; i++) {
    const c = await Container.create('host', ['true'], { runtime, name: `racing-${i}` })
    const dir = path.join(runtime.root, 'containers', c.id)
    // A writer standing in for a dying shim writing its exit file (write tmp + rename), as fast as it can.
    const writer = spawn('sh', ['-c', `while :; do echo 0 > "${dir}/exit.tmp" 2>/dev/null && mv "${dir}/exit.tmp" "${dir}/exit" 2>/dev/null; done`])
    await new Promise((r) => setTimeout(r, 30))
    await c.remove({ force: true })
    writer.kill('SIGKILL')
    await new Promise((r) => writer.once('exit', r))
    expect(fs.existsSync(dir)).toBe(false)
    expect((await Container.list({ runtime, all: true })).map((x) => x.name)).not.toContain(`racing-${i}`)
    await expect(Container.get(`racing-${i}`, { runtime })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
  }
})

test('rm: true — wait() resolves with the container gone; its files are deleted in the background', async () => {
  const c = await run('host', ['sh', '-c', 'dd if=/dev/zero of=/big bs=1M count=20 2>/dev/null'], { runtime, rm: true, name: 'auto-rm' })
  expect(await c.wait()).toEqual({ exitCode: 0 })
  expect(fs.existsSync(path.join(runtime.root, 'containers', c.id))).toBe(false)
  await expect(Container.get('auto-rm', { runtime })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
  const trash = path.join(runtime.root, 'trash')
  for (let i = 0; i < 100 && fs.readdirSync(trash).length; i++) await new Promise((r) => setTimeout(r, 20))
  expect(fs.readdirSync(trash)).toEqual([])
})

test('what a process that exits right after a removal leaves in trash/ is deleted by the next runtime', async () => {
  const trash = path.join(runtime.root, 'trash')
  fs.mkdirSync(path.join(trash, 'deadbeef.1.2/upper/deep'), { recursive: true })
  fs.writeFileSync(path.join(trash, 'deadbeef.1.2/upper/deep/file'), 'x')
  const next = new Runtime({ root: runtime.root })
  await next.ready()
  expect(fs.readdirSync(trash)).toEqual([])
  await next.close()
})
