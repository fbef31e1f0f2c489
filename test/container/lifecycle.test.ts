import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, run, type Runtime } from '../../lib'
import { sleep, text, useRuntime } from '../helpers'
import { useSubnets } from '../net-helpers'
import { nodeOutput, runNodeSync } from '../tools/node-child'

let runtime: Runtime

useRuntime((r) => (runtime = r), { busybox: true })

describe('run, wait and logs', () => {
  test('runs a command and reports its exit code', async () => {
    const c = await run('host', ['sh', '-c', 'echo hi; echo oops >&2; exit 3'], { runtime })
    expect(await c.wait()).toEqual({ exitCode: 3 })
    expect(await text(c.logs({ stderr: false }))).toBe('hi\n')
    expect(await text(c.logs({ stdout: false }))).toBe('oops\n')
    const info = await c.inspect()
    expect(info.state).toMatchObject({ status: 'exited', running: false, exitCode: 3 })
    expect(Date.parse(info.state.finishedAt)).toBeGreaterThanOrEqual(Date.parse(info.state.startedAt))
    await c.remove()
  })

  test('follows logs until the container exits', async () => {
    const c = await run('host', ['sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.1; done'], { runtime })
    const out = await text(c.logs({ follow: true }))
    expect(out).toBe('line1\nline2\nline3\n')
    await c.remove()
  })

  test('logs are still readable from a new handle after exit', async () => {
    const c = await run('host', ['echo', 'kept'], { runtime, name: 'logkeeper' })
    await c.wait()
    const again = await Container.get('logkeeper', { runtime })
    expect(await text(again.logs())).toBe('kept\n')
    await again.remove()
  })

  test('uses the image default command and the given env, workdir and hostname', async () => {
    const c = await run('host', ['sh', '-c', 'echo "$FOO $BAR $(pwd) $(hostname) $(cat /etc/hostname) $HOSTNAME"'], {
      runtime, env: { FOO: 'foo' }, workdir: '/srv/app/deep', hostname: 'box1',
    })
    await c.wait()
    expect(await text(c.logs())).toBe('foo  /srv/app/deep box1 box1 box1\n')
    await c.remove()
    const d = await run('host', ['sh', '-c', 'echo $A'], { runtime, env: ['A=list form'] })
    await d.wait()
    expect(await text(d.logs())).toBe('list form\n')
    await d.remove()
  })

  test('user by name and uid:gid', async () => {
    const c = await run('bb', ['sh', '-c', 'id -u; id -g; id -G; echo $HOME'], { runtime, user: 'app' })
    await c.wait()
    expect((await text(c.logs())).split('\n')).toEqual(['1000', '1000', '1000 50', '/home/app', ''])
    await c.remove()
    const d = await run('bb', ['sh', '-c', 'id -u; id -g; grep CapEff /proc/self/status'], { runtime, user: '4242:77' })
    await d.wait()
    expect(await text(d.logs())).toBe('4242\n77\nCapEff:\t0000000000000000\n')
    await d.remove()
  })
})

describe('exec', () => {
  test('runs inside the running container namespaces and root', async () => {
    const c = await run('host', ['sh', '-c', 'echo marker > /tmp/m; sleep 30'], { runtime, hostname: 'exectest', name: 'exec1' })
    for (let i = 0; i < 50 && (await c.exec(['cat', '/tmp/m'])).exitCode !== 0; i++) await sleep(20)
    const r = await c.exec(['sh', '-c', 'cat /etc/hostname /tmp/m; echo err >&2; ps -o pid= | sort -n | head -1 | tr -d " "; exit 4'])
    expect(r).toEqual({ exitCode: 4, stdout: 'exectest\nmarker\n1\n', stderr: 'err\n' })
    const env = await c.exec(['sh', '-c', 'echo $X $(pwd); id -u'], { env: { X: 'y' }, workdir: '/tmp', user: '123' })
    expect(env.stdout).toBe('y /tmp\n123\n')
    const stdin = await c.exec(['cat'], { stdin: 'fed through stdin' })
    expect(stdin.stdout).toBe('fed through stdin')
    const missing = c.exec(['no-such-binary'])
    await expect(missing).rejects.toMatchObject({ code: 'ESTART', message: expect.stringContaining('executable file not found') })
    await c.remove({ force: true })
  })
})

describe('stop, kill and signals', () => {
  test('stop sends SIGTERM and a handler can exit cleanly', async () => {
    const c = await run('host', ['sh', '-c', 'trap "exit 7" TERM; while true; do sleep 0.05; done'], { runtime })
    await sleep(100)
    expect(await c.stop({ timeout: 5 })).toEqual({ exitCode: 7 })
    await c.remove()
  })

  test('stop escalates to SIGKILL when PID 1 ignores SIGTERM', async () => {
    const c = await run('host', ['sleep', '30'], { runtime })
    const t0 = Date.now()
    expect(await c.stop({ timeout: 0.3 })).toEqual({ exitCode: 137, signal: 'SIGKILL' })
    expect(Date.now() - t0).toBeLessThan(10000)
    await c.remove()
  })

  test('kill delivers the given signal', async () => {
    const c = await run('host', ['sleep', '30'], { runtime, init: true })
    await c.kill('SIGTERM')
    // Under --init, the init forwards SIGTERM to sleep and exits 128+15.
    expect(await c.wait()).toEqual({ exitCode: 143 })
    await c.remove()
    const d = await run('host', ['sleep', '30'], { runtime })
    await d.kill('SIGKILL')
    expect(await d.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' })
    await d.remove()
  })

  test('init reaps zombies and runs the command as its child', async () => {
    const c = await run('host', ['sh', '-c', '(sleep 0.1 &) ; sleep 0.4; ps -eo pid,stat,comm'], { runtime, init: true })
    await c.wait()
    const ps = await text(c.logs())
    expect(ps).toMatch(/^\s*1 \S+\s+mc-shim$/m)
    expect(ps).not.toMatch(/ Z/)
    await c.remove()
  })
})

describe('lookup and listing', () => {
  test('get by name, full id and unique prefix; list running vs all', async () => {
    const a = await run('host', ['sleep', '30'], { runtime, name: 'finder' })
    const b = await run('host', ['true'], { runtime })
    await b.wait()
    expect((await Container.get('finder', { runtime })).id).toBe(a.id)
    expect((await Container.get(a.id, { runtime })).name).toBe('finder')
    expect((await Container.get(a.id.slice(0, 12), { runtime })).id).toBe(a.id)
    const running = (await Container.list({ runtime })).map((c) => c.id)
    const all = (await Container.list({ runtime, all: true })).map((c) => c.id)
    expect(running).toContain(a.id)
    expect(running).not.toContain(b.id)
    expect(all).toEqual(expect.arrayContaining([a.id, b.id]))
    await a.remove({ force: true })
    await b.remove()
    await expect(Container.get('finder', { runtime })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
  })

  test('create then start, and inspect shows the overlay layout', async () => {
    const c = await Container.create('host', ['sleep', '30'], { runtime })
    expect((await c.inspect()).state.status).toBe('created')
    await c.start()
    const info = await c.inspect()
    expect(info.state).toMatchObject({ status: 'running', running: true })
    expect(info.state.pid).toBeGreaterThan(1)
    expect(info.graphDriver.name).toBe('overlay')
    expect(info.graphDriver.data.upperDir).toContain(c.id)
    // The init layer over the image's one, as Docker lists its <id>-init layer over the image's.
    const lowers = info.graphDriver.data.lowerDir.split(':')
    expect(lowers).toHaveLength(2)
    expect(lowers[0]).toBe(path.join(runtime.root, 'layers', `init-${(fs.statSync(path.join(lowers[1], 'etc')).mode & 0o7777).toString(8)}`, 'diff'))
    expect(fs.readlinkSync(path.join(lowers[0], 'etc/mtab'))).toBe('/proc/mounts')
    await c.remove({ force: true })
  })

  test('rm: true removes the container once it exits', async () => {
    const c = await run('host', ['true'], { runtime, rm: true, name: 'ephemeral' })
    await c.wait()
    await expect(Container.get('ephemeral', { runtime })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
  })

  test('await using removes the container at the end of the scope', async () => {
    let id = ''
    {
      await using c = await run('host', ['sleep', '30'], { runtime })
      id = c.id
    }
    await expect(Container.get(id, { runtime })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
  })
})

describe('withFilesystem', () => {
  test("reaches a running and a stopped container's files, mounting nothing on the host", async () => {
    const fs = await import('node:fs')
    const c = await run('host', ['sh', '-c', 'echo live > /tmp/state; sleep 30'], { runtime })
    // Written once sh has run (100 ms was not always enough under qemu's emulation in the VM lane).
    const written = () => c.withFilesystem(async (root) => (fs.existsSync(`${root}/tmp/state`) ? fs.readFileSync(`${root}/tmp/state`, 'utf8') : undefined))
    let state = await written()
    for (let i = 0; i < 100 && state !== 'live\n'; i++, await sleep(100)) state = await written()
    expect(state).toBe('live\n')
    await c.stop({ timeout: 0 })
    const mountsBefore = fs.readFileSync('/proc/self/mountinfo', 'utf8')
    const seen = await c.withFilesystem(async (root) => {
      fs.writeFileSync(`${root}/tmp/added`, 'while stopped')
      return [fs.readFileSync(`${root}/tmp/state`, 'utf8'), fs.existsSync(`${root}/usr/bin`), fs.readFileSync('/proc/self/mountinfo', 'utf8') === mountsBefore]
    })
    expect(seen).toEqual(['live\n', true, true])
    await c.start()
    expect((await c.exec(['cat', '/tmp/added'])).stdout).toBe('while stopped')
    await c.remove({ force: true })
  })
})

describe('event loop', () => {
  test('a script that runs, waits for and removes a container is kept alive until each step completes', () => {
    const script = `const { run, Runtime } = lib();
      (async () => {
        const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)} })
        for (let i = 0; i < 3; i++) {
          const c = await run('host', ['sh', '-c', 'sleep 0.05'], { runtime })
          await c.wait()
          await c.remove()
        }
        console.log('completed')
      })()`
    expect(nodeOutput(script)).toBe('completed\n')
  })
})

const [debugPool] = useSubnets(1)

test('NODE_DEBUG=minicontainer prints the spec sent to the shim, its replies, netlink and nf_tables steps and cleanup', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-debug-'))
  const script = `
    const { Runtime, Image, run } = lib()
    ;(async () => {
      const runtime = new Runtime({ root: ${JSON.stringify(root)}, subnetPool: ['${debugPool.cidr}'] })
      await Image.fromHost({ runtime })
      const c = await run('host', ['true'], { runtime, network: 'bridge' })
      await c.wait(); await c.remove(); await runtime.close()
    })().catch((e) => { console.error(e); process.exit(1) })`
  const out = runNodeSync(script, { env: { NODE_DEBUG: 'minicontainer' } })
  fs.rmSync(root, { recursive: true, force: true })
  expect(out.status).toBe(0)
  for (const step of [/shim \d+ spec: /, /shim \d+ says: S \d+/, /shim \d+ says: X 0 0/, /rtnetlink: create veth/, /nf_tables batch /, /remove container /, /runtime .* closed/])
    expect(out.stderr).toMatch(step)
  const quiet = runNodeSync(script.replace(root, root + '-quiet'), { env: { NODE_DEBUG: '' } })
  fs.rmSync(root + '-quiet', { recursive: true, force: true })
  expect(quiet.status).toBe(0)
  expect(quiet.stderr).not.toMatch(/MINICONTAINER/)
})
