/**
 * The rootless tests' user (test/tools/unprivileged-user.ts) leaves nothing once removed, even when
 * its processes are still starting others: a runner's timeout kills a script whose helpers (a pasta
 * daemonizing: its parent forks it and dies) outlive it, and remove() runs while they start.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import { sleep, timeScale } from '../helpers'
import { killAllOf, makeUnprivilegedUser, pidsOf, type UnprivilegedUser } from './unprivileged-user'

/** A directory others may read, holding an executable `name` with `body`. */
function script(dirs: string[], name: string, body: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-user-cleanup-'))
  dirs.push(dir)
  fs.chmodSync(dir, 0o755)
  const file = path.join(dir, name)
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 })
  return file
}

/** Whether `file` has a line of `name`. */
const hasLine = (file: string, name: string) => fs.readFileSync(file, 'utf8').split('\n').some((l) => l.startsWith(`${name}:`))

describe('UnprivilegedUser.remove()', () => {
  let user: UnprivilegedUser
  const dirs: string[] = []
  const cgroups: string[] = []
  let madeRunUser = false

  afterEach(() => {
    // What a failed remove() left: no process, no user, no directory.
    try {
      killAllOf(user.uid, user.gid)
      spawnSync('userdel', [user.name], { stdio: 'ignore' })
    } finally {
      for (const dir of [`/run/user/${user.uid}`, ...dirs.splice(0)]) fs.rmSync(dir, { recursive: true, force: true })
      for (const dir of cgroups.splice(0)) if (fs.existsSync(dir)) fs.rmdirSync(dir)
      if (madeRunUser) fs.rmdirSync('/run/user') // only if still empty: another's would stay
      madeRunUser = false
    }
  })

  test('a chain of dying parents, each forking the next as it exits, and a detached sleep are gone after remove(), and stay gone', async () => {
    // Each hop starts the next and exits at once: whatever a scan of /proc lists has forked its
    // successor, which the scan missed, by the time it is killed.
    user = makeUnprivilegedUser()
    const hop = script(dirs, 'hop', '"$0" &')
    spawnSync('runuser', ['-u', user.name, '--', 'setsid', '-f', 'sleep', '1000'], { stdio: 'ignore' })
    spawn('runuser', ['-u', user.name, '--', hop], { stdio: 'ignore' })
    const deadline = Date.now() + 5000 * timeScale
    // Hops that ended count: their zombies wait for this machine's init, which reaps in batches, and
    // count toward the user's process limit, so the chain may stop forking before the kill.
    while (pidsOf(user.uid, { deadOrphans: true }).length < 2 && Date.now() < deadline) await sleep(20)
    await sleep(200) // hops come and go meanwhile
    expect(pidsOf(user.uid, { deadOrphans: true }).length).toBeGreaterThanOrEqual(2)

    user.remove()
    expect(pidsOf(user.uid)).toEqual([])
    await sleep(300 * timeScale) // a successor forked late would be listed by now
    expect(pidsOf(user.uid)).toEqual([])
    for (const file of ['/etc/passwd', '/etc/subuid', '/etc/subgid']) expect(hasLine(file, user.name)).toBe(false)
  })

  test("its /run/user directory and a cgroup delegated to it, holding its process, are gone after remove()", () => {
    user = makeUnprivilegedUser()
    const mount = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[2] === 'cgroup2')?.[1]
    expect(mount).toBeDefined() // a cgroup2 mount to delegate from (every host the suite runs on has one)
    const runDir = `/run/user/${user.uid}`
    madeRunUser = !fs.existsSync('/run/user')
    fs.mkdirSync(runDir, { recursive: true })
    fs.chownSync(runDir, user.uid, user.gid)
    const cgroup = path.join(mount!, `mc-user-cleanup-${user.name}`)
    fs.mkdirSync(cgroup)
    cgroups.push(cgroup)
    for (const f of ['', 'cgroup.procs', 'cgroup.threads', 'cgroup.subtree_control']) fs.chownSync(path.join(cgroup, f), user.uid, user.gid)
    // Moved in as root: its own move out of the root cgroup is not the user's to make.
    spawnSync('runuser', ['-u', user.name, '--', 'setsid', '-f', 'sleep', '1000'], { stdio: 'ignore' })
    const [sleeper] = pidsOf(user.uid)
    fs.writeFileSync(path.join(cgroup, 'cgroup.procs'), String(sleeper))
    expect(fs.readFileSync(path.join(cgroup, 'cgroup.procs'), 'utf8').trim()).toBe(String(sleeper))

    user.remove()
    expect(pidsOf(user.uid)).toEqual([])
    expect(fs.existsSync(runDir)).toBe(false)
    expect(fs.existsSync(cgroup)).toBe(false)
  })

  test('a script running past its time limit is killed with what it started, and the error says so with its stderr', () => {
    user = makeUnprivilegedUser({ scriptTimeoutMs: 3000 * timeScale })
    const started = () =>
      user.node(`const s = require('node:child_process').spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' })
console.error('started ' + s.pid)
setInterval(() => {}, 1000)`)
    expect(started).toThrow(/ran past [\d.]+ s and was killed with every process of the user.*\n.*started \d+/s)
    expect(pidsOf(user.uid)).toEqual([])
  })
})
