/**
 * `Runtime.preflight()`: what rootless mode needs on this host, checked
 * for real (a user namespace with a tmpfs and an overlay mounted in it, made
 * by mc-shim), and for each thing that is missing, the exact fix. It reads
 * and probes only; it changes nothing and leaves nothing behind.
 *
 * @module
 */
import { cgroupVariable, findDelegation } from './cgroup-delegation'
import { readSysctl } from '../sys/sysctl'
import { chooseEgressHelpers } from './egress-choice'
import { findHelper, tunAccess } from './host-facts'
import { subordinateRanges, type SubidRange } from './subids'
import { userName } from './id-maps'
import { readUsernsContext, usernsBlocked, usernsCause, usernsFinding, usernsFix, type UsernsBlockCause, type UsernsContext } from './userns-cause'
import { probeUserNamespace, type ProbeStep, type UsernsProbe } from './userns-probe'

/** One check of {@link PreflightReport}. */
export interface PreflightCheck {
  /** Whether this host passes it. */
  ok: boolean
  /** Whether rootless containers need it (a failed optional check only loses a feature: egress, limits, low ports). */
  required: boolean
  /** What was found, in words. */
  found: string
  /** When not ok: the exact fix. */
  fix?: string
}

/** The user namespace check: the probe's result and, when blocked, why. */
export interface UserNamespaceCheck extends PreflightCheck {
  /** What refuses user namespaces, when something does. */
  cause?: UsernsBlockCause
  /** The probe step that failed (userns, idmap, mountns, mount), when one did. */
  failedStep?: ProbeStep
  /** Its errno name. */
  errno?: string
}

/** A subordinate id check: the ranges found and where. */
export interface SubidCheck extends PreflightCheck {
  /** The caller's ranges. */
  ranges: SubidRange[]
  /** Where they were read: 'libsubid' (nsswitch-aware, the uidmap package), else the file. */
  source: string
}

/** What {@link Runtime.preflight} found: one field per check. */
export interface PreflightReport {
  /** Whether every required check passed: rootless containers can run here (see RuntimeOptions.rootless). */
  ok: boolean
  /** Whether `new Runtime()` (rootless: 'auto') runs rootless for this process: its effective uid is not 0. */
  rootless: boolean
  /** The caller's uid. */
  uid: number
  /** The caller's user name ('' when its uid has no passwd entry). */
  user: string
  /** A user namespace made by mc-shim, the caller mapped to root in it, a tmpfs mounted in it. */
  userNamespaces: UserNamespaceCheck
  /** An overlay with userxattr mounted in that namespace, a lower directory removed and made again through it. */
  overlayInUserNamespace: PreflightCheck
  /** The caller's subordinate uids (/etc/subuid or nsswitch through libsubid). */
  subordinateUids: SubidCheck
  /** The caller's subordinate gids. */
  subordinateGids: SubidCheck
  /** newuidmap and newgidmap, setuid root (or with file capabilities). */
  idMapHelpers: PreflightCheck
  /** kernel.apparmor_restrict_unprivileged_userns. */
  apparmorRestriction: PreflightCheck
  /** kernel.unprivileged_userns_clone (Debian kernels before 6.x). */
  unprivilegedUsernsClone: PreflightCheck
  /** user.max_user_namespaces. */
  maxUserNamespaces: PreflightCheck
  /** This process's seccomp mode. */
  seccomp: PreflightCheck
  /** A cgroup v2 directory delegated to the caller (resource limits, pause, stats). */
  cgroupDelegation: PreflightCheck
  /** /dev/net/tun opened read-write (egress through pasta or slirp4netns). */
  tunDevice: PreflightCheck
  /** The egress helpers installed and the one tried first (slirp4netns before Debian 12's pasta). */
  egressHelper: PreflightCheck
  /** net.ipv4.ip_unprivileged_port_start (publishing ports below it needs root). */
  unprivilegedPortStart: PreflightCheck
}

function check(ok: boolean, required: boolean, found: string, fix: string): PreflightCheck {
  return ok ? { ok, required, found } : { ok, required, found, fix }
}

function userNamespaces(probe: UsernsProbe, ctx: UsernsContext): UserNamespaceCheck {
  if (!usernsBlocked(probe)) return { ok: true, required: true, found: 'made one, mapped this user to root in it and mounted a tmpfs there' }
  const cause = usernsCause(probe, ctx)
  return { ok: false, required: true, found: usernsFinding(probe, cause), fix: usernsFix(cause), cause, failedStep: probe.failedStep, errno: probe.errno }
}

function overlay(probe: UsernsProbe): PreflightCheck {
  if (usernsBlocked(probe)) return check(false, true, 'not tried: no user namespace', 'fix the user namespace check first')
  const ok = probe.failedStep === undefined
  const found = ok ? 'an overlay with userxattr mounted, a lower directory removed and made again through it' : `${probe.failedStep} failed with ${probe.errno}`
  return check(ok, true, found, 'a kernel of 5.11 or later (overlay in a user namespace, with userxattr)')
}

function subids(kind: 'uid' | 'gid', user: string, uid: number): SubidCheck {
  const { ranges, source } = subordinateRanges(kind, user, uid)
  const total = ranges.reduce((n, r) => n + r.count, 0)
  const found = ranges.length ? `${ranges.map((r) => `${r.start}:${r.count}`).join(', ')} (${source})` : `none for ${user || uid} (${source})`
  const fix = `sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user || uid} (pick a range no other user has: see /etc/subuid and /etc/subgid)`
  // Optional: without a range a container maps this user alone (images whose files belong to other ids are squashed).
  return { ...check(total >= 65536, false, found, fix), ranges, source }
}

function idMapHelpers(): PreflightCheck {
  const helpers = ['newuidmap', 'newgidmap'].map((name) => ({ name, ...findHelper(name) }))
  const found = helpers.map((h) => `${h.name}: ${h.path ? `${h.path}${h.privileged ? ' (setuid)' : ' (not setuid root)'}` : 'missing'}`).join(', ')
  return check(
    helpers.every((h) => h.privileged),
    false,
    found,
    'install the uidmap package (Debian/Ubuntu: sudo apt-get install uidmap; Fedora: shadow-utils)',
  )
}

function sysctlCheck(name: string, value: number | undefined, ok: (v: number) => boolean, fix: string): PreflightCheck {
  if (value === undefined) return check(true, false, 'absent: this kernel has no such switch', fix)
  return check(ok(value), false, `${name} = ${value}`, fix)
}

function seccomp(mode: number | undefined, usernsCheck: UserNamespaceCheck): PreflightCheck {
  const names = ['disabled', 'strict', 'filter']
  const found = mode === undefined ? 'unknown' : `${names[mode] ?? mode}${mode === 2 ? ' (a filter is installed, e.g. by Docker or systemd)' : ''}`
  return check(usernsCheck.cause !== 'seccomp', false, found, usernsFix('seccomp'))
}

function cgroupDelegation(): PreflightCheck {
  const found = findDelegation()
  if ('problem' in found) return check(false, false, found.problem, found.fix)
  return check(true, false, `${found.dir} (${found.via === 'systemd' ? "systemd's user manager" : cgroupVariable})`, '')
}

function tunDevice(): PreflightCheck {
  const access = tunAccess()
  const found = access === true ? '/dev/net/tun opens read-write' : `/dev/net/tun: ${access}`
  return check(access === true, false, found, 'sudo chmod 0666 /dev/net/tun (the udev default on desktop distributions); without it containers get no outbound network')
}

async function egressHelper(): Promise<PreflightCheck> {
  const { order, paths, pastaProblem } = await chooseEgressHelpers()
  const fix = "sudo apt-get install slirp4netns (or a pasta released after March 2023, as Debian 13's)"
  if (!order.length) return check(false, false, 'neither pasta nor slirp4netns is installed: containers get no outbound network', 'sudo apt-get install passt (or slirp4netns)')
  const [first, ...rest] = order
  const found = `${first} (${paths[first!]}) first${rest.length ? `, then ${rest.join(', ')}` : ''}${pastaProblem ? `: ${pastaProblem}` : ''}`
  // Debian 12's pasta alone still gives egress, with hangs to fear: a warning with the fix.
  return check(first !== 'pasta' || !pastaProblem, false, found, fix)
}

function unprivilegedPortStart(): PreflightCheck {
  const start = readSysctl('net.ipv4.ip_unprivileged_port_start')
  const ok = start === undefined || start === 0 || process.geteuid?.() === 0
  const found = start === undefined ? 'unknown' : `net.ipv4.ip_unprivileged_port_start = ${start}${start > 0 ? `: host ports below ${start} need root` : ''}`
  return check(ok, false, found, 'publish host ports at or above it, or sudo sysctl -w net.ipv4.ip_unprivileged_port_start=0')
}

/** Runs every check; see {@link PreflightReport}. */
export async function preflight(): Promise<PreflightReport> {
  const probe = await probeUserNamespace()
  const ctx = readUsernsContext()
  const uid = process.geteuid?.() ?? -1
  const user = userName()
  const maxUserns = readSysctl('user.max_user_namespaces')
  const usernsCheck = userNamespaces(probe, ctx)
  const report: Omit<PreflightReport, 'ok'> = {
    rootless: uid !== 0,
    uid,
    user,
    userNamespaces: usernsCheck,
    overlayInUserNamespace: overlay(probe),
    subordinateUids: subids('uid', user, uid),
    subordinateGids: subids('gid', user, uid),
    idMapHelpers: idMapHelpers(),
    apparmorRestriction: sysctlCheck('kernel.apparmor_restrict_unprivileged_userns', ctx.apparmorRestrict, (v) => v === 0 || usernsCheck.cause !== 'apparmor', usernsFix('apparmor')),
    unprivilegedUsernsClone: sysctlCheck('kernel.unprivileged_userns_clone', ctx.unprivilegedUsernsClone, (v) => v !== 0, usernsFix('unprivileged_userns_clone')),
    // The value is per user namespace and says little from inside one; the probe's ENOSPC is what counts.
    maxUserNamespaces: sysctlCheck('user.max_user_namespaces', maxUserns, (v) => v > 0 && usernsCheck.cause !== 'max_user_namespaces', usernsFix('max_user_namespaces')),
    seccomp: seccomp(ctx.seccompMode, usernsCheck),
    cgroupDelegation: cgroupDelegation(),
    tunDevice: tunDevice(),
    egressHelper: await egressHelper(),
    unprivilegedPortStart: unprivilegedPortStart(),
  }
  return { ok: allRequiredPass(report), ...report }
}

function allRequiredPass(report: Omit<PreflightReport, 'ok'>): boolean {
  return Object.values(report).every((v) => typeof v !== 'object' || !(v as PreflightCheck).required || (v as PreflightCheck).ok)
}
