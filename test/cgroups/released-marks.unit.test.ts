// The released marks of CgroupService (a container's cgroup this runtime removed, so that its removal
// makes no rmdir again) against a fake backend that counts rmdirs: pure bookkeeping.
import * as os from 'node:os'
import * as path from 'node:path'
import { CgroupService, releasedMarksKept } from '../../lib/cgroups/service'
import type { CgroupDriver } from '../../lib/cgroups/driver'

/** A service whose backend removes at once and records the cgroups it was asked to remove. */
class CountingService extends CgroupService {
  readonly removals: string[] = []
  private readonly fake = {
    layout: 'v2',
    // A directory that never exists: every cgroup this service removed stays gone.
    joinFiles: (rel: string) => [path.join(os.tmpdir(), 'mc-no-such-cgroupfs', rel, 'cgroup.procs')],
    remove: (rel: string) => (this.removals.push(rel), true),
  } as unknown as CgroupDriver

  protected override get driver(): CgroupDriver {
    return this.fake
  }
}

test('the marks of containers released once and never again (another process removed them) stay bounded: the oldest goes, its removal here makes its rmdirs again', async () => {
  const cgroups = new CountingService('scope')
  const ids = Array.from({ length: releasedMarksKept + 10 }, (_, i) => `c${i}`)
  for (const id of ids) await cgroups.release(id)
  expect(cgroups.removals).toHaveLength(ids.length)
  // The newest are still marked: their second release (the container's removal) removes nothing.
  await cgroups.release(ids.at(-1)!, { last: true })
  expect(cgroups.removals).toHaveLength(ids.length)
  // The oldest mark went (without a bound, every mark stayed for the process's life): its release removes again.
  await cgroups.release(ids[0]!, { last: true })
  expect(cgroups.removals.at(-1)).toBe('scope/c0')
})
