/**
 * Rootless cgroups (issue 19, "Limits, lifetime, errors"), run as an
 * unprivileged user by the rootless project (scripts/test-rootless.js), in
 * a cgroup v2 directory delegated to it as MINICONTAINER_CGROUP, with this
 * jest worker in its child `owner`: pause and unpause through cgroup.freeze
 * (the program stops making progress), stats, and nothing left in the
 * directory after close(); the doctor's check agrees. Limits where the directory has the memory and pids
 * controllers (the VM lane's v2 layout), EUNSUPPORTED naming the missing
 * controller where it has none (a hybrid host's cgroup2 mount); a delegated
 * directory that holds the caller has its processes moved into a child
 * before controllers are enabled. Without
 * delegation (the variable unset): limits and pause EUNSUPPORTED naming
 * Delegate=yes and MINICONTAINER_CGROUP, stats from /proc. A variable that
 * names an unusable directory is EINVALID. ulimits above the caller's own
 * hard limit are EUNSUPPORTED naming it (a user namespace cannot raise it).
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, Runtime, run } from '../../../lib'
import { runtimeTag } from '../../../lib/network/names'
import { busyboxImage, destroyRuntime, sleep, tempRuntime, text, timeScale } from '../../helpers'
import { rejection, withEnv } from './env'

const delegated = process.env.MINICONTAINER_CGROUP
const controllers = delegated ? fs.readFileSync(path.join(delegated, 'cgroup.controllers'), 'utf8').split(/\s+/) : []
/** Only without a cgroup2 mount to delegate (scripts/test-rootless.js says so): the delegated tests show as skipped. */
const withDelegation = process.env.MC_ROOTLESS_NO_CGROUP2 ? test.skip : test

describe('rootless cgroups, as an unprivileged user', () => {
  let rt: Runtime
  let out: string
  beforeAll(async () => {
    expect(process.geteuid!()).not.toBe(0)
    rt = tempRuntime('mc-rl-cgroups-')
    await busyboxImage(rt)
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-cgroups-out-'))
  })
  afterAll(async () => {
    await destroyRuntime(rt)
    fs.rmSync(out, { recursive: true, force: true })
  })

  withDelegation('delegated: pause stops the program (cgroup.freeze), unpause resumes it; stats and top; the runtime leaves nothing in the directory', async () => {
    expect((await Runtime.preflight()).cgroupDelegation).toEqual({ ok: true, required: false, found: `${delegated} (MINICONTAINER_CGROUP)` })
    const own = tempRuntime('mc-rl-pause-')
    await busyboxImage(own)
    const scope = path.join(delegated!, `minicontainer-${runtimeTag(own.root)}`)
    try {
      const c = await run('bb', ['sh', '-c', 'while :; do echo -n . >> /out/ticks; sleep 0.01; done'], { runtime: own, network: 'none', volumes: [`${out}:/out`] })
      const ticks = () => fs.statSync(path.join(out, 'ticks'), { throwIfNoEntry: false })?.size ?? 0
      const grows = async () => {
        const before = ticks()
        for (let i = 0; i < 100 * timeScale && ticks() === before; i++) await sleep(50)
        return ticks() > before
      }
      expect(await grows()).toBe(true)
      // An exec joins the container's cgroup too (moved by the user through the delegated directory).
      const exec = await c.exec(['cat', '/proc/self/cgroup'])
      expect(exec.exitCode).toBe(0)
      expect(exec.stdout).toMatch(/^0::\/$/m) // the root of its cgroup namespace: the container's cgroup

      const stats = await c.stats()
      expect(stats.memory.usage).toBeGreaterThan(0)
      expect(stats.pids.current).toBeGreaterThanOrEqual(1)
      expect(stats.cpu.usageNs).toBeGreaterThan(0)
      const top = await c.top()
      expect(top.some((p) => p.command.startsWith('sh -c'))).toBe(true)
      // The container's processes sit in its own cgroup under the delegated directory.
      const ownCgroup = fs.readFileSync(`/proc/${top[0]!.pid}/cgroup`, 'utf8')
      expect(ownCgroup).toContain(`${path.relative(path.dirname(delegated!), scope)}/${c.id}`)

      await c.pause()
      expect((await c.inspect()).state.status).toBe('paused')
      expect(fs.readFileSync(path.join(scope, c.id, 'cgroup.freeze'), 'utf8').trim()).toBe('1')
      const frozenAt = ticks()
      await sleep(300 * timeScale)
      expect(ticks()).toBe(frozenAt)

      await c.unpause()
      expect((await c.inspect()).state.status).toBe('running')
      expect(await grows()).toBe(true)

      await c.remove({ force: true })
      expect(fs.existsSync(path.join(scope, c.id))).toBe(false)
    } finally {
      await destroyRuntime(own)
    }
    expect(fs.existsSync(scope)).toBe(false)
  })

  withDelegation('delegated: memory and pids limits are enforced where the directory has those controllers, EUNSUPPORTED naming the controller where not', async () => {
    if (!controllers.includes('memory') || !controllers.includes('pids')) {
      const err = await rejection(run('bb', ['true'], { runtime: rt, network: 'none', memory: '32m' }))
      expect(err.code).toBe('EUNSUPPORTED')
      expect(err.message).toContain(`the memory controller is not delegated to ${delegated}`)
      expect(await Container.list({ runtime: rt, all: true })).toEqual([])
      return
    }
    // The loop in a subshell: a refused fork ends the shell it happens in (exit 2), not the container's.
    const forks = await run('bb', ['sh', '-c', 'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; (for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 30 & done); echo survived'], {
      runtime: rt, network: 'none', memory: '32m', pidsLimit: 8,
    })
    expect(await forks.wait()).toEqual({ exitCode: 0 })
    const logs = await text(forks.logs())
    expect(logs).toMatch(/^33554432\n8\n/)
    expect(logs).toContain("can't fork")
    expect(logs).toMatch(/survived\n$/)
    await forks.remove({ force: true })

    const hog = await run('bb', ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'], { runtime: rt, network: 'none', memory: '32m' })
    expect((await hog.wait()).exitCode).toBe(137)
    expect((await hog.inspect()).state.oomKilled).toBe(true)
    await hog.remove()
  })

  withDelegation("delegated directory holding the caller: enabling controllers first moves its processes into a child, 'init' (cgroup v2's no-internal-processes rule)", async () => {
    const owner = path.join(delegated!, 'owner')
    const ownCgroup = () => /^0::(.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))![1]
    const base = `/${path.basename(delegated!)}/owner`
    expect(ownCgroup()).toBe(base)
    await withEnv({ MINICONTAINER_CGROUP: owner }, async () => {
      const rt2 = tempRuntime('mc-rl-leaf-')
      try {
        await busyboxImage(rt2)
        if (!controllers.includes('memory')) {
          // Nothing to enable: the caller stays where it is, next to the runtime's cgroups.
          const c = await run('bb', ['true'], { runtime: rt2, network: 'none' })
          expect(await c.wait()).toEqual({ exitCode: 0 })
          expect(ownCgroup()).toBe(base)
          return
        }
        const c = await run('bb', ['cat', '/sys/fs/cgroup/memory.max'], { runtime: rt2, network: 'none', memory: '32m' })
        expect(await c.wait()).toEqual({ exitCode: 0 })
        expect(await text(c.logs())).toBe('33554432\n')
        expect(ownCgroup()).toBe(`${base}/init`)
        expect(fs.readFileSync(path.join(owner, 'cgroup.procs'), 'utf8')).toBe('')
      } finally {
        await destroyRuntime(rt2)
      }
    })
  })

  test('without delegation: limits and pause are EUNSUPPORTED naming Delegate=yes and MINICONTAINER_CGROUP; stats come from /proc', async () => {
    await withEnv({ MINICONTAINER_CGROUP: undefined }, async () => {
      const doctor = (await Runtime.preflight()).cgroupDelegation
      expect(doctor).toMatchObject({ ok: false, found: expect.stringContaining('is not delegated to uid'), fix: expect.stringMatching(/Delegate=yes.*MINICONTAINER_CGROUP/) })
      const rt2 = tempRuntime('mc-rl-nocg-')
      try {
        await busyboxImage(rt2)
        const limited = await rejection(run('bb', ['true'], { runtime: rt2, network: 'none', memory: '64m' }))
        expect(limited.code).toBe('EUNSUPPORTED')
        expect(limited.message).toMatch(/set memory .*Delegate=yes.*MINICONTAINER_CGROUP/)
        expect(await Container.list({ runtime: rt2, all: true })).toEqual([])

        const c = await run('bb', ['sh', '-c', 'sleep 100 & sleep 100 & i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; wait'], { runtime: rt2, network: 'none' })
        await sleep(500 * timeScale)
        const stats = await c.stats()
        expect(stats.pids.current).toBe(3)
        // VmRSS sums: before 6.2 the kernel's per-task RSS counters lag (synced every 64 faults), so small.
        expect(stats.memory.usage).toBeGreaterThan(0)
        expect(stats.cpu.usageNs).toBeGreaterThan(0)
        const paused = await rejection(c.pause())
        expect(paused.code).toBe('EUNSUPPORTED')
        expect(paused.message).toMatch(/cannot pause .*Delegate=yes.*MINICONTAINER_CGROUP/)
        expect((await c.inspect()).state.status).toBe('running')
        await c.remove({ force: true })
      } finally {
        await destroyRuntime(rt2)
      }
    })
  })

  test("ulimits: within the caller's hard limit they apply; above it EUNSUPPORTED naming that hard limit, before anything is made", async () => {
    const hard = Number(/^Max open files\s+\S+\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'))![1])
    const rt2 = tempRuntime('mc-rl-ulimits-')
    try {
      await busyboxImage(rt2)
      const c = await run('bb', ['sh', '-c', 'ulimit -n; ulimit -Hn'], { runtime: rt2, network: 'none', ulimits: { nofile: { soft: 100, hard: 200 } } })
      expect(await c.wait()).toEqual({ exitCode: 0 })
      expect(await text(c.logs())).toBe('100\n200\n')
      await c.remove()
      const err = await rejection(run('bb', ['true'], { runtime: rt2, network: 'none', ulimits: { nofile: { soft: 100, hard: hard + 1 } } }))
      expect(err.code).toBe('EUNSUPPORTED')
      expect(err.message).toContain(`ulimits.nofile with hard limit ${hard + 1}`)
      expect(err.message).toContain(`your own hard limit is ${hard}`)
      expect(await Container.list({ runtime: rt2, all: true })).toEqual([])
    } finally {
      await destroyRuntime(rt2)
    }
  })

  withDelegation('MINICONTAINER_CGROUP naming a directory that does not hold this process, or no cgroup, is EINVALID at the start', async () => {
    const elsewhere = path.join(delegated!, `elsewhere-${process.pid}`)
    fs.mkdirSync(elsewhere)
    try {
      for (const [value, expected] of [
        [elsewhere, /is not inside .*elsewhere/],
        [`/no-such-cgroup-${process.pid}`, /is not a cgroup v2 directory/],
      ] as const) {
        const err = await withEnv({ MINICONTAINER_CGROUP: value }, async () => {
          const rt2 = tempRuntime('mc-rl-badcg-')
          try {
            await busyboxImage(rt2)
            return await rejection(run('bb', ['true'], { runtime: rt2, network: 'none' }).catch(async (e) => {
              expect(await Container.list({ runtime: rt2, all: true })).toEqual([])
              throw e
            }))
          } finally {
            await destroyRuntime(rt2)
          }
        })
        expect(err.code).toBe('EINVALID')
        expect(err.message).toMatch(/MINICONTAINER_CGROUP=/)
        expect(err.message).toMatch(expected)
      }
    } finally {
      fs.rmdirSync(elsewhere)
    }
  })
})
