/**
 * A cgroup's directories made and its files written in one native call (native/cgroup-make.c):
 * a v1 container cgroup is eight mkdirs and a dozen writes of device rules, whose Node fs calls
 * cost as much again as the kernel's work.
 *
 * @module
 */
import { errnoName, nativeFunctions } from './libc'

const native = nativeFunctions({
  cgroupMake: 'int mc_cgroup_make(const char **dirs, const char **writes)',
})

/** Which operation of {@link makeAndWrite} failed, and how. */
export interface BatchFailure {
  /** The directory that could not be made, or the file that could not be written. */
  path: string
  /** The value being written (absent for a directory). */
  value?: string
  /** errno's name, e.g. EEXIST. */
  code: string
}

/**
 * Each of `dirs` made (an empty one already there removed and made again: EEXIST for one still in
 * use), then each `[file, value]` of `writes` written, in order (one write each; consecutive values
 * for one file through one open). Undefined once all are done; on the first failure, what failed,
 * with every directory made removed again.
 */
export function makeAndWrite(dirs: readonly string[], writes: ReadonlyArray<readonly [string, string]>): BatchFailure | undefined {
  const r: number = native().cgroupMake([...dirs, null], [...writes.flat(), null])
  if (r === 0) return undefined
  const op = Math.floor(-r / 4096) - 1
  const code = errnoName(-r % 4096)
  if (op < dirs.length) return { path: dirs[op]!, code }
  const [path, value] = writes[op - dirs.length]!
  return { path, value, code }
}
