/**
 * The `netlink` package's native addon, kept loaded for the whole process.
 *
 * Importing the package loads its addon, though lib makes no socket of it
 * (./netlink-fd.ts drives the package's sockets over fds of its own). A
 * worker_thread that loaded it and ends (terminate() included) has Node
 * unload the addons it loaded right after running their finalizers; when
 * the addon had sockets, their finalizers uv_close() its timers and polls
 * with a close callback that is the addon's own code, which libuv calls on
 * the worker's last loop turn: by then unmapped, so the whole process died
 * of SIGSEGV. Pinned, the code stays mapped (a few pages), for a program
 * that also uses the package itself.
 *
 * The addon registers itself only when loaded afresh (it exports no
 * napi_register_module_v1): once the last thread that loaded it ended, a
 * later worker's load fails ("Module did not self-register"). A process
 * whose main thread loaded the library too keeps it registered for all.
 *
 * @module
 */
import * as fs from 'node:fs'
import 'netlink' // loads the addon, so that it is in /proc/self/maps
import { pinLoadedLibrary } from '../sys/libc'

/** The loaded addon's file: a .node mapped from the netlink package (prebuilt or built). */
function netlinkAddonFile(): string | undefined {
  const maps = fs.readFileSync('/proc/self/maps', 'utf8')
  return /\s(\/\S*\/netlink\/\S+\.node)$/m.exec(maps)?.[1]
}

/** Pins the addon (see the module's comment); false when it could not be found or pinned. */
export function pinNetlinkAddon(): boolean {
  const file = netlinkAddonFile()
  return file !== undefined && pinLoadedLibrary(file)
}
