/**
 * The cgroups of a rootless runtime: none. A user may only make cgroups
 * where a cgroup v2 tree was delegated to it (systemd's user@.service with
 * Delegate=yes), and using such a tree is not implemented yet; on a v1 or
 * hybrid host there is none to have. So an explicit limit is EUNSUPPORTED,
 * never silently ignored.
 *
 * Device rules need no cgroup here: the container's user namespace enforces
 * them. In it mknod of a real device is EPERM, so the only device nodes a
 * container has are the standard ones bound from the host's /dev
 * (shim/defaults.ts), and a node of another device (1:11, /dev/kmsg) cannot
 * be made.
 *
 * @module
 */
import { CgroupService, type CgroupSetup, type Resources } from '../cgroups'
import { needed } from '../cgroups/needs'
import type { DevicePolicy } from '../cgroups/device-rules'
import { RootlessUnsupportedError } from './errors'

/** Why a rootless runtime has no limits, and the ways around it. */
const noDelegation =
  'a rootless runtime has no cgroup of its own (that needs cgroup v2 delegated to your user, e.g. systemd user@.service with Delegate=yes, which minicontainer does not use yet); drop the option, or run as root'

/** {@link CgroupService} without cgroups: every limit EUNSUPPORTED, device rules left to the user namespace. */
export class RootlessCgroupService extends CgroupService {
  constructor() {
    super('minicontainer-rootless', () => ({ name: 'none' }))
  }

  /** EUNSUPPORTED naming the first limit set, and delegation. */
  override check(res: Resources): void {
    const [first] = needed(res)
    if (first) throw new RootlessUnsupportedError(`set ${first[1]}`, noDelegation)
  }

  /** No cgroup: checks the limits, and the device rules are the user namespace's (see the module's comment). */
  override prepare(_id: string, res: Resources, _opts: { readOnly: boolean; devices: DevicePolicy }): CgroupSetup | undefined {
    this.check(res)
    return undefined
  }
}
