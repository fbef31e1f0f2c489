/**
 * Whether a child cloned straight into a cgroup (clone3's CLONE_INTO_CGROUP)
 * takes that cgroup's cpuset. Before Linux commit 42a11bf5c543
 * ("cgroup/cpuset: Make cpuset_fork() handle CLONE_INTO_CGROUP properly",
 * mainline 6.3) it kept its parent's CPUs and memory nodes. The fix went to
 * the 6.2 and 6.1 stable trees in April 2023 (6.1.25: Debian 12's 6.1 has
 * it) but not to every older one (Debian 11's 5.10 lacks it), and
 * distributions backport on their own, so the release number decides only
 * from 6.3 on. Below that, the fix is looked for once: the function it
 * added, cpuset_attach_task, listed in /proc/kallsyms (names are listed
 * whatever kptr_restrict hides of addresses). Where the list cannot tell
 * (no kallsyms, or the function inlined), the answer is no: joining by
 * writing the pid is only slower.
 *
 * @module
 */
import * as fs from 'node:fs'
import { hostKernelRelease, kernelAtLeast } from '../sys/kernel'

/** The mainline release that has the fix. */
const fixedSince = '6.3'
/** The function the fix added, so present exactly where it is (a backport included). */
const fixSymbol = /^[0-9a-f]+ [tT] cpuset_attach_task(?:\.\S+)?$/m

/**
 * Whether the kernel of `release`, with the symbol list `kallsyms()` reads (undefined when
 * unreadable; read only below 6.3), applies a cgroup's cpuset to a child cloned into it.
 */
export function cloneIntoAppliesCpuset(release: string, kallsyms: () => string | undefined): boolean {
  if (kernelAtLeast(release, fixedSince)) return true
  return fixSymbol.test(kallsyms() ?? '')
}

/** The kernel's symbol list, or undefined where there is none. */
function readKallsyms(): string | undefined {
  try {
    return fs.readFileSync('/proc/kallsyms', 'latin1')
  } catch {
    return undefined
  }
}

let hostAnswer: boolean | undefined

/** {@link cloneIntoAppliesCpuset} for this host, found out once per process. */
export function hostCloneIntoAppliesCpuset(): boolean {
  hostAnswer ??= cloneIntoAppliesCpuset(hostKernelRelease, readKallsyms)
  return hostAnswer
}
