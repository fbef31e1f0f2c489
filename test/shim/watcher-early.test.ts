/**
 * The run shim starts its owner's watcher (a thread) and holds the container's mount namespace
 * while the child is still being set up, before the exec (native/shim.c run): the exit of a short
 * program is then seen without them in between. What that must not change: a running container's
 * shim has the watcher and holds the container's mount namespace (whose teardown would otherwise
 * delay the exit it reports). A failing start is unchanged: the shim still ends (Node also kills it).
 */
import * as fs from 'node:fs'
import { run, type Runtime } from '../../lib'
import { useRuntime } from '../helpers'

let runtime: Runtime

useRuntime((r) => (runtime = r), { busybox: true })

test("a running container's shim has its watcher thread and holds the container's mount namespace", async () => {
  const c = await run('bb:latest', ['sleep', '30'], { runtime, network: 'none' })
  try {
    const pid = (await c.inspect()).state.pid
    const shim = Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1])
    expect(fs.readdirSync(`/proc/${shim}/task`)).toHaveLength(2)
    const mnt = fs.readlinkSync(`/proc/${pid}/ns/mnt`)
    const held = fs.readdirSync(`/proc/${shim}/fd`).map((fd) => { try { return fs.readlinkSync(`/proc/${shim}/fd/${fd}`) } catch { return '' } })
    expect(held).toContain(mnt)
  } finally {
    await c.remove({ force: true })
  }
})
