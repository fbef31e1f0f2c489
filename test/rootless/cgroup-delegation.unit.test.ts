/**
 * Where a rootless runtime finds its delegated cgroup (lib/rootless/cgroup-delegation.ts), on
 * plain directories standing for a cgroup2 mount: MINICONTAINER_CGROUP as a cgroup path or a
 * path under the mount, checked to hold the caller; systemd's user@<uid>.service subtree; the
 * refusals naming what was found and the fix. Writability itself is the kernel's (root passes any
 * access check): the live side is test/rootless/as-user/cgroups.test.ts.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { parseUnified } from '../../lib/cgroups/layout'
import { delegationFrom } from '../../lib/rootless/cgroup-delegation'

describe('cgroup delegation for rootless runtimes', () => {
  let mount: string
  /** A directory with the files of a cgroup. */
  const cgroup = (rel: string) => {
    const dir = path.join(mount, rel)
    fs.mkdirSync(dir, { recursive: true })
    for (const f of ['cgroup.procs', 'cgroup.subtree_control']) fs.writeFileSync(path.join(dir, f), '')
    return dir
  }
  beforeEach(() => {
    mount = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-deleg-'))
  })
  afterEach(() => fs.rmSync(mount, { recursive: true, force: true }))

  test('the unified hierarchy and our cgroup in it, on a hybrid host too', () => {
    const mountinfo = [
      '30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate',
      '31 25 0:27 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory',
    ].join('\n')
    expect(parseUnified(mountinfo, '4:memory:/a\n0::/mc-alice/owner\n')).toEqual({ mountPoint: '/sys/fs/cgroup/unified', ownPath: '/mc-alice/owner' })
    expect(parseUnified('31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory', '4:memory:/a')).toBeUndefined()
  })

  test('MINICONTAINER_CGROUP as a cgroup path or a path under the mount, holding the caller below it', () => {
    const dir = cgroup('mc-alice')
    cgroup('mc-alice/owner')
    const unified = { mountPoint: mount, ownPath: '/mc-alice/owner' }
    expect(delegationFrom('/mc-alice', unified, 1000)).toEqual({ dir, via: 'MINICONTAINER_CGROUP' })
    expect(delegationFrom(`${dir}/`, unified, 1000)).toEqual({ dir, via: 'MINICONTAINER_CGROUP' })
    expect(delegationFrom('/mc-alice/owner', unified, 1000)).toEqual({ dir: `${dir}/owner`, via: 'MINICONTAINER_CGROUP' })
  })

  test('MINICONTAINER_CGROUP that is no cgroup, or does not hold the caller, is named with the fix', () => {
    cgroup('mc-alice')
    cgroup('mc-bob')
    const unified = { mountPoint: mount, ownPath: '/mc-alice/owner' }
    expect(delegationFrom('/nope', unified, 1000)).toEqual({ problem: `MINICONTAINER_CGROUP=/nope: ${mount}/nope is not a cgroup v2 directory`, fix: expect.stringContaining(`chown -R 1000 ${mount}/nope`), named: true })
    const elsewhere = delegationFrom('/mc-bob', unified, 1000)
    expect(elsewhere).toMatchObject({ named: true, problem: expect.stringContaining(`/mc-alice/owner is not inside ${mount}/mc-bob`) })
    expect(elsewhere).toMatchObject({ fix: expect.stringContaining(`echo $$ > ${mount}/mc-bob/owner/cgroup.procs`) })
    // A sibling whose name starts the same is not inside.
    cgroup('mc-alice2')
    expect(delegationFrom('/mc-alice', { mountPoint: mount, ownPath: '/mc-alice2' }, 1000)).toMatchObject({ named: true })
  })

  test("systemd: the caller's own cgroup inside its user@<uid>.service; a login session scope or another user's manager is not delegated", () => {
    const scope = '/user.slice/user-1000.slice/user@1000.service/app.slice/run-x.scope'
    const dir = cgroup(scope)
    expect(delegationFrom(undefined, { mountPoint: mount, ownPath: scope }, 1000)).toEqual({ dir, via: 'systemd' })
    for (const [ownPath, uid] of [['/user.slice/user-1000.slice/session-3.scope', 1000], [scope, 1001]] as const) {
      cgroup(ownPath)
      expect(delegationFrom(undefined, { mountPoint: mount, ownPath }, uid)).toEqual({
        problem: `this process's cgroup ${ownPath} is not delegated to uid ${uid}`,
        fix: expect.stringMatching(/Delegate=yes.*MINICONTAINER_CGROUP/),
        named: false,
      })
    }
    expect(delegationFrom(undefined, undefined, 1000)).toMatchObject({ problem: 'this host has no cgroup v2 hierarchy mounted', named: false })
  })
})
