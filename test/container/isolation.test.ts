import * as fs from 'node:fs'
import { execFileSync } from 'node:child_process'
import { run, type Runtime } from '../../lib'
import { mountFallbacks } from '../../lib/shim/spec'
import { childProcesses, commandLine, text, useRuntime } from '../helpers'
import { eventually } from '../network/helpers'

let runtime: Runtime

// No container pre-started: the 'none' test follows the spare shim's warm namespace into the next start.
useRuntime((r) => (runtime = r), { busybox: true, prestart: false })

async function output(cmd: string, opts: Record<string, unknown> = {}): Promise<string> {
  const c = await run('host', ['sh', '-c', cmd], { runtime, ...opts })
  await c.wait()
  const out = await text(c.logs())
  await c.remove()
  return out
}

const nsOf = (pid: number | string, kind: string) => fs.readlinkSync(`/proc/${pid}/ns/${kind}`)

/** A process's parent pid and its children of every state, zombies too (/proc/<pid>/task/<pid>/children). */
const parentOf = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1])
const allChildren = (pid: number) => fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').map(Number)

test('the old root helper of a start does not outlive its work: the shim reaps it, its one child is the program', async () => {
  const c = await run('host', ['sleep', '30'], { runtime, network: 'none' })
  const { pid } = (await c.inspect()).state
  const shim = parentOf(pid)
  // Ended within a few ms of the start; unreaped, it stayed the shim's zombie for the container's life.
  expect(await eventually(() => allChildren(shim).length === 1)).toBe(true)
  expect(allChildren(shim)).toEqual([pid])
  await c.remove({ force: true })
})

test('each namespace differs from the host, seen from outside', async () => {
  const c = await run('host', ['sleep', '30'], { runtime })
  const { state } = await c.inspect()
  for (const kind of ['pid', 'uts', 'ipc', 'mnt', 'net', 'cgroup']) expect(nsOf(state.pid, kind)).not.toBe(nsOf('self', kind))
  await c.remove({ force: true })
})

test('pid namespace: the command is PID 1 and sees only its own processes', async () => {
  const out = await output('echo $$; ls /proc | grep -c "^[0-9]"')
  const [pid, count] = out.trim().split('\n').map(Number)
  expect(pid).toBe(1)
  expect(count).toBeLessThanOrEqual(3)
})

test('uts and ipc namespaces: hostname and SysV IPC are private', async () => {
  expect(await output('hostname', { hostname: 'isolated' })).toBe('isolated\n')
  expect(execFileSync('hostname').toString()).not.toBe('isolated\n')
  // A segment made on the host is invisible inside; one made inside is invisible on the host.
  const hostShm = /Shared memory id: (\d+)/.exec(execFileSync('ipcmk', ['-M', '4096']).toString())![1]
  try {
    const keys = (table: string, column = 0) => table.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/)[column])
    expect(keys(fs.readFileSync('/proc/sysvipc/shm', 'utf8'), 1)).toContain(hostShm)
    const inside = await output('ipcmk -M 8192 >/dev/null && cat /proc/sysvipc/shm')
    expect(inside.trim().split('\n')).toHaveLength(2) // the header and its own segment only
    const [insideKey] = keys(inside)
    expect(keys(fs.readFileSync('/proc/sysvipc/shm', 'utf8'))).not.toContain(insideKey)
  } finally {
    execFileSync('ipcrm', ['-m', hostShm])
  }
})

test('net namespace "none": only lo, up, and no routes', async () => {
  const out = await output('ls /sys/class/net; cat /sys/class/net/lo/operstate /proc/net/route | head -3', { network: 'none' })
  expect(out.split('\n')[0]).toBe('lo')
  expect(out).not.toMatch(/eth0/)
  expect(out.split('\n').filter((l) => /^\w+\t/.test(l) && !l.startsWith('Iface'))).toEqual([])
})

test('net "none": each container has a namespace of its own, which the spare shim made before the start and nothing else shares', async () => {
  const hostNet = nsOf('self', 'net')
  const started = [await run('host', ['sleep', '30'], { runtime, network: 'none' }), await run('host', ['sleep', '30'], { runtime, network: 'none' })]
  try {
    const programs = await Promise.all(started.map(async (c) => (await c.inspect()).state.pid))
    const shims = programs.map((pid) => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]))
    const nets = programs.map((pid) => nsOf(pid, 'net'))
    expect(new Set([hostNet, ...nets]).size).toBe(3)
    // The spare shim waiting for the next start already sits in a fresh namespace, which the next 'none' container gets.
    // It makes that namespace once spawned, so it may still be in the host's for a moment.
    let warm = hostNet
    await eventually(() => {
      // A run shim of ours that no container has: not the zygote, which forks them and stays in the host's namespace.
      const spare = childProcesses(process.pid).find(([pid, comm]) => comm === 'mc-shim' && !shims.includes(pid) && commandLine(pid).startsWith('mc-shim run'))?.[0]
      try {
        warm = spare ? nsOf(spare, 'net') : hostNet
      } catch {
        warm = hostNet // gone meanwhile
      }
      return warm !== hostNet
    }, 15_000)
    expect([hostNet, ...nets]).not.toContain(warm)
    const next = await run('host', ['sh', '-c', 'readlink /proc/self/ns/net; ls /sys/class/net; cat /sys/class/net/lo/operstate'], { runtime, network: 'none' })
    await next.wait()
    expect(await text(next.logs())).toBe(`${warm}\nlo\nunknown\n`)
    await next.remove()
  } finally {
    for (const c of started) await c.remove({ force: true })
  }
})

test('the default network is the bridge: eth0 with an address and a default route', async () => {
  const c = await run('host', ['sleep', '30'], { runtime })
  const { networkSettings } = await c.inspect()
  expect(networkSettings.ipAddress).toMatch(/^\d+\.\d+\.\d+\.2$/)
  expect(networkSettings.networks.bridge.gateway).toBe(networkSettings.gateway)
  const inside = await c.exec(['sh', '-c', 'ls /sys/class/net; cat /proc/net/route'])
  expect(inside.stdout).toContain('eth0')
  expect(inside.stdout).toMatch(/^eth0\t00000000\t/m)
  await c.remove({ force: true })
})

test('dns and extraHosts end up in /etc/resolv.conf and /etc/hosts; ports are refused without a network', async () => {
  const out = await output('cat /etc/resolv.conf; grep db /etc/hosts', { network: 'none', dns: ['10.213.99.53'], extraHosts: ['db:10.213.99.5'] })
  expect(out).toBe('nameserver 10.213.99.53\n10.213.99.5\tdb\n')
  await expect(run('host', ['true'], { runtime, network: 'none', ports: ['8080:80'] })).rejects.toMatchObject({ code: 'EINVALID' })
  await expect(run('host', ['true'], { runtime, extraHosts: ['bad entry'] })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('bad entry') })
})

test('net "host": sees the host interfaces', async () => {
  // Other test files create and delete their own mc*/veth links meanwhile: compare the stable ones.
  const stable = (names: string[]) => names.filter((n) => !/^(mc|veth)/.test(n)).sort()
  const hostIfs = stable(fs.readdirSync('/sys/class/net'))
  const out = await output('ls /sys/class/net; readlink /proc/self/ns/net', { network: 'host' })
  const lines = out.trim().split('\n')
  // The host's own network namespace (a VM lane guest has lo alone, so the names alone prove little).
  expect(lines.pop()).toBe(fs.readlinkSync('/proc/self/ns/net'))
  expect(stable(lines)).toEqual(hostIfs)
})

test('mount namespace: the root is the overlay, mounts do not leak to the host', async () => {
  const c = await run('host', ['sh', '-c', 'mkdir -p /mnt/x && mount -t tmpfs t /mnt/x 2>&1; cat /proc/self/mountinfo; sleep 30'], { runtime, capAdd: ['SYS_ADMIN'] })
  const { graphDriver } = await c.inspect()
  let mountinfo = ''
  for (let i = 0; i < 100 && !mountinfo.includes('/dev/pts'); i++) {
    mountinfo = await text(c.logs())
    await new Promise((r) => setTimeout(r, 20))
  }
  expect(mountinfo).toMatch(/ \/ \/ \S+ - overlay overlay /)
  expect(mountinfo).toContain(' /mnt/x ')
  // The host's tree that pivot_root stacked on the root was detached before the program ran (by the
  // shim's helper, or by the child itself): one mount at /, and every other one hangs from the overlay.
  const mounts = mountinfo.trim().split('\n').map((l) => l.split(' '))
  const atRoot = mounts.filter((f) => f[4] === '/')
  expect(atRoot.map((f) => f.slice(f.indexOf('-') + 1, f.indexOf('-') + 2))).toEqual([['overlay']])
  const ids = new Set(mounts.map((f) => f[0]))
  expect(mounts.filter((f) => f !== atRoot[0] && !ids.has(f[1])).map((f) => f[4])).toEqual([])
  const host = fs.readFileSync('/proc/self/mountinfo', 'utf8')
  expect(host).not.toContain(graphDriver.data.mergedDir)
  // Where the overlay is mounted now (one directory of the root for every container, each in its own namespace).
  expect(host).not.toContain(`${runtime.root}/rootfs-mount`)
  await c.remove({ force: true })
})

test('pre-6.8 path: the old root is told apart by its mount point, not by its mount id, which a masked path may take once it is freed', async () => {
  // mountFallbacks.force (test-only): the child watches mountinfo for the old root, as on 6.1 and 5.14. Its
  // mount id is not unique: freed after the helper's detach, it goes to the next mount (a masked path), and
  // a check by id alone waited for the helper's end and then detached the container's own root.
  mountFallbacks.force = true
  try {
    for (let round = 0; round < 12; round++) {
      const outs = await Promise.all([0, 1].map(() => output('cat /proc/self/mountinfo', { network: 'none' })))
      for (const out of outs) {
        const atRoot = out.trim().split('\n').map((l) => l.split(' ')).filter((f) => f[4] === '/')
        expect(atRoot.map((f) => f.slice(f.indexOf('-') + 1, f.indexOf('-') + 2))).toEqual([['overlay']])
      }
    }
  } finally {
    mountFallbacks.force = false
  }
})

test("Docker's default mounts, devices, masked and read-only paths", async () => {
  const out = await output(
    'ls /dev | tr "\\n" " "; echo; cat /proc/keys 2>&1 | wc -c; ls /sys/firmware | wc -l; ' +
      'echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo rofs; echo x > /sys/kernel/uevent_helper 2>/dev/null || echo sysro; ' +
      'readlink /dev/fd /dev/stdin /dev/ptmx; stat -c "%a %t,%T" /dev/null /dev/urandom; df -P /dev/shm | tail -1',
  )
  const lines = out.split('\n')
  for (const dev of ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'ptmx', 'pts', 'shm', 'mqueue', 'fd', 'stdin', 'stdout', 'stderr'])
    expect(lines[0].split(' ')).toContain(dev)
  expect(lines[1]).toBe('0')
  expect(lines[2]).toBe('0')
  expect(lines).toContain('rofs')
  expect(lines).toContain('sysro')
  expect(out).toContain('/proc/self/fd\n/proc/self/fd/0\npts/ptmx\n')
  expect(out).toContain('666 1,3\n666 1,9\n')
  expect(lines.find((l) => l.startsWith('shm'))).toMatch(/^shm\s+65536 /)
})

test('capabilities: Docker default set, capAdd, capDrop and privileged', async () => {
  const caps = async (opts: Record<string, unknown>) => (await output('grep CapEff /proc/self/status', opts)).trim().split('\t')[1]
  expect(await caps({})).toBe('00000000a80425fb')
  expect(BigInt('0x' + (await caps({ capAdd: ['NET_ADMIN'] })))).toBe(0xa80425fbn | (1n << 12n))
  expect(BigInt('0x' + (await caps({ capDrop: ['CHOWN', 'cap_kill'] })))).toBe(0xa80425fbn & ~1n & ~(1n << 5n))
  expect(await caps({ capDrop: ['ALL'] })).toBe('0000000000000000')
  expect(BigInt('0x' + (await caps({ privileged: true })))).toBeGreaterThan(0xa80425fbn)
  expect(await output('hostname foo 2>&1 || echo denied')).toMatch(/denied/)
})

test('overlay copy-on-write: a change in one container is invisible to another and to the image', async () => {
  const a = await run('bb', ['sh', '-c', 'echo changed > /etc/motd; rm /bin/wc; sleep 30'], { runtime })
  const b = await run('bb', ['sleep', '30'], { runtime })
  await new Promise((r) => setTimeout(r, 150))
  expect((await a.exec(['cat', '/etc/motd'])).stdout).toBe('changed\n')
  expect((await b.exec(['cat', '/etc/motd'])).stdout).toBe('from the image\n')
  expect((await b.exec(['ls', '/bin/wc'])).exitCode).toBe(0)
  const { graphDriver } = await a.inspect()
  const upper = graphDriver.data.upperDir
  expect(fs.readFileSync(`${upper}/etc/motd`, 'utf8')).toBe('changed\n')
  // The deletion is an overlay whiteout (a 0/0 character device) in the upper dir.
  const wh = fs.lstatSync(`${upper}/bin/wc`)
  expect(wh.isCharacterDevice() && wh.rdev === 0).toBe(true)
  const lower = graphDriver.data.lowerDir.split(':').at(-1)!
  expect(fs.readFileSync(`${lower}/etc/motd`, 'utf8')).toBe('from the image\n')
  expect(fs.readdirSync(upper).sort()).toEqual(['bin', 'etc'])
  await a.remove({ force: true })
  await b.remove({ force: true })
  expect(fs.existsSync(upper)).toBe(false)
})

test('read-only root: writes outside mounts fail with EROFS', async () => {
  const out = await output('touch /newfile 2>&1; echo ok > /dev/shm/x && cat /dev/shm/x', { readOnly: true })
  expect(out).toMatch(/Read-only file system/)
  expect(out).toContain('ok\n')
})

test("masked files are the container's own /dev/null: chmod inside never reaches the host's", async () => {
  const before = fs.statSync('/dev/null')
  const out = await output('chmod 600 /proc/keys /proc/timer_list 2>&1; stat -c "%a %t,%T" /proc/keys; stat -c %a /dev/null')
  expect(out).toMatch(/^600 1,3\n600\n$/)
  // The host's keeps its mode and owner. (Not its ctime: other programs on the host may touch it meanwhile.)
  const after = fs.statSync('/dev/null')
  expect(after.mode & 0o7777).toBe(0o666)
  expect([after.mode, after.uid, after.gid]).toEqual([before.mode, before.uid, before.gid])
})

test('stdin of the program and of exec is an empty pipe, not a host device', async () => {
  const c = await run('host', ['sh', '-c', 'stat -L -c %F /proc/self/fd/0; cat; sleep 30'], { runtime, network: 'none' })
  const ex = await c.exec(['sh', '-c', 'stat -L -c %F /proc/self/fd/0; cat'])
  expect(ex.stdout).toBe('fifo\n')
  for (let i = 0; i < 50 && !(await text(c.logs())).includes('fifo'); i++) await new Promise((r) => setTimeout(r, 20))
  expect(await text(c.logs())).toBe('fifo\n')
  await c.remove({ force: true })
})

test("no fd of the shim's reaches the container's program or an exec'd one (ls's own directory is fd 3)", async () => {
  const c = await run('host', ['sh', '-c', 'ls /proc/self/fd; sleep 30'], { runtime, network: 'none' })
  const ex = await c.exec(['ls', '/proc/self/fd'])
  expect(ex.stdout).toBe('0\n1\n2\n3\n')
  for (let i = 0; i < 50 && !(await text(c.logs())).includes('3'); i++) await new Promise((r) => setTimeout(r, 20))
  expect(await text(c.logs())).toBe('0\n1\n2\n3\n')
  await c.remove({ force: true })
})
