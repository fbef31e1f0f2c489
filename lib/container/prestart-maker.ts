/**
 * How a runtime pre-starts a container for a shape (prestarts.ts) and ends
 * one never claimed: a container directory that says whose it is, the
 * cgroup, and a shim given the spec with `prestart` (native/prestart.h).
 *
 * @module
 */
import * as fs from 'node:fs'
import { encodeRunSpec } from '../shim/spec'
import { Shim } from '../shim/shim'
import { newId } from '../util/ids'
import type { ContainerContext } from './context'
import { containerRunSpec } from './container-spec'
import { etcFiles } from './etc-files'
import { releaseRun } from './exit'
import type { PrestartMaker } from './prestarts'
import { containerDevicePolicy } from './run-spec'
import { isLastMount } from './volatile-root'
import { processStartTime } from './liveness'
import { withId } from './record'

/** The pre-started containers' maker of runtime `rt`. */
export function prestartMaker(rt: ContainerContext): PrestartMaker {
  /** Ends pre-started container `id` (its shim, if it got one) and removes its cgroup and directory. */
  async function remove(id: string, shim: Shim | undefined): Promise<void> {
    if (shim) {
      // Its child reads the end of the socket where its claim would be, and ends (step "claim", EPIPE).
      shim.dismiss()
      await shim.hold(shim.closed)
    }
    await releaseRun(rt, id, 'none')
    rt.containers.deleteUnattended(id)
  }

  return {
    async make(template) {
      const record = withId(template, newId())
      const { id } = record
      const image = rt.images.resolve(record.imageId)
      // A bridge's hosts file is written at the claim, as the network joins.
      const etc = etcFiles(record.config.hostname, { ownNetwork: true })
      rt.containers.createPrestarted(id, etc)
      let shim: Shim | undefined
      try {
        const cgroups = rt.cgroups.prepare(id, record.resources ?? { rlimits: [] }, { readOnly: !record.hostConfig.privileged, devices: containerDevicePolicy(record, []) })
        // A bridge or user network's namespace comes with the claim (the network joined per run, then).
        const netns = record.hostConfig.networkMode === 'none' ? { kind: 'own' as const } : { kind: 'late' as const }
        const spec = { ...containerRunSpec(rt, record, image, netns, cgroups, [], { lastMount: isLastMount(record, false) }), prestart: true }
        const layers = spec.rootfs.lowerDirs.map((dir) => ({ path: dir, ino: fs.statSync(dir).ino }))
        shim = (await Shim.forPrestart(spec.loopbackUp)).send(encodeRunSpec(spec), [], true)
        // Held: a process that ends meanwhile waits for it, and its exit then ends it whole (PrestartPool.endNow).
        const pid = await shim.hold(shim.prestarted)
        return { id, shim, pid, pidStart: processStartTime(pid), layers, etc }
      } catch (err) {
        await remove(id, shim)
        throw err
      }
    },

    discard: (p) => remove(p.id, p.shim),

    discardNow(p) {
      rt.cgroups.releaseNow(p.id)
      const { dir } = rt.containers.paths(p.id)
      // Rootless, the overlay's work/work (mode 000) is the user namespace's root's to enter.
      if (rt.userIds) rt.userIds.removeTree(dir)
      else fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}
