/**
 * Removing the host end of a veth pair whose other end is (or was) in a
 * namespace that dies: the kernel deletes the pair by itself then, off our
 * thread, while deleting it ourselves makes the synchronous netlink send
 * wait for the unregister (tens of ms on the event loop).
 *
 * @module
 */
import type { Rtnl } from './rtnl'

/** How many times (10 ms apart) to look for the kernel to have removed a dead namespace's veth. */
const vethGoneChecks = 20

/** Waits briefly for the kernel to remove the veth `name`, and deletes it only if it stays. */
export async function removeVeth(host: Rtnl, name: string): Promise<void> {
  for (let i = 0; i < vethGoneChecks; i++) {
    if (!(await host.link(name))) return
    await new Promise((r) => setTimeout(r, 10))
  }
  await host.deleteLink(name)
}
