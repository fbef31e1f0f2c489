/**
 * An exec that meets its container stopping says so (ENOTRUNNING), not the step the stop broke:
 * chaos.js's pokers saw ESTART "join namespaces" (ESRCH) and "fork" (ENOMEM, a pid namespace whose
 * init is exiting) from execs into containers another process was killing.
 */
import type { ChildProcess } from 'node:child_process'
import { run, type Runtime } from '../../lib'
import { processesWith, sleep, useRuntime } from '../helpers'
import { spawnNode } from '../tools/node-child'
import { holdAt } from '../tools/strace'

let runtime: Runtime
useRuntime((r) => (runtime = r))

async function until<T>(get: () => T | undefined, ms = 20_000): Promise<T> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(20)) {
    const v = get()
    if (v !== undefined) return v
  }
  throw new Error(`not within ${ms} ms`)
}

test('an exec whose container is killed while the exec joins it fails with ENOTRUNNING', async () => {
  const c = await run('host', ['sleep', '60'], { runtime, network: 'none', name: 'exec-meets-kill' })
  // The exec comes from another process, which strace (an observer, not the library) follows: its
  // exec shim is held 1.5 s at its first setns, the join of the container's namespaces.
  const execer = spawnNode(
    `const { Container, Runtime } = lib();
    const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)} })
    Container.get('exec-meets-kill', { runtime }).then((c) => {
      console.log('ready')
      process.stdin.once('data', () => c.exec(['true']).then(() => console.log('ran'), (err) => console.log('failed ' + err.code + ': ' + err.message)))
    })`,
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  let out = ''
  execer.stdout!.on('data', (d) => (out += String(d)))
  let tracer: ChildProcess | undefined
  try {
    await until(() => (out.includes('ready') ? true : undefined), 30_000)
    tracer = await holdAt(execer.pid!, 'setns', 1500)
    execer.stdin!.write('go\n')
    await until(() => (processesWith(`mc-shim\0exec\0${execer.pid}`).length ? true : undefined))
    await sleep(200) // into its held setns
    await c.kill('SIGKILL')
    await c.wait()
    expect(await until(() => /(ran|failed .*)\n/.exec(out)?.[1])).toMatch(/^failed ENOTRUNNING: /)
  } finally {
    tracer?.kill('SIGKILL')
    execer.kill('SIGKILL')
    await c.remove({ force: true })
  }
})
