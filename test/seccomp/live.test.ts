/**
 * Seccomp on the real kernel, probed from inside containers: system calls
 * are made by python3 through ctypes (the host image binds the host's
 * /usr), by util-linux and busybox programs, and by real services.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, run, type Runtime, type RunOptions } from '../../lib'
import { hostArch, syscallTable } from '../../lib/seccomp/arch'
import { text, useRuntime } from '../helpers'

let runtime: Runtime
let hasBusybox = false
useRuntime((rt, bb) => {
  runtime = rt
  hasBusybox = !!bb
}, { busybox: true })

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-seccomp-'))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

/** Runs a command to its end; returns exit code and output. */
async function sh(cmd: string, opts: RunOptions = {}, image = 'host'): Promise<{ exitCode: number; out: string }> {
  const c = await run(image, ['sh', '-c', cmd], { runtime, network: 'none', ...opts })
  const { exitCode } = await c.wait()
  const out = await text(c.logs())
  await c.remove()
  return { exitCode, out }
}

/** Probe: makes raw system calls and prints {label: errno} (0 = success). */
const probe = `
import ctypes, json, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_ulong(a) for a in args])
    return 0 if r >= 0 else ctypes.get_errno()
print(json.dumps({k: call(*v) for k, v in json.loads(sys.argv[1]).items()}))
`

const nr = (name: string) => {
  const n = syscallTable(hostArch()).get(name)
  if (n === undefined) throw new Error(`no ${name} on ${hostArch()}`)
  return n
}
const KEY_SPEC_SESSION_KEYRING = -3
const probes = {
  unshareUser: [nr('unshare'), 0x10000000],
  unshareMount: [nr('unshare'), 0x20000],
  mount: [nr('mount'), 0, 0, 0, 0, 0],
  keyctl: [nr('keyctl'), 0, KEY_SPEC_SESSION_KEYRING, 1], // KEYCTL_GET_KEYRING_ID, create
  addKey: [nr('add_key'), 0, 0, 0, 0, 0],
  requestKey: [nr('request_key'), 0, 0, 0, 0],
  bpf: [nr('bpf'), 0xffff, 0, 0],
  perfEventOpen: [nr('perf_event_open'), 0, 0, -1, -1, 0],
  clone3: [nr('clone3'), 0, 0],
  vsock: [nr('socket'), 40, 1, 0],
  inet: [nr('socket'), 2, 1, 0],
  getpid: [nr('getpid')],
}
type ProbeResult = Record<keyof typeof probes, number>
const EPERM = 1
const ENOSYS = 38

async function runProbe(opts: RunOptions = {}): Promise<ProbeResult> {
  const c = await run('host', ['python3', '-c', probe, JSON.stringify(probes)], { runtime, network: 'none', ...opts })
  const { exitCode } = await c.wait()
  const out = await text(c.logs())
  await c.remove()
  expect([exitCode, out]).toEqual([0, expect.stringContaining('{')])
  return JSON.parse(out) as ProbeResult
}

const statusLine = (status: string, key: string) => new RegExp(`^${key}:\\s*(\\S+)`, 'm').exec(status)?.[1]

describe('the default profile', () => {
  test('is installed: /proc/self/status shows a filter (mode 2)', async () => {
    const { exitCode, out } = await sh('cat /proc/self/status')
    expect(exitCode).toBe(0)
    expect(statusLine(out, 'Seccomp')).toBe('2')
    expect(statusLine(out, 'NoNewPrivs')).toBe('0')
  })

  test('refuses namespaces, mount, keys, bpf and perf; clone3 answers ENOSYS; AF_VSOCK refused, AF_INET not', async () => {
    const r = await runProbe()
    expect(r).toEqual({
      unshareUser: EPERM, unshareMount: EPERM, mount: EPERM, keyctl: EPERM, addKey: EPERM, requestKey: EPERM,
      bpf: EPERM, perfEventOpen: EPERM, clone3: ENOSYS, vsock: EPERM, inet: 0, getpid: 0,
    })
  })

  test('unshare -U, unshare -m and mount fail with "Operation not permitted"', async () => {
    const { out } = await sh('unshare -U true; echo "U=$?"; unshare -m true; echo "m=$?"; mkdir -p /mnt/t; mount -t tmpfs none /mnt/t; echo "mount=$?"; true', {})
    expect(out).toMatch(/U=1/)
    expect(out).toMatch(/m=1/)
    expect(out).toMatch(/mount=(?!0)/)
    expect(out).toMatch(/Operation not permitted/)
  })

  test('ptrace of another process is refused', async () => {
    // Docker's profile allows the ptrace call itself on kernels >= 4.8 (and so
    // do we: minKernel, see compile.test.ts); what stops tracing another
    // process is the kernel's access check without CAP_SYS_PTRACE, here a
    // process of another user (PID 1, root) traced by an exec as nobody.
    const c = await run('host', ['sleep', '30'], { runtime, network: 'none' })
    try {
      const attach = 'import ctypes; libc = ctypes.CDLL(None, use_errno=True); r = libc.ptrace(16, 1, 0, 0); print("attach", 0 if r == 0 else ctypes.get_errno())'
      expect((await c.exec(['python3', '-c', attach], { user: '65534' })).stdout.trim()).toBe(`attach ${EPERM}`)
      // process_vm_readv of PID 1's memory likewise.
      const read = 'import ctypes; libc = ctypes.CDLL(None, use_errno=True); b = ctypes.create_string_buffer(8); l = (ctypes.c_void_p * 2)(ctypes.cast(b, ctypes.c_void_p), 8); r = (ctypes.c_void_p * 2)(0x400000, 8); n = libc.process_vm_readv(1, l, 1, r, 1, 0); print("read", 0 if n >= 0 else ctypes.get_errno())'
      expect((await c.exec(['python3', '-c', read], { user: '65534' })).stdout.trim()).toBe(`read ${EPERM}`)
    } finally {
      await c.remove({ force: true })
    }
  })

  test('applies to exec too', async () => {
    const c = await run('host', ['sleep', '30'], { runtime, network: 'none' })
    try {
      const status = await c.exec(['cat', '/proc/self/status'])
      expect(statusLine(status.stdout, 'Seccomp')).toBe('2')
      const u = await c.exec(['unshare', '-U', 'true'])
      expect(u.exitCode).not.toBe(0)
      expect(u.stderr).toMatch(/Operation not permitted/)
      // A privileged exec gets all capabilities but keeps the container's filter, as with runc.
      const priv = await c.exec(['cat', '/proc/self/status'], { privileged: true })
      expect(statusLine(priv.stdout, 'Seccomp')).toBe('2')
    } finally {
      await c.remove({ force: true })
    }
  })

  test('a non-root user gets it too (installed before the identity change)', async () => {
    const { exitCode, out } = await sh('id -u; grep Seccomp: /proc/self/status', { user: '1000' })
    expect(exitCode).toBe(0)
    expect(out).toMatch(/^1000$/m)
    expect(statusLine(out, 'Seccomp')).toBe('2')
  })

  test('CAP_SYS_ADMIN opens the namespace calls, as in Docker', async () => {
    const r = await runProbe({ capAdd: ['SYS_ADMIN'] })
    expect(r.unshareMount).toBe(0)
    expect(r.clone3).not.toBe(ENOSYS)
  })
})

describe('ordinary programs work under the default profile', () => {
  test('busybox applets', async () => {
    expect(hasBusybox).toBe(true)
    const { exitCode, out } = await sh('ls / >/dev/null && echo hello | wc -c && mkdir -p /tmp/a/b && touch /tmp/a/b/f && ls /tmp/a/b && ps >/dev/null && id -u && hostname >/dev/null && echo ok', {}, 'bb')
    expect([exitCode, out.trim().split('\n')]).toEqual([0, ['6', 'f', '0', 'ok']])
  })

  test('python3 with threads (clone3 gets ENOSYS, glibc falls back to clone)', async () => {
    const { exitCode, out } = await sh(`python3 -c '
import threading, subprocess
out = []
ts = [threading.Thread(target=lambda i=i: out.append(i)) for i in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print(sorted(out), subprocess.run(["echo", "child"], capture_output=True, text=True).stdout.strip())'`)
    expect([exitCode, out.trim()]).toEqual([0, '[0, 1, 2, 3] child'])
  })

  test('redis-server answers PING', async () => {
    const c = await run('host', ['redis-server', '--port', '0', '--unixsocket', '/tmp/redis.sock', '--save', '', '--appendonly', 'no'], { runtime, network: 'none' })
    try {
      let reply = ''
      for (let i = 0; i < 50 && reply !== 'PONG'; i++) {
        reply = (await c.exec(['redis-cli', '-s', '/tmp/redis.sock', 'ping'])).stdout.trim()
        if (reply !== 'PONG') await new Promise((r) => setTimeout(r, 100))
      }
      expect(reply).toBe('PONG')
      expect((await c.exec(['redis-cli', '-s', '/tmp/redis.sock', 'set', 'k', 'v'])).stdout.trim()).toBe('OK')
    } finally {
      await c.remove({ force: true })
    }
  })

  test('nginx serves a page', async () => {
    const conf = `daemon off; pid /tmp/nginx.pid; error_log stderr;
events { worker_connections 16; }
http { access_log off; client_body_temp_path /tmp/cb; proxy_temp_path /tmp/px; fastcgi_temp_path /tmp/fc; uwsgi_temp_path /tmp/uw; scgi_temp_path /tmp/sc;
  server { listen 127.0.0.1:8080; location / { return 200 "served\\n"; } } }`
    const c = await run('host', ['sh', '-c', `mkdir -p /var/lib/nginx /var/log/nginx; printf '%s' '${conf}' > /tmp/nginx.conf; exec nginx -c /tmp/nginx.conf`], { runtime, network: 'none' })
    try {
      let body = ''
      for (let i = 0; i < 50 && body !== 'served'; i++) {
        const r = await c.exec(['python3', '-c', 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:8080/").read().decode().strip())'])
        body = r.stdout.trim()
        if (body !== 'served') await new Promise((r) => setTimeout(r, 100))
      }
      expect(body).toBe('served')
    } finally {
      await c.remove({ force: true })
    }
  })
})

describe('securityOpt', () => {
  test('seccomp=unconfined: no filter, unshare -U works again', async () => {
    const { exitCode, out } = await sh('grep Seccomp: /proc/self/status; unshare -U true && echo unshared', { securityOpt: ['seccomp=unconfined'] })
    expect(exitCode).toBe(0)
    expect(statusLine(out, 'Seccomp')).toBe('0')
    expect(out).toContain('unshared')
    const r = await runProbe({ securityOpt: ['seccomp=unconfined'] })
    expect(r.keyctl).toBe(0)
    expect(r.clone3).not.toBe(ENOSYS)
  })

  test('privileged turns the default profile off', async () => {
    const { out } = await sh('grep Seccomp: /proc/self/status', { privileged: true })
    expect(statusLine(out, 'Seccomp')).toBe('0')
  })

  test('a custom profile that denies mkdir makes mkdir fail with EPERM, and is kept in the record', async () => {
    const file = path.join(tmp, 'no-mkdir.json')
    fs.writeFileSync(file, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] }))
    const c = await Container.create('bb', ['sh', '-c', 'mkdir /tmp/d; echo "mkdir=$?"; touch /tmp/f && echo touched'], { runtime, network: 'none', securityOpt: [`seccomp=${file}`] })
    fs.rmSync(file) // read at create, as Docker does
    await c.start()
    expect((await c.wait()).exitCode).toBe(0)
    const out = await text(c.logs())
    expect(out).toMatch(/Operation not permitted/)
    expect(out).toContain('mkdir=1')
    expect(out).toContain('touched')
    expect((await c.inspect()).hostConfig.securityOpt?.[0]).toMatch(/^seccomp=\{"defaultAction":"SCMP_ACT_ALLOW"/)
    await c.remove()
  })

  test('a custom profile applies even to a privileged container, as in Docker', async () => {
    const profile = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] })
    const { out } = await sh('mkdir /tmp/d; echo "mkdir=$?"', { privileged: true, securityOpt: [`seccomp=${profile}`] }, 'bb')
    expect(out).toContain('mkdir=1')
  })

  test('no-new-privileges is visible in /proc/self/status, with the filter', async () => {
    const { out } = await sh('cat /proc/self/status', { securityOpt: ['no-new-privileges'] })
    expect(statusLine(out, 'NoNewPrivs')).toBe('1')
    expect(statusLine(out, 'Seccomp')).toBe('2')
    const c = await run('host', ['sleep', '30'], { runtime, network: 'none', securityOpt: ['no-new-privileges:true', 'seccomp=unconfined'] })
    try {
      const status = (await c.exec(['cat', '/proc/self/status'])).stdout
      expect([statusLine(status, 'NoNewPrivs'), statusLine(status, 'Seccomp')]).toEqual(['1', '0'])
    } finally {
      await c.remove({ force: true })
    }
  })

  test('bad options and profiles are EINVALID with the reason, and leave no container', async () => {
    const before = (await Container.list({ runtime, all: true })).length
    const bad = path.join(tmp, 'bad.json')
    fs.writeFileSync(bad, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_SOMETIMES' }] }))
    const notJson = path.join(tmp, 'not.json')
    fs.writeFileSync(notJson, 'defaultAction: allow')
    const cases: [string[], string][] = [
      [[`seccomp=${bad}`], 'unknown action "SCMP_ACT_SOMETIMES"'],
      [[`seccomp=${notJson}`], 'not valid JSON'],
      [[`seccomp=${path.join(tmp, 'missing.json')}`], 'ENOENT'],
      [['seccomp'], 'invalid securityOpt'],
      [['no-new-privileges=maybe'], 'not a boolean'],
      [['apparmor=docker-default'], 'AppArmor'],
    ]
    for (const [securityOpt, reason] of cases)
      await expect(run('host', ['true'], { runtime, network: 'none', securityOpt })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining(reason) })
    await expect(run('host', ['true'], { runtime, securityOpt: 'seccomp=unconfined' as unknown as string[] })).rejects.toMatchObject({ code: 'EINVALID' })
    expect((await Container.list({ runtime, all: true })).length).toBe(before)
  })
})
