/**
 * Whether a child cloned straight into a cgroup (clone3's CLONE_INTO_CGROUP)
 * takes that cgroup's cpuset. Before Linux commit 42a11bf5c543
 * ("cgroup/cpuset: Make cpuset_fork() handle CLONE_INTO_CGROUP properly",
 * mainline 6.3) it kept its parent's CPUs and memory nodes. The fix went to
 * the 6.2 and 6.1 stable trees in April 2023 (Debian 12's 6.1 has
 * it) but not to every older one (Debian 11's 5.10 lacks it), and
 * distributions backport on their own (Debian's release, 6.1.0-28, does not
 * even name its stable sublevel), so the release number decides only from
 * 6.3 on. Below that, the fix is looked for once: the function it added,
 * cpuset_attach_task, in /proc/kallsyms (names are listed whatever
 * kptr_restrict hides of addresses). That listing takes the kernel 80-250 ms
 * to write, so it is read in the background: until it is, and where it
 * cannot tell (no kallsyms, the function inlined), the answer is no, and the
 * container joins by writing its pid, which is only slower.
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
 * Whether the kernel of `release`, whose symbol list is `kallsyms` (undefined when unread or
 * unreadable; needed only below 6.3), applies a cgroup's cpuset to a child cloned into it.
 */
export function cloneIntoAppliesCpuset(release: string, kallsyms: string | undefined): boolean {
  return kernelAtLeast(release, fixedSince) || fixSymbol.test(kallsyms ?? '')
}

/** This host's answer once known; the background read of its symbol list while under way. */
let hostAnswer: boolean | undefined
let hostProbe: Promise<void> | undefined

/**
 * {@link cloneIntoAppliesCpuset} for this host, found out once per process; below 6.3, false until the
 * symbol list read in the background (started by the first call) has answered.
 */
export function hostCloneIntoAppliesCpuset(): boolean {
  if (hostAnswer !== undefined) return hostAnswer
  if (kernelAtLeast(hostKernelRelease, fixedSince)) return (hostAnswer = true)
  hostProbe ??= fs.promises.readFile('/proc/kallsyms', 'latin1').then(
    (list) => void (hostAnswer = cloneIntoAppliesCpuset(hostKernelRelease, list)),
    () => void (hostAnswer = false),
  )
  return false
}
