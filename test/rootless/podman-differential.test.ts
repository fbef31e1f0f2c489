/**
 * Rootless identity against rootless podman (issue 19's differential), as
 * one ordinary user with a subordinate range: the same rootfs tarball (files
 * of uid 0 and 999, a set-uid file) imported by both, the same commands run
 * as root and as user 999: ids inside, /proc/self/uid_map and gid_map, file
 * owners and modes must print the same. Podman runs with runc (crun cannot
 * run on this host), no network, its own storage in a temp home, removed
 * afterwards with `podman system reset`.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { busyboxRootfs } from '../helpers'
import { requireTool } from '../tools/registry'
import { makeUnprivilegedUser, pidsOf, type UnprivilegedUser } from '../tools/unprivileged-user'

const probe = 'id -u; id -g; id -G; cat /proc/self/uid_map /proc/self/gid_map; stat -c "%n %u:%g %a" /data /data/suid /etc/passwd; touch /tmp/t; stat -c "%n %u:%g" /tmp/t'

describe('rootless identity against rootless podman', () => {
  let user: UnprivilegedUser
  let home: string
  let tar: string
  beforeAll(() => {
    requireTool('podman', 'podman')
    requireTool('runc', 'runc')
    user = makeUnprivilegedUser()
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-podman-'))
    fs.chownSync(home, user.uid, user.gid)
    const rootfs = busyboxRootfs(fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-podman-rootfs-')))
    fs.chmodSync(rootfs, 0o755) // the tar's "." entry: podman gives its mode to the container's /, we do not (yet)
    fs.appendFileSync(path.join(rootfs, 'etc/passwd'), 'app999:x:999:999:app:/data:/bin/sh\n')
    fs.appendFileSync(path.join(rootfs, 'etc/group'), 'app999:x:999:\n')
    fs.mkdirSync(path.join(rootfs, 'data'))
    fs.writeFileSync(path.join(rootfs, 'data/suid'), '#!/bin/sh\n')
    fs.chownSync(path.join(rootfs, 'data/suid'), 999, 999)
    fs.chmodSync(path.join(rootfs, 'data/suid'), 0o4755)
    fs.chownSync(path.join(rootfs, 'data'), 999, 999)
    tar = path.join(home, 'rootfs.tar')
    execFileSync('tar', ['--numeric-owner', '-C', rootfs, '-cf', tar, '.'])
    fs.chmodSync(tar, 0o644)
    fs.rmSync(rootfs, { recursive: true })
  })
  afterAll(() => {
    if (user) {
      // podman's own store holds files of the subordinate ids: only podman (in its namespace) can remove them.
      user.node(`require('node:child_process').spawnSync('podman', ['system', 'reset', '--force'], { stdio: 'ignore' })`, [], { HOME: home })
      user.remove()
      // Podman's runtime and tmp dirs (without XDG_RUNTIME_DIR), which a later user of the same uid would find.
      for (const dir of [`/tmp/minicontainer-${user.uid}`, `/tmp/podman-run-${user.uid}`, `/tmp/containers-user-${user.uid}`]) fs.rmSync(dir, { recursive: true, force: true })
    }
    fs.rmSync(home, { recursive: true, force: true })
  })

  test("ids, maps, file owners and modes inside are podman's, as root and as user 999", () => {
    const r = user.node(
      `;(async () => {
  const { execFileSync } = require('node:child_process')
  const { Runtime, Image, run } = lib()
  const podman = (...args) => execFileSync('podman', ['--runtime', 'runc', ...args], { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: '' } })
  podman('import', ${JSON.stringify(tar)}, 'localhost/same:latest')
  const rt = new Runtime()
  await Image.import(${JSON.stringify(tar)}, { runtime: rt, ref: 'same:latest' })
  const ours = async (user) => {
    const c = await run('same', ['/bin/sh', '-c', ${JSON.stringify(probe)}], { runtime: rt, network: 'none', ...(user ? { user } : {}) })
    const exit = await c.wait()
    const out = await new Promise((res, rej) => { let s = ''; c.logs().on('data', (d) => (s += d)).on('end', () => res(s)).on('error', rej) })
    await c.remove()
    return { exit: exit.exitCode, out }
  }
  const theirs = (user) => ({ exit: 0, out: podman('run', '--rm', '--network', 'none', ...(user ? ['--user', user] : []), 'localhost/same:latest', '/bin/sh', '-c', ${JSON.stringify(probe)}) })
  const result = { root: [await ours(), theirs()], app: [await ours('999'), theirs('999')] }
  await rt.close({ removeRoot: true })
  console.log(JSON.stringify(result))
})()`,
      [],
      { HOME: home },
    )
    if (r.status !== 0) throw new Error(`the user's script failed (${r.status}): ${r.stderr}`)
    const result = JSON.parse(r.stdout)
    const { start } = user.subids
    for (const [ours, podman] of [result.root, result.app]) expect(ours).toEqual(podman)
    // And what both print is podman's layout: 0 -> the user, 1..65536 -> the range; owners kept.
    const lines = (result.root[0].out as string).trim().split('\n')
    expect(lines.slice(0, 3)).toEqual(['0', '0', expect.stringMatching(/^0( |$)/)])
    expect(lines.slice(3, 7).map((l) => l.trim().split(/\s+/))).toEqual([
      ['0', String(user.uid), '1'],
      ['1', String(start), '65536'],
      ['0', String(user.gid), '1'],
      ['1', String(start), '65536'],
    ])
    expect(lines.slice(7)).toEqual(['/data 999:999 755', '/data/suid 999:999 4755', '/etc/passwd 0:0 644', '/tmp/t 0:0'])
    expect((result.app[0].out as string).split('\n').slice(0, 2)).toEqual(['999', '999'])
    // Podman leaves its pause process (catatonit) behind, as the design note says; we leave nothing.
    const ours = pidsOf(user.uid).filter((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').startsWith('mc-shim'))
    expect(ours).toEqual([])
  })
})
