/**
 * tmpfs options, Docker `--tmpfs` style ("size=64m,mode=1777,noexec").
 * Size, mode and ownership become the tmpfs data string; the flag words
 * become mount flags. Anything else is refused rather than passed to the
 * kernel, so a typo is an EINVALID here, not a start failure later.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import { MS_NODEV, MS_NOEXEC, MS_NOSUID } from '../sys/libc'

/** flags and data for a tmpfs mount. */
export interface TmpfsSettings {
  flags: number
  data: string
  readOnly: boolean
}

/** What every tmpfs gets unless told otherwise: no setuid programs, no device nodes. */
export const TMPFS_DEFAULT_FLAGS = MS_NOSUID | MS_NODEV

const sizePattern = /^\d+[kmgtKMGT%]?$/
const valuePatterns: Record<string, RegExp> = {
  size: sizePattern,
  nr_blocks: sizePattern,
  nr_inodes: sizePattern,
  mode: /^[0-7]{1,4}$/,
  uid: /^\d+$/,
  gid: /^\d+$/,
}

// [flags to set, flags to clear] per flag word.
const flagWords: Record<string, [number, number]> = {
  noexec: [MS_NOEXEC, 0], exec: [0, MS_NOEXEC],
  nosuid: [MS_NOSUID, 0], suid: [0, MS_NOSUID],
  nodev: [MS_NODEV, 0], dev: [0, MS_NODEV],
}

function invalid(target: string, options: string, why: string): never {
  throw new InvalidArgumentError(`invalid tmpfs options "${options}" for ${target}: ${why}`)
}

/** Parses a tmpfs option string for `target` (named in errors). */
export function parseTmpfsOptions(target: string, options: string): TmpfsSettings {
  let flags = TMPFS_DEFAULT_FLAGS
  let readOnly = false
  const data: string[] = []
  for (const word of options.split(',').filter((w) => w !== '')) {
    const eq = word.indexOf('=')
    if (eq >= 0) {
      const [key, value] = [word.slice(0, eq), word.slice(eq + 1)]
      const pattern = valuePatterns[key] ?? invalid(target, options, `unknown option "${key}"`)
      if (!pattern.test(value)) invalid(target, options, `bad value "${value}" for ${key}`)
      data.push(`${key}=${value}`)
    } else if (word === 'ro' || word === 'rw') {
      readOnly = word === 'ro'
    } else {
      const [set, clear] = flagWords[word] ?? invalid(target, options, `unknown option "${word}"`)
      flags = (flags | set) & ~clear
    }
  }
  return { flags, data: data.join(','), readOnly }
}

/** The option string for the typed form's tmpfsSize (bytes or "64m") and tmpfsMode (permission bits). */
export function tmpfsOptionString(target: string, size?: number | string, mode?: number): string {
  const parts: string[] = []
  if (size !== undefined) {
    if (typeof size === 'number' && !(Number.isSafeInteger(size) && size > 0)) invalid(target, String(size), 'tmpfsSize must be a positive whole number of bytes')
    parts.push(`size=${size}`)
  }
  if (mode !== undefined) {
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) invalid(target, String(mode), 'tmpfsMode must be permission bits such as 0o1777')
    parts.push(`mode=${mode.toString(8)}`)
  }
  return parts.join(',')
}
