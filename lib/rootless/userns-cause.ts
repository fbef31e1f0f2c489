/**
 * Why user namespaces are refused here, and the one fix for that cause:
 * from the probe's failed step and errno, and the sysctls and seccomp mode
 * that explain it. Shared by the preflight report and the EUSERNS error.
 *
 * @module
 */
import { UserNamespaceError } from '../errors'
import { shimPath } from '../shim/shim-path'
import { readSysctl } from '../sys/sysctl'
import { seccompMode } from './host-facts'
import type { UsernsProbe } from './userns-probe'

/** What refuses user namespaces. */
export type UsernsBlockCause = 'max_user_namespaces' | 'nesting' | 'unprivileged_userns_clone' | 'apparmor' | 'seccomp' | 'unknown'

/** The facts a cause is read from. */
export interface UsernsContext {
  /** kernel.unprivileged_userns_clone (Debian's switch), when the kernel has it. */
  unprivilegedUsernsClone?: number
  /** kernel.apparmor_restrict_unprivileged_userns (Ubuntu 23.10+), when the kernel has it. */
  apparmorRestrict?: number
  /** The Seccomp: mode of this process. */
  seccompMode?: number
}

/** The switches of this host and process that explain a refusal. */
export function readUsernsContext(): UsernsContext {
  return {
    unprivilegedUsernsClone: readSysctl('kernel.unprivileged_userns_clone'),
    apparmorRestrict: readSysctl('kernel.apparmor_restrict_unprivileged_userns'),
    seccompMode: seccompMode(),
  }
}

/** EUSERS (too many nested user namespaces) is missing from Node's errno table, so errnoName gives its number (87 on Linux's generic and x86 tables). */
const eusers = 'errno 87'

/** Whether the probe failed before it had a mount in a user namespace (an overlay failure is not a namespace block). */
export function usernsBlocked(probe: UsernsProbe): boolean {
  return probe.failedStep !== undefined && probe.failedStep !== 'overlay' && probe.failedStep !== 'whiteout'
}

/** The cause of a blocked probe, most specific first: the errno itself, then the switches that explain an EPERM. */
export function usernsCause(probe: UsernsProbe, ctx: UsernsContext): UsernsBlockCause {
  if (probe.errno === 'ENOSPC') return 'max_user_namespaces'
  if (probe.errno === 'EUSERS' || probe.errno === eusers) return 'nesting'
  if (ctx.unprivilegedUsernsClone === 0 && process.geteuid?.() !== 0) return 'unprivileged_userns_clone'
  if (ctx.apparmorRestrict === 1) return 'apparmor'
  if (ctx.seccompMode === 2) return 'seccomp'
  return 'unknown'
}

/** The cause told in words. */
const causeText: Record<UsernsBlockCause, string> = {
  max_user_namespaces: 'the user namespace limit (user.max_user_namespaces) is 0 or used up for this namespace',
  nesting: 'user namespaces nest 32 deep at most, and this process is already that deep',
  unprivileged_userns_clone: "Debian's kernel.unprivileged_userns_clone is 0",
  apparmor: "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1, Ubuntu 23.10+ and GitHub's ubuntu-24.04 runners)",
  seccomp: "this process runs under a seccomp filter that refuses user namespaces (Docker's default profile does)",
  unknown: 'the kernel or a security module refused it',
}

/** The one fix for a cause. */
export function usernsFix(cause: UsernsBlockCause): string {
  switch (cause) {
    case 'max_user_namespaces':
      return 'raise the limit: sudo sysctl -w user.max_user_namespaces=15000 (inside a container, in the namespace that owns it)'
    case 'nesting':
      return 'run from a less deeply nested container or namespace'
    case 'unprivileged_userns_clone':
      return 'sudo sysctl -w kernel.unprivileged_userns_clone=1 (persist it in /etc/sysctl.d/)'
    case 'apparmor':
      return (
        'sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or allow mc-shim alone: write /etc/apparmor.d/minicontainer-shim with ' +
        `"abi <abi/4.0>, include <tunables/global> profile minicontainer-shim ${shimPath} flags=(unconfined) { userns, }" and run sudo apparmor_parser -r /etc/apparmor.d/minicontainer-shim`
      )
    case 'seccomp':
      return 'inside Docker, start that container with --security-opt seccomp=unconfined --security-opt systempaths=unconfined (or a profile that allows unshare/clone with CLONE_NEWUSER)'
    case 'unknown':
      return 'look for a security module denial in the kernel log (dmesg) and run npx minicontainer doctor'
  }
}

/** "cause (step failed with errno)" for a blocked probe. */
export function usernsFinding(probe: UsernsProbe, cause: UsernsBlockCause): string {
  return `${causeText[cause]} (${probe.failedStep} failed with ${probe.errno})`
}

/** The EUSERNS error of a blocked probe: the cause and its one fix. */
export function userNamespaceError(probe: UsernsProbe, ctx: UsernsContext): UserNamespaceError {
  const cause = usernsCause(probe, ctx)
  return new UserNamespaceError(`rootless containers need user namespaces, and this host refuses them: ${usernsFinding(probe, cause)}; fix: ${usernsFix(cause)}`)
}
