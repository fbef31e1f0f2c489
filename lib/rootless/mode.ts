/**
 * Rootless or not, and where a rootless runtime keeps its files: the store
 * in the user's data directory, the runtime state (sockets, locks) in a
 * directory only the user can write, owner checked, as podman does without
 * a systemd user session.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { InvalidArgumentError, PermissionError, UnsafeDirectoryError } from '../errors'

/** The `rootless` option: 'auto' (rootless when the effective uid is not 0), or forced on or off. */
export type RootlessOption = 'auto' | boolean

/** Whether a runtime is rootless: EINVALID for another value; EPERM for `false` without root, which has no other way to run. */
export function resolveRootless(option: unknown, euid = process.geteuid?.() ?? 0): boolean {
  if (option !== undefined && option !== 'auto' && typeof option !== 'boolean')
    throw new InvalidArgumentError(`rootless must be 'auto', true or false, not ${JSON.stringify(option)}`)
  if (option === false && euid !== 0)
    throw new PermissionError(`rootless: false needs root (namespaces, mounts and host networking); run the program as root, or leave rootless at 'auto'`)
  return option === true || (option !== false && euid !== 0)
}

/** The default store of a rootless runtime: $XDG_DATA_HOME/minicontainer, else ~/.local/share/minicontainer ($MINICONTAINER_ROOT comes first, in runtime-root.ts). */
export function rootlessDataDir(env = process.env): string {
  const data = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.join(env.HOME || os.homedir(), '.local', 'share')
  return path.join(data, 'minicontainer')
}

/** The runtime state directory of a rootless runtime: $XDG_RUNTIME_DIR/minicontainer, else /tmp/minicontainer-<uid>. */
export function rootlessStateDir(env = process.env, uid = process.geteuid?.() ?? 0): string {
  return env.XDG_RUNTIME_DIR && path.isAbsolute(env.XDG_RUNTIME_DIR) ? path.join(env.XDG_RUNTIME_DIR, 'minicontainer') : `/tmp/minicontainer-${uid}`
}

/**
 * Makes `dir` 0700, or checks the one there: it must be a real directory (not
 * a symlink) owned by the caller and writable by no one else. In a shared
 * /tmp another user could have made it first, to read or plant what we keep
 * there: EUNSAFE naming the owner and mode, and nothing is written in it.
 */
export function prepareStateDir(dir: string, uid = process.geteuid?.() ?? 0): string {
  try {
    fs.mkdirSync(dir, { mode: 0o700 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
      throw new PermissionError(`cannot make the runtime state directory ${dir}: ${(err as NodeJS.ErrnoException).code}; set XDG_RUNTIME_DIR to a directory of yours`)
  }
  const st = fs.lstatSync(dir)
  const problem = !st.isDirectory() ? 'it is not a directory' : st.uid !== uid ? `it belongs to uid ${st.uid}, not ${uid}` : st.mode & 0o022 ? `its mode ${(st.mode & 0o7777).toString(8)} lets others write it` : ''
  if (problem) throw new UnsafeDirectoryError(`the runtime state directory ${dir}`, problem, 'remove it (or chmod 0700 it if it is yours), or set XDG_RUNTIME_DIR')
  return dir
}
