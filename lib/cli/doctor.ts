/**
 * `minicontainer doctor [--json]`: the preflight report for people (one line
 * per check, the fix under each failure) or for programs (the report as
 * JSON). Exit status 1 when a required check fails.
 *
 * @module
 */
import { preflight, type PreflightCheck, type PreflightReport } from '../rootless/preflight'

/** The checks in the order people read them, with their labels. */
const labels: ReadonlyArray<[keyof PreflightReport, string]> = [
  ['userNamespaces', 'user namespaces'],
  ['overlayInUserNamespace', 'overlay in a user namespace'],
  ['subordinateUids', 'subordinate uids'],
  ['subordinateGids', 'subordinate gids'],
  ['idMapHelpers', 'newuidmap/newgidmap'],
  ['apparmorRestriction', 'AppArmor userns restriction'],
  ['unprivilegedUsernsClone', 'unprivileged_userns_clone'],
  ['maxUserNamespaces', 'max_user_namespaces'],
  ['seccomp', 'seccomp'],
  ['cgroupDelegation', 'cgroup delegation'],
  ['tunDevice', '/dev/net/tun'],
  ['egressHelper', 'egress helper'],
  ['unprivilegedPortStart', 'unprivileged ports'],
]

/** The report as text: a headline, then "ok"/"FAIL"/"warn" and what was found per check, and "fix:" lines. */
export function formatReport(report: PreflightReport): string {
  const who = `uid ${report.uid}${report.user ? ` (${report.user})` : ''}`
  const lines = [
    `minicontainer doctor: ${who}, ${report.rootless ? 'rootless' : 'root'} mode`,
    report.ok
      ? "user namespaces and overlay work here: rootless containers run (network none; with a subordinate range, in podman's id layout)"
      : 'rootless containers cannot run here: fix the FAIL lines below',
  ]
  for (const [key, label] of labels) {
    const c = report[key] as PreflightCheck
    const status = c.ok ? 'ok  ' : c.required ? 'FAIL' : 'warn'
    lines.push(`  ${status}  ${label.padEnd(30)} ${c.found}`)
    if (c.fix) lines.push(`        fix: ${c.fix}`)
  }
  return lines.join('\n') + '\n'
}

/** Runs the checks and prints them; resolves with the exit status. */
export async function doctor(args: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const report = await preflight()
  out.write(args.includes('--json') ? JSON.stringify(report, null, 2) + '\n' : formatReport(report))
  return report.ok ? 0 : 1
}
