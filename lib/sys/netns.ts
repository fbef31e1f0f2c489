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
 * {@link createNetns} on a libuv worker thread, for work off any start's path: making a namespace
 * waits in the kernel behind the cleanup of dead ones (half a millisecond to several), which the
 * event loop would otherwise spend. From the main thread only (see ./koffi-async backgroundAsyncCalls).
 */
export function createNetnsOffThread(): Promise<number> {
  return callOnWorker(native().netnsNew, [], 'unshare')
}

/** The inode number identifying the namespace behind `fd` (equal inodes = same namespace). */
export function netnsInode(fd: number): number {
  return fs.fstatSync(fd).ino
}
