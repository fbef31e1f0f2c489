/**
 * The init layer: a read-only lower dir mounted above an image's layers that
 * holds the mount points every container needs in /etc (empty `hostname`,
 * `hosts` and `resolv.conf`, bind-mounted over at start) and the
 * `/etc/mtab` link to /proc/mounts, as Docker's per-container `-init` layer
 * does. One per runtime root and /etc mode, shared by every container:
 *
 *   layers/init-<mode>/diff/etc/{hostname,hosts,resolv.conf,mtab}
 *   layers/l/init-<mode>         its short name for overlay mounts (../init-<mode>/diff)
 *
 * Without it the shim makes those four entries in each container's writable
 * layer, copying /etc up first: five inodes created at every start and
 * deleted at every removal, on a burst of starts the largest cost of all
 * (ext4 skips every inode deleted in the last minutes when it picks one).
 *
 * As Docker's, the layer's /etc/mtab hides an image's own (Docker 20.10 shows
 * /proc/mounts for an image whose /etc/mtab is ../proc/self/mounts).
 *
 * Only for an image whose top-most /etc is a directory owned by the caller
 * (root of a root runtime): the init layer's /etc is the one a container's
 * merged /etc takes its owner and mode from. Any other image (no /etc, /etc
 * a link or another id's) gets its mount points made at start, as before.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { scratchName } from '../image/scratch'
import { removeTreeQuietlyAt } from '../files/tree'
import { debug } from '../util/debug'
import { isWhiteout } from './whiteout'

/** The mount points the init layer holds, made empty: each is bind-mounted over at start. */
const etcMountPoints = ['hostname', 'hosts', 'resolv.conf']

/**
 * The init layer's mount path (under `layers/l`) for a container of an image
 * with these layer dirs (top-most first), made on first use; undefined when
 * the image's /etc does not fit it (the shim then makes the mount points).
 */
export function initLayerFor(layersDir: string, imageLayerDirs: readonly string[]): string | undefined {
  const etcMode = fittingEtcMode(imageLayerDirs)
  if (etcMode === undefined) return undefined
  const name = `init-${etcMode.toString(8)}`
  const link = path.join(layersDir, 'l', name)
  // One stat through the link: both it and the layer are there (they are never removed while the root is).
  // Looked at every start, not remembered: a layer removed or damaged since is made again, or left out.
  if (fs.existsSync(path.join(link, 'etc'))) return link
  const home = path.join(layersDir, name)
  if (!fs.existsSync(home)) makeInitLayer(layersDir, home, etcMode)
  try {
    fs.symlinkSync(`../${name}/diff`, link)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  // Whatever sits there (a damaged root), a container only mounts a layer that holds its /etc.
  return fs.existsSync(path.join(link, 'etc')) ? link : undefined
}

/**
 * How many layer stacks {@link fittingEtcMode} remembers: one per image (and build step) a process
 * starts; beyond it the oldest is forgotten and looked up again if started again.
 */
const etcModesKept = 256

/** {@link fittingEtcMode}'s answers by layer stack (the dirs joined by NUL); null: no init layer fits. */
const etcModes = new Map<string, number | null>()

/**
 * The mode of the image's /etc when an init layer fits it (a directory of the caller's), else
 * undefined. Remembered per layer stack: a layer dir is named by its content's digest, so the
 * answer is fixed, and a start no longer looks down the image's layers for /etc. Except an answer
 * met while a layer dir was missing (removed, or not yet unpacked): it is not the image's, and a
 * remembered "none fits" would keep every later start of the image off the init layer (a "fits"
 * found below a missing layer, its /etc's mode over the image's own).
 */
function fittingEtcMode(imageLayerDirs: readonly string[]): number | undefined {
  const key = imageLayerDirs.join('\0')
  let mode = etcModes.get(key)
  if (mode === undefined) {
    const etc = topmostEtc(imageLayerDirs)
    mode = etc?.isDirectory() && etc.uid === process.geteuid?.() && etc.gid === process.getegid?.() ? etc.mode & 0o7777 : null
    if (imageLayerDirs.every((dir) => fs.existsSync(dir))) rememberEtcMode(key, mode)
  }
  return mode ?? undefined
}

/** Keeps {@link fittingEtcMode}'s answer for a layer stack, forgetting the oldest beyond {@link etcModesKept}. */
function rememberEtcMode(key: string, mode: number | null): void {
  etcModes.set(key, mode)
  if (etcModes.size > etcModesKept) etcModes.delete(etcModes.keys().next().value!)
}

/** The image's /etc as its merged view shows it: the top-most layer's entry, undefined if none or whited out. */
function topmostEtc(layerDirs: readonly string[]): fs.Stats | undefined {
  for (const dir of layerDirs) {
    const st = fs.lstatSync(path.join(dir, 'etc'), { throwIfNoEntry: false })
    if (!st) continue
    return isWhiteout(st) ? undefined : st
  }
  return undefined
}

/** Builds the layer in scratch and renames it into place whole: a concurrent maker's rename wins, ours is dropped. */
function makeInitLayer(layersDir: string, home: string, etcMode: number): void {
  const scratch = path.join(layersDir, 'tmp', scratchName())
  const etc = path.join(scratch, 'diff', 'etc')
  try {
    fs.mkdirSync(etc, { recursive: true })
    fs.chmodSync(etc, etcMode) // past the umask
    for (const f of etcMountPoints) {
      fs.writeFileSync(path.join(etc, f), '')
      fs.chmodSync(path.join(etc, f), 0o644)
    }
    fs.symlinkSync('/proc/mounts', path.join(etc, 'mtab'))
    fs.renameSync(scratch, home)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    removeTreeQuietlyAt(scratch)
    if ((code !== 'EEXIST' && code !== 'ENOTEMPTY') || !fs.existsSync(home)) throw err
  }
}

/**
 * An image's layer dirs for a container's overlay (top-most first), under
 * the init layer of `root` when the image takes one. An init layer that
 * cannot be made (a full disk) costs no start: the shim makes the mount
 * points in the writable layer, as without one.
 */
export function withInitLayer(root: string, imageLayerDirs: string[]): string[] {
  let init: string | undefined
  try {
    init = initLayerFor(path.join(root, 'layers'), imageLayerDirs)
  } catch (err) {
    debug(`init layer of ${root}: ${(err as Error).message}; mount points made at start`)
  }
  return init ? [init, ...imageLayerDirs] : imageLayerDirs
}

/**
 * As {@link withInitLayer}, the init layer named by its own directory
 * (`layers/init-<mode>/diff`), not its short link: `inspect()` lists it so,
 * as Docker's lists a container's `-init` layer.
 */
export function withInitLayerDir(root: string, imageLayerDirs: string[]): string[] {
  const dirs = withInitLayer(root, imageLayerDirs)
  if (dirs.length === imageLayerDirs.length) return dirs
  // The short link `l/<name>` points to `../<name>/diff` (initLayerFor): no need to read it back.
  return [path.join(root, 'layers', path.basename(dirs[0]), 'diff'), ...imageLayerDirs]
}
