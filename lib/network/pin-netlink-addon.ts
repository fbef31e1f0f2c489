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
 * later worker's load fails ("Module did not self-register"). Such a worker
 * gets the package's JavaScript over a stand-in for the addon, whose
 * sockets lib never makes: it loads this module before the package
 * (every lib module importing 'netlink' imports this one first).
 *
 * @module
 */
import * as fs from 'node:fs'
import { Module } from 'node:module'
import { pinLoadedLibrary } from '../sys/libc'

/** The loaded addon's file: a .node mapped from the netlink package (prebuilt or built). */
function netlinkAddonFile(): string | undefined {
  const maps = fs.readFileSync('/proc/self/maps', 'utf8')
  return /\s(\/\S*\/netlink\/\S+\.node)$/m.exec(maps)?.[1]
}

/** Pins the addon (see the module's comment); false when it could not be found or pinned. */
function pinNetlinkAddon(): boolean {
  const file = netlinkAddonFile()
  return file !== undefined && pinLoadedLibrary(file)
}

/**
 * The addon's stand-in for a thread where Node refuses to load it again: the package's JavaScript
 * needs its class only to make sockets of its own, which lib never does.
 */
class NativeNetlinkUnavailable {
  constructor() {
    throw new Error("the netlink package's own sockets are unavailable in this worker_thread: its native addon cannot be loaded again once every thread that loaded it ended (minicontainer does not use them)")
  }
}

/** Loads the package, and its addon with it (pinned), or over the addon's stand-in where Node refuses it (see the module's comment). */
function loadNetlinkPackage(): void {
  try {
    require('netlink')
  } catch (err) {
    const file = netlinkAddonFile()
    if (!/did not self-register/.test(String(err)) || !file) throw err
    const standIn = new Module(file)
    standIn.filename = file
    standIn.loaded = true
    standIn.exports = { NativeNetlink: NativeNetlinkUnavailable }
    require.cache[file] = standIn
    require('netlink')
  }
  pinNetlinkAddon()
}

loadNetlinkPackage()
