/**
 * Runtime.preflight() and `minicontainer doctor`, for real: as root here, as
 * an ordinary user the test makes (useradd, a subordinate range, runuser),
 * and inside a container of ours, whose default seccomp profile (Docker's)
 * refuses user namespaces: there the report must say so and give Docker's fix.
 */
import * as fs from 'node:fs'
import { execFileSync } from 'node:child_process'
import { Runtime, run, type PreflightReport } from '../../lib'
import { formatReport } from '../../lib/cli/doctor'
import { nodeScript } from '../tools/node-child'
import { repoRoot } from '../tools/repo-root'
import { requireTool } from '../tools/registry'
import { makeUnprivilegedUser, type UnprivilegedUser } from '../tools/unprivileged-user'
import { text, useRuntime } from '../helpers'

/** Prints `minicontainer doctor --json` (the CLI's dispatcher, from the sources) and exits with its status. */
const doctorJson = `lib('cli/main').main(['doctor', '--json']).then((s) => { process.exitCode = s })`

function sysctl(name: string): string {
  return fs.readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim()
}

test('as root: user namespaces, overlay and the helpers are found; the sysctls are read as they are', async () => {
  const r = await Runtime.preflight()
  expect(r).toMatchObject({ ok: true, rootless: false, uid: 0, user: 'root' })
  expect(r.userNamespaces).toMatchObject({ ok: true, required: true })
  expect(r.overlayInUserNamespace).toMatchObject({ ok: true, required: true })
  expect(r.idMapHelpers).toMatchObject({ ok: true, found: expect.stringContaining('/usr/bin/newuidmap (setuid)') })
  expect(r.maxUserNamespaces.found).toBe(`user.max_user_namespaces = ${sysctl('user.max_user_namespaces')}`)
  expect(r.unprivilegedPortStart.found).toContain(`= ${sysctl('net.ipv4.ip_unprivileged_port_start')}`)
  expect(r.seccomp).toMatchObject({ ok: true, found: 'disabled' })
  // Every failed check carries its fix, and the human report shows it.
  for (const c of Object.values(r).filter((v) => typeof v === 'object')) if (!c.ok) expect(c.fix).toEqual(expect.any(String))
  expect(formatReport(r)).toMatch(/^ {2}ok {4}user namespaces +made one/m)
})

test("the egress helper tried first: slirp4netns before Debian 12's pasta, which loses simultaneous TCP closes, in doctor's report too", async () => {
  requireTool('pasta', 'passt')
  requireTool('slirp4netns', 'slirp4netns')
  // An observer: Debian 12's pasta names no release.
  const debian12 = /unknown version/.test(execFileSync('pasta', ['--version'], { encoding: 'utf8' }))
  const r = await Runtime.preflight()
  if (debian12) {
    expect(r.egressHelper).toEqual({ ok: true, required: false, found: expect.stringMatching(/^slirp4netns \(\/\S+\/slirp4netns\) first, then pasta: \/\S+\/pasta \("pasta unknown version": Debian 12's build, or as old\) loses simultaneous TCP closes/) })
    expect(formatReport(r)).toMatch(/^ {2}ok {4}egress helper +slirp4netns \(/m)
  } else {
    expect(r.egressHelper).toEqual({ ok: true, required: false, found: expect.stringMatching(/^pasta \(\/\S+\) first, then slirp4netns$/) })
  }
})

describe('as an ordinary user', () => {
  let user: UnprivilegedUser
  beforeAll(() => (user = makeUnprivilegedUser()))
  afterAll(() => user.remove())

  test('doctor --json reports rootless mode, a working user namespace and overlay, and its subordinate range', () => {
    const out = user.node(doctorJson)
    expect(out.stderr).toBe('')
    expect(out.status).toBe(0)
    const r = JSON.parse(out.stdout) as PreflightReport
    expect(r).toMatchObject({ ok: true, rootless: true, uid: user.uid, user: user.name })
    expect(r.userNamespaces.ok).toBe(true)
    expect(r.overlayInUserNamespace.ok).toBe(true)
    expect(r.subordinateUids).toMatchObject({ ok: true, ranges: [user.subids], source: 'libsubid' })
    expect(r.subordinateGids).toMatchObject({ ok: true, ranges: [user.subids], source: 'libsubid' })
    // /dev/net/tun is 0600 root here: the user cannot open it, and the report says how to let it.
    const tunOpen = (fs.statSync('/dev/net/tun').mode & 0o006) === 0o006
    expect(r.tunDevice).toMatchObject({ ok: tunOpen })
    if (!tunOpen) expect(r.tunDevice.fix).toContain('chmod 0666 /dev/net/tun')
    // Ports below ip_unprivileged_port_start need root.
    expect(r.unprivilegedPortStart.ok).toBe(sysctl('net.ipv4.ip_unprivileged_port_start') === '0')
  })

  test('a user namespace limit of 0 (set in a parent user namespace, not globally) is EUSERNS-class: cause max_user_namespaces and the sysctl fix', () => {
    // The limit is per user namespace: a namespace of the user's own takes 0, then runs node; the probe's unshare gets ENOSPC.
    const limitZero = ['unshare', '--user', '--map-root-user', '--fork', 'sh', '-c', 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"', 'sh']
    const out = user.node(doctorJson, limitZero)
    expect(out.stderr).toBe('')
    expect(out.status).toBe(1)
    const r = JSON.parse(out.stdout) as PreflightReport
    expect(r.userNamespaces).toMatchObject({ ok: false, cause: 'max_user_namespaces', failedStep: 'userns', errno: 'ENOSPC' })
    expect(r.userNamespaces.fix).toContain('sysctl -w user.max_user_namespaces=')
    expect(r.maxUserNamespaces).toMatchObject({ ok: false, found: 'user.max_user_namespaces = 0' })
  })

  test('a user without a subordinate range gets the usermod line', () => {
    const script = nodeScript(`lib('rootless/preflight').preflight().then((r) => console.log(JSON.stringify(r.subordinateUids)))`)
    const nobody = JSON.parse(execFileSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', script], { cwd: '/', encoding: 'utf8' }))
    expect(nobody).toMatchObject({ ok: false, required: false, ranges: [], fix: expect.stringContaining('usermod --add-subuids 100000-165535 --add-subgids 100000-165535 nobody') })
  })
})

describe('inside a container (Docker default seccomp profile)', () => {
  let runtime: Runtime
  useRuntime((rt) => (runtime = rt))

  async function inContainer(body: string): Promise<{ exitCode: number; out: string }> {
    const c = await run('host', ['node', '-e', nodeScript(body)], {
      runtime,
      network: 'none',
      mounts: [{ type: 'bind', source: repoRoot, target: repoRoot, readOnly: true }],
    })
    const { exitCode } = await c.wait()
    const out = await text(c.logs())
    await c.remove()
    return { exitCode, out }
  }

  test('user namespaces are reported blocked by seccomp, with the --security-opt fix', async () => {
    const { exitCode, out } = await inContainer(doctorJson)
    expect(exitCode).toBe(1)
    const r = JSON.parse(out) as PreflightReport
    expect(r.ok).toBe(false)
    expect(r.userNamespaces).toMatchObject({ ok: false, cause: 'seccomp', failedStep: 'userns', errno: 'EPERM' })
    expect(r.userNamespaces.fix).toContain('--security-opt seccomp=unconfined --security-opt systempaths=unconfined')
    expect(r.seccomp).toMatchObject({ ok: false, found: expect.stringContaining('filter') })
    expect(r.overlayInUserNamespace).toMatchObject({ ok: false, found: 'not tried: no user namespace' })
  })

  test('the human report of doctor puts FAIL and the fix under user namespaces', async () => {
    const { exitCode, out } = await inContainer(`lib('cli/main').main(['doctor']).then((s) => { process.exitCode = s })`)
    expect(exitCode).toBe(1)
    expect(out).toContain('rootless containers cannot run here')
    expect(out).toMatch(/FAIL {2}user namespaces +this process runs under a seccomp filter.*\(userns failed with EPERM\)\n +fix: inside Docker, start that container with --security-opt seccomp=unconfined/)
  })
})
