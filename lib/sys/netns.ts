/**
 * Network namespaces for the calling thread: open the current one, make a
 * fresh one, and run synchronous code inside another one.
 *
 * setns(2) and unshare(2) are per-thread, and Node runs JavaScript on one
 * thread, so everything here is synchronous: no other JavaScript can run
 * while the thread is inside a foreign namespace. Sockets created there
 * (netlink included) stay bound to that namespace after we switch back,
 * which is how the network layer talks to a container's namespace
 * asynchronously afterwards.
 *
 * @module
 */
import * as fs from 'node:fs'
import { callOnWorker, checkNegErrno, CLONE_NEWNET, closeQuietly, nativeFunctions, openFd, setns } from './libc'
import { InternalError } from '../errors'
import { backgroundAsyncCalls } from './koffi-async'

const ownNetnsPath = '/proc/thread-self/ns/net'

/** Opens (close-on-exec, read-only) the calling thread's current network namespace. */
export function openCurrentNetns(): number {
  // open(2) runs on the calling thread, so thread-self is us.
  return openFd(ownNetnsPath, fs.constants.O_RDONLY)
}

/** Opens (close-on-exec, read-only; close it with closeQuietly) a network namespace by path (e.g. /proc/<pid>/ns/net or /run/netns/<name>). */
export function openNetns(nsPath: string): number {
  return openFd(nsPath, fs.constants.O_RDONLY)
}

/**
 * Runs `fn` with the calling thread inside the network namespace `fd`,
 * then returns to the namespace it was in, even when `fn` throws.
 * `fn` must be synchronous: an await inside would let unrelated code run
 * in the wrong namespace.
 */
export function withNetns<T>(fd: number, fn: () => T): T {
  const home = openCurrentNetns()
  try {
    setns(fd, CLONE_NEWNET)
    try {
      const result = fn()
      if (result instanceof Promise) throw new InternalError('withNetns: the callback must be synchronous')
      return result
    } finally {
      setns(home, CLONE_NEWNET)
    }
  } finally {
    closeQuietly(home)
  }
}

const native = nativeFunctions({
  netnsNew: 'int mc_netns_new(void)',
  netnsNewIpv6Off: 'int mc_netns_new_ipv6_off(_Out_ int32_t *held)',
  ipv6DefaultRestore: 'int mc_ipv6_default_restore(int fd, int old)',
})

/**
 * Creates a fresh network namespace (only `lo`, down) and returns an fd to
 * it; the calling thread stays where it was (native/netns-new.c). No mount is
 * needed: the fd alone keeps the namespace alive, until it is closed.
 */
export function createNetns(): number {
  return checkNegErrno(native().netnsNew(), 'unshare')
}

/**
 * The IPv6 default of a namespace made by {@link createNetnsIpv6Off}, held off: devices made there
 * meanwhile are born without IPv6. {@link restore} gives it back.
 */
export class HeldIpv6Default {
  /** @param fd - the namespace's conf/default/disable_ipv6 (-1: no IPv6 in the kernel); @param old - its value before. */
  constructor(
    private fd: number,
    private readonly old: number,
  ) {}

  /** Gives the namespace its IPv6 default back and closes the fd; once (later calls do nothing). Throws when the write failed. */
  restore(): void {
    const fd = this.fd
    if (fd < 0) return
    this.fd = -1
    checkNegErrno(native().ipv6DefaultRestore(fd, this.old), 'write', 'net.ipv6.conf.default.disable_ipv6')
  }

  /** As {@link restore}, for a namespace given up anyway: a failure is not reported. */
  dispose(): void {
    try {
      this.restore()
    } catch {
      // The namespace is being closed: nothing is left to make in it.
    }
  }
}

/**
 * As {@link createNetns}, with the namespace's IPv6 default held off (native/netns-new.c): a veth end
 * made in it is born without IPv6, where turning IPv6 off on the device afterwards waits for the rtnl
 * lock (a sysctl write that retries, spinning, while a namespace cleanup holds it). lo keeps IPv6.
 * For work off any start's path: on a libuv worker thread from the main thread (making a namespace
 * waits in the kernel behind the cleanup of dead ones, half a millisecond to several, which the event
 * loop would otherwise spend; ./koffi-async backgroundAsyncCalls), else here.
 */
export async function createNetnsIpv6Off(): Promise<{ fd: number; ipv6Default: HeldIpv6Default }> {
  const held = [-1, 0]
  const fd = backgroundAsyncCalls ? await callOnWorker(native().netnsNewIpv6Off, [held], 'unshare') : checkNegErrno(native().netnsNewIpv6Off(held), 'unshare')
  return { fd, ipv6Default: new HeldIpv6Default(held[0], held[1]) }
}

/** The inode number identifying the namespace behind `fd` (equal inodes = same namespace). */
export function netnsInode(fd: number): number {
  return fs.fstatSync(fd).ino
}
