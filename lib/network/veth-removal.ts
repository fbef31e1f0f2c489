/**
 * Removing the host end of a veth pair whose other end is (or was) in a
 * namespace that dies: the kernel deletes the pair by itself then, off our
 * thread, while deleting it ourselves makes the synchronous netlink send
 * wait for the unregister (tens of ms on the event loop).
 *
 * @module
 */
import * as fs from 'node:fs'
import type { Rtnl } from './rtnl'

/** How many times (10 ms apart) to look for the kernel to have removed a dead namespace's veth. */
const vethGoneChecks = 20

/**
 * Waits briefly for the kernel to remove the veth `name`, and deletes it only if it stays. In this
 * thread's own namespace (`inOwnNamespace`) it looks in sysfs: an rtnetlink request is answered under
 * the rtnl lock, so its send waits on the event loop (up to tens of ms) while any namespace of the
 * machine is being cleaned up, our own container's first, beside the next start. `host` is asked for
 * only when a request is to be sent (a service closed meanwhile would open a socket nobody closes).
 */
export async function removeVeth(host: () => Rtnl, name: string, inOwnNamespace: boolean): Promise<void> {
  const present = inOwnNamespace ? () => Promise.resolve(fs.existsSync(`/sys/class/net/${name}`)) : async () => (await host().link(name)) !== undefined
  for (let i = 0; i < vethGoneChecks; i++) {
    if (!(await present())) return
    await new Promise((r) => setTimeout(r, 10))
  }
  await host().deleteLink(name)
}
