/**
 * Device nodes (issue 17, point 1), compared with Docker (a private engine,
 * test/tools/docker-engine.ts). A container may mknod any device node and
 * find nodes in its image, but open only the devices of Docker's allow-list
 * (/dev/null, zero, full, random, urandom, tty, console, ptmx, pts and
 * net/tun); every other open is EPERM, for a node it made and for one its
 * image ships (here the host's kernel log, 1:11, opened for writing without
 * writing, and the host's loop0, opened read-only). A privileged container
 * may open them.
 *
 * The same image (a busybox tar with the two nodes in /devs) runs in Docker
 * and here, and the same script must print the same lines: on this host's
 * cgroup v1 devices controller, and on the v2 path (an eBPF device program)
 * through the v2 driver over the host's unified mount, as
 * test/cgroups/v2-live.test.ts does.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, Image, run, type Runtime } from '../../lib'
import { CgroupService } from '../../lib/cgroups'
import { detectLayout } from '../../lib/cgroups/layout'
import { busyboxRootfs, destroyRuntime, runOutput, tempRuntime, text } from '../helpers'
import { startPrivateDocker, type PrivateDocker } from '../tools/docker-engine'
import { countSyscalls } from '../tools/strace'

const ref = 'mc-devs-bb:1'
const hostLayout = detectLayout()
/** The host's cgroup2 mount: the hybrid's controller-less one here, /sys/fs/cgroup on a pure v2 host (the VM lane). */
const unified = hostLayout.name === 'v2' ? hostLayout.mountPoint : '/sys/fs/cgroup/unified'
/** The host has a v1 devices hierarchy; on a pure v2 host the "v1" runtime runs on the host's real v2 layout instead. */
const hasV1 = hostLayout.name === 'v1' || hostLayout.name === 'hybrid'

/**
 * The block device: loop0 (7:0), opened read-only, never read or written.
 * (This sandbox refuses even the host root an open of its disk, vda, so a
 * disk would not tell the device rules apart.) The host must be able to
 * open it, or an EPERM inside would prove nothing.
 */
const [loopMajor, loopMinor] = [7, 0]
function hostOpens(node: string, flags: string): void {
  fs.closeSync(fs.openSync(node, flags))
}

/** One line per case: "<case>: ok" or the shell's error (the same busybox prints the same text in both). */
const script = [
  'try() { if ( eval "$2" ) 2>/tmp/err; then echo "$1: ok"; else echo "$1: $(cat /tmp/err)"; fi; }',
  'try "mknod c 1:11" "busybox mknod /tmp/kmsg c 1 11"',
  'try "open c 1:11 for writing" ": > /tmp/kmsg"',
  'try "open c 1:11 for reading" ": < /tmp/kmsg"',
  'try "open c 1:11 read-write" ": <> /tmp/kmsg"',
  `try "mknod b ${loopMajor}:${loopMinor}" "busybox mknod /tmp/disk b ${loopMajor} ${loopMinor}"`,
  'try "open b loop0 for reading" ": < /tmp/disk"',
  'try "image node c 1:11 for writing" ": > /devs/kmsg"',
  'try "image node b loop0 for reading" ": < /devs/disk"',
  'try "mknod c 5:1 console, open" "busybox mknod /tmp/console c 5 1 && : < /tmp/console"',
  'try "mknod c 10:200 tun, open" "busybox mknod /tmp/tun c 10 200 && : < /tmp/tun"',
  'for d in null zero full random urandom ptmx; do try "open /dev/$d read-write" ": <> /dev/$d"; done',
  'try "open /dev/tty" ": < /dev/tty"',
  'try "write /dev/null" "echo hi > /dev/null"',
  'try "read /dev/urandom" "test $(head -c 16 /dev/urandom | wc -c) = 16"',
  'try "read /dev/zero" "test $(head -c 16 /dev/zero | wc -c) = 16"',
].join('\n')

/** The privileged case: the kernel log and loop0 open (for reading only). */
const privilegedScript = [
  'busybox mknod /tmp/kmsg c 1 11 && : < /tmp/kmsg && echo "c 1:11: ok"',
  `busybox mknod /tmp/disk b ${loopMajor} ${loopMinor} && : < /tmp/disk && echo "b loop0: ok"`,
  ': < /devs/kmsg && echo "image node: ok"',
].join('\n')

let engine: PrivateDocker
let v1: Runtime
let v2: Runtime
let v2Scope: string
let work: string

/** The busybox rootfs with /devs/kmsg (c 1:11) and /devs/disk (b 7:0), as a tar GNU tar made. */
function imageTar(): string {
  const root = path.join(work, 'root')
  busyboxRootfs(root)
  fs.mkdirSync(path.join(root, 'devs'))
  execFileSync('mknod', [path.join(root, 'devs/kmsg'), 'c', '1', '11'])
  execFileSync('mknod', [path.join(root, 'devs/disk'), 'b', String(loopMajor), String(loopMinor)])
  const tarball = path.join(work, 'image.tar')
  execFileSync('tar', ['-C', root, '--numeric-owner', '-cf', tarball, '.'])
  return tarball
}

beforeAll(async () => {
  hostOpens('/dev/loop0', 'r')
  hostOpens('/dev/kmsg', 'w')
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-devices-'))
  const tarball = imageTar()
  engine = await startPrivateDocker()
  await engine.ok(['import', '--change', 'CMD ["/bin/sh"]', tarball, ref], { timeoutMs: 60000 })
  v1 = tempRuntime()
  v2 = tempRuntime()
  v2Scope = `minicontainer-devtest-${path.basename(v2.root)}`
  // Only the layout is injected: the library's real v2 driver on the host's real cgroup2 mount.
  Object.assign(v2, { cgroups: new CgroupService(v2Scope, () => ({ name: 'v2', mountPoint: unified, controllers: new Set<string>(), ownPath: '/' })) })
  for (const runtime of [v1, v2]) await Image.import(tarball, { runtime, ref, config: { cmd: ['/bin/sh'] } })
}, 240000)

afterAll(async () => {
  await engine?.stop()
  for (const runtime of [v1, v2]) if (runtime) await destroyRuntime(runtime)
  if (v2Scope) expect(fs.existsSync(path.join(unified, v2Scope))).toBe(false)
  if (work) fs.rmSync(work, { recursive: true, force: true })
}, 60000)

const docker = (args: string[], cmd: string) => engine.ok(['run', '--rm', '--network', 'none', ...args, ref, 'sh', '-c', cmd])

test('Docker: mknod is allowed, opening a device off its allow-list is EPERM, the standard devices work', async () => {
  const out = await docker([], script)
  expect(out).toContain('mknod c 1:11: ok')
  expect(out).toMatch(/^open c 1:11 for writing: .*Operation not permitted$/m)
  expect(out).toMatch(/^image node b loop0 for reading: .*Operation not permitted$/m)
  expect(out).toContain('open /dev/null read-write: ok')
})

test.each([
  ['cgroup v1 (devices controller)', () => v1],
  ['cgroup v2 (eBPF device program)', () => v2],
])('%s: every device case gets what it gets in Docker', async (_layout, runtime) => {
  const expected = await docker([], script)
  expect(await runOutput(runtime(), ref, ['sh', '-c', script])).toBe(`${expected}\n`)
})

test.each([
  ['cgroup v1', () => v1],
  ['cgroup v2', () => v2],
])('%s: a privileged container opens the kernel log, loop0 and the image node, as in Docker', async (_layout, runtime) => {
  // Docker's --privileged cannot start on this host (its bounding set lacks CAP_SYS_RESOURCE, and runc
  // refuses a privileged container it cannot give every capability), so Docker gets privileged's device
  // rule, "a *:* rwm", through --device-cgroup-rule instead; the devices are what is compared.
  // (Reading the kernel log also needs CAP_SYSLOG, which privileged has.)
  const expected = await docker(['--device-cgroup-rule', 'a *:* rwm', '--cap-add', 'SYSLOG'], privilegedScript)
  expect(expected).toBe('c 1:11: ok\nb loop0: ok\nimage node: ok')
  const c = await run(ref, ['sh', '-c', privilegedScript], { runtime: runtime(), network: 'none', privileged: true })
  expect(await c.wait()).toEqual({ exitCode: 0 })
  expect(await text(c.logs())).toBe(`${expected}\n`)
  await c.remove()
})

;(hasV1 ? test : test.skip)("cgroup v1: the container's devices.list holds Docker's rules", async () => {
  const list = (out: string) => out.trim().split('\n').sort()
  const expected = list(await docker([], 'cat /sys/fs/cgroup/devices/devices.list'))
  expect(expected).toContain('c 1:3 rwm')
  expect(list(await runOutput(v1, ref, ['cat', '/sys/fs/cgroup/devices/devices.list']))).toEqual(expected)
})

test.each([
  ['cgroup v1', () => v1],
  ['cgroup v2', () => v2],
])('%s: deviceCgroupRules allow what they name, as --device-cgroup-rule does, and a bad rule is EINVALID', async (_layout, runtime) => {
  // Write-only: the kernel log opens for writing (nothing is written), not for reading and writing.
  const cmd = 'try() { if ( eval "$2" ) 2>/tmp/err; then echo "$1: ok"; else echo "$1: $(cat /tmp/err)"; fi; }\n'
    + 'try w ": > /devs/kmsg"\ntry rw ": <> /devs/kmsg"\ntry loop ": < /devs/disk"'
  const expected = await docker(['--device-cgroup-rule', 'c 1:11 w'], cmd)
  expect(expected).toMatch(/^w: ok\nrw: .*Operation not permitted\nloop: .*Operation not permitted$/)
  const c = await run(ref, ['sh', '-c', cmd], { runtime: runtime(), network: 'none', deviceCgroupRules: ['c 1:11 w'] })
  expect(await c.wait()).toEqual({ exitCode: 0 })
  expect(await text(c.logs())).toBe(`${expected}\n`)
  await c.remove()
  await expect(run(ref, ['true'], { runtime: runtime(), deviceCgroupRules: ['c 1:11 rwx'] })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('c 1:11 rwx') })
})

test('an exec, privileged or not, gets the container\'s device rules (as in Docker, where exec --privileged keeps the cgroup)', async () => {
  const c = await run(ref, ['sleep', '30'], { runtime: v1, network: 'none' })
  for (const privileged of [false, true]) {
    expect(await c.exec(['sh', '-c', ': > /devs/kmsg'], { privileged })).toMatchObject({ exitCode: 1, stderr: expect.stringContaining('Operation not permitted') })
  }
  await c.remove({ force: true })
})

/** The node's type, mode, owner and numbers, then which opens work ("ok" or the shell's error). */
const deviceScript = (node: string, opens: [label: string, redirect: string][]) => [
  'try() { if ( eval "$2" ) 2>/tmp/err; then echo "$1: ok"; else echo "$1: $(cat /tmp/err)"; fi; }',
  `stat -c '%n %F %a %u:%g %t:%T' ${node}`,
  ...opens.map(([label, redirect]) => `try "${label}" ": ${redirect} ${node}"`),
].join('\n')

/**
 * `--device` cases: loop0 and the kernel log read-only (nothing is ever written; reading the kernel
 * log needs CAP_SYSLOG as well), a host node of 1:3 owned 1234:5678 mode 640 at a new nested path.
 */
function deviceCases(): [devices: string[], script: string, docker: RegExp, capAdd?: string[]][] {
  const nullish = path.join(work, 'nullish')
  if (!fs.existsSync(nullish)) {
    execFileSync('mknod', ['-m', '640', nullish, 'c', '1', '3'])
    fs.chownSync(nullish, 1234, 5678)
  }
  return [
    [['/dev/loop0:/dev/xloop:r'], deviceScript('/dev/xloop', [['read', '<'], ['write', '>'], ['read-write', '<>']]),
      /^\/dev\/xloop block special file 600 0:0 7:0\nread: ok\nwrite: .*Operation not permitted\nread-write: .*Operation not permitted$/],
    [['/dev/kmsg:r'], deviceScript('/dev/kmsg', [['read', '<'], ['write', '>']]), /^\/dev\/kmsg character special file 644 0:0 1:b\nread: ok\nwrite: .*Operation not permitted$/, ['SYSLOG']],
    [[`${nullish}:/opt/deep/dir/nullish:rw`], `${deviceScript('/opt/deep/dir/nullish', [['read-write', '<>']])}\nls -ld /opt/deep /opt/deep/dir | cut -c1-10`,
      /^\/opt\/deep\/dir\/nullish character special file 640 1234:5678 1:3\nread-write: ok\ndrwxr-xr-x\ndrwxr-xr-x$/],
  ]
}

test.each([
  ['cgroup v1', () => v1],
  ['cgroup v2', () => v2],
])('%s: devices make the host node (type, numbers, mode, owner) where asked and allow what its permissions say, as --device does', async (_layout, runtime) => {
  for (const [devices, cmd, dockerSays, capAdd = []] of deviceCases()) {
    const expected = await docker([...devices.flatMap((d) => ['--device', d]), ...capAdd.flatMap((c) => ['--cap-add', c])], cmd)
    expect(expected).toMatch(dockerSays)
    const c = await run(ref, ['sh', '-c', cmd], { runtime: runtime(), network: 'none', devices, capAdd })
    expect(await c.wait()).toEqual({ exitCode: 0 })
    expect(await text(c.logs())).toBe(`${expected}\n`)
    await c.remove()
  }
})

test('devices are recorded in inspect().hostConfig as Docker records them (string and object forms)', async () => {
  const given = ['/dev/loop0:/dev/xloop:r', '/dev/kmsg:w', '/dev/null', '/dev/zero:/dev/z']
  const id = await engine.ok(['create', ...given.flatMap((d) => ['--device', d]), ref, 'true'])
  const recorded = JSON.parse(await engine.ok(['inspect', '-f', '{{json .HostConfig.Devices}}', id])) as Record<string, string>[]
  await engine.ok(['rm', id])
  const expected = recorded.map((d) => ({ pathOnHost: d.PathOnHost, pathInContainer: d.PathInContainer, cgroupPermissions: d.CgroupPermissions }))
  expect(expected[0]).toEqual({ pathOnHost: '/dev/loop0', pathInContainer: '/dev/xloop', cgroupPermissions: 'r' })
  const objects = [{ pathOnHost: '/dev/loop0', pathInContainer: '/dev/xloop', cgroupPermissions: 'r' }, { pathOnHost: '/dev/kmsg', cgroupPermissions: 'w' }, { pathOnHost: '/dev/null' }, { pathOnHost: '/dev/zero', pathInContainer: '/dev/z' }]
  for (const devices of [given, objects]) {
    const c = await Container.create(ref, ['true'], { runtime: v1, devices })
    expect((await c.inspect()).hostConfig.devices).toEqual(expected)
    await c.remove()
  }
})

test.each([
  ['a missing host path', '/dev/mc-no-such-device', /device \/dev\/mc-no-such-device: ENOENT on the host; give the path of an existing device node/],
  ['a regular file', '/etc/hostname', /device \/etc\/hostname is not a character or block device on the host/],
  ['a directory', '/dev/', /not a character or block device on the host \(a directory\)/],
  ['permissions beyond rwm', '/dev/loop0:/dev/xloop:rwx', /permissions "rwx" must be a non-empty subset of "rwm"/],
  ['a repeated permission', { pathOnHost: '/dev/loop0', cgroupPermissions: 'rr' }, /permissions "rr" must be a non-empty subset of "rwm"/],
  ['empty permissions', { pathOnHost: '/dev/loop0', cgroupPermissions: '' }, /permissions "" must be a non-empty subset/],
  ['a relative container path', '/dev/loop0:xloop', /the container path "xloop" must be an absolute path/],
  ['the root as container path', '/dev/loop0:/:r', /the container path cannot be the root/],
  ['too many parts', '/dev/loop0:/dev/x:r:w', /too many ':'/],
  ['no host path', { pathInContainer: '/dev/x' }, /the form is/],
])('devices: %s is EINVALID at create, saying what to fix, and nothing is made', async (_case, device, message) => {
  const before = (await Container.list({ runtime: v1, all: true })).length
  await expect(Container.create(ref, ['true'], { runtime: v1, devices: [device as string] })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringMatching(message) })
  expect(await Container.list({ runtime: v1, all: true })).toHaveLength(before)
})

/** How many fds of this process are loaded BPF programs. */
function bpfProgramFds(): number {
  return fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:bpf-prog'
    } catch {
      return false // the directory's own fd, closed meanwhile
    }
  }).length
}

test('cgroup v2: the device program is loaded once per rule set and attached to each container; the runtime closes it', async () => {
  // No container pre-started in the background: the attaches counted are the starts' own.
  const runtime = tempRuntime('mc-test-', { prestart: false })
  const scope = `minicontainer-devprog-${path.basename(runtime.root)}`
  Object.assign(runtime, { cgroups: new CgroupService(scope, () => ({ name: 'v2', mountPoint: unified, controllers: new Set<string>(), ownPath: '/' })) })
  const before = bpfProgramFds()
  try {
    await Image.import(path.join(work, 'image.tar'), { runtime, ref, config: { cmd: ['/bin/sh'] } })
    const start = async (opts: { deviceCgroupRules?: string[] } = {}) => {
      const c = await run(ref, ['sh', '-c', '(: > /devs/kmsg) 2>/dev/null && echo opened || echo refused'], { runtime, network: 'none', ...opts })
      expect(await c.wait()).toEqual({ exitCode: 0 })
      const out = await text(c.logs())
      await c.remove()
      return out.trim()
    }
    expect(await start()).toBe('refused')
    // Two more with the same rules: one attach each (bpf(BPF_PROG_ATTACH)), no load (bpf(BPF_PROG_LOAD)).
    const counts = await countSyscalls(process.pid, ['bpf'], async () => {
      expect(await start()).toBe('refused')
      expect(await start()).toBe('refused')
    })
    expect(counts.bpf).toBe(2)
    // Other rules, another program: the rules of each container are its own.
    expect(await start({ deviceCgroupRules: ['c 1:11 w'] })).toBe('opened')
    expect(await start()).toBe('refused')
    expect(bpfProgramFds()).toBe(before + 2)
  } finally {
    await destroyRuntime(runtime)
  }
  // Closed with the runtime (the containers' cgroups held them while they ran).
  expect(bpfProgramFds()).toBe(before)
})
