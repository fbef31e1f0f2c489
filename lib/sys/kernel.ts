/**
 * The kernel release, compared as Docker and the seccomp profile's
 * `minKernel` compare it, and the features minicontainer cannot do without,
 * with the release that brought each. Features that have a fallback are not
 * listed here (PIDFD_THREAD, 6.9, for the owner watch; `lowerdir+`, 6.8, for
 * overlay layers; CLOSE_RANGE_CLOEXEC, 5.11, in the shim): the VM lane
 * (test/vm/) runs them on kernels without.
 *
 * @module
 */
import * as os from 'node:os'
import { KernelUnsupportedError } from '../errors'

/** A feature used with no fallback, and the Linux release that brought it. */
export interface KernelFeature {
  /** What it is and what minicontainer does with it. */
  readonly feature: string
  /** The first release that has it ("major.minor"). */
  readonly since: string
}

/** Oldest first: the first one missing is the one named. */
const requiredKernelFeatures: readonly KernelFeature[] = [
  { feature: 'pidfd_open (waiting for a container and signalling it without pid reuse races)', since: '5.3' },
  { feature: 'openat2 with RESOLVE_IN_ROOT (every path resolved inside a container root)', since: '5.6' },
  { feature: 'setns with a pidfd (exec into a running container)', since: '5.8' },
]

/** This host's kernel release (uname -r), read once: it cannot change while the process runs. */
export const hostKernelRelease = os.release()

/** "6.18.44-generic" -> [6, 18]: revisions and suffixes do not count, as in Docker. */
function kernelVersion(release: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release)
  return m ? [Number(m[1]), Number(m[2])] : [0, 0]
}

/** Whether `release` is `min` ("major.minor") or later. */
export function kernelAtLeast(release: string, min: string): boolean {
  const [k, major] = kernelVersion(release)
  const [wantK, wantMajor] = kernelVersion(min)
  return k > wantK || (k === wantK && major >= wantMajor)
}

/** What a rootless runtime needs besides: its layers are overlay mounts made inside a user namespace. */
const rootlessKernelFeatures: readonly KernelFeature[] = [
  { feature: 'overlay mounts in a user namespace, with userxattr (a rootless container\'s root)', since: '5.11' },
]

/** The first required feature `release` lacks, if any. */
export function missingKernelFeature(release: string, rootless = false): KernelFeature | undefined {
  const features = rootless ? [...requiredKernelFeatures, ...rootlessKernelFeatures] : requiredKernelFeatures
  return features.find((f) => !kernelAtLeast(release, f.since))
}

/** Throws EUNSUPPORTED naming the first feature this host's kernel lacks, and the release that has it. */
export function requireKernelFeatures(opts: { rootless?: boolean; release?: string } = {}): void {
  const release = opts.release ?? hostKernelRelease
  const missing = missingKernelFeature(release, opts.rootless)
  if (missing) throw new KernelUnsupportedError(missing.feature, missing.since, release)
}
