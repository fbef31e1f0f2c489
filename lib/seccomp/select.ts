/**
 * Which rules of a profile apply to one container on this host, as Docker
 * decides it (moby's profiles/seccomp setupSeccomp): `includes` must all
 * hold and no `excludes` may hold, judged on the container's capabilities,
 * the host's architecture and its kernel version. Also the architectures
 * the profile covers.
 *
 * @module
 */
import { archInfo, type NativeArch } from './arch'
import type { SeccompProfile, SeccompRuleFilter, SeccompSyscallRule } from './profile'
import { kernelAtLeast } from '../sys/kernel'

/** What a rule's includes/excludes are judged on. */
export interface RuleContext {
  /** Capability names of the container's bounding set, "CAP_SYS_ADMIN" style. */
  capabilities: string[]
  arch: NativeArch
  /** The host kernel's release, e.g. "6.18.44" (os.release()). */
  kernel: string
}

/** Whether every condition of `f` holds (includes), or any does (excludes). */
function holds(f: SeccompRuleFilter, ctx: RuleContext, every: boolean): boolean {
  const arch = archInfo[ctx.arch].docker
  const checks: boolean[] = []
  if (f.arches?.length) checks.push(f.arches.includes(arch))
  if (f.caps?.length) checks.push(every ? f.caps.every((c) => ctx.capabilities.includes(c)) : f.caps.some((c) => ctx.capabilities.includes(c)))
  if (f.minKernel) checks.push(kernelAtLeast(ctx.kernel, f.minKernel))
  return every ? checks.every(Boolean) : checks.some(Boolean)
}

/** The rules that apply to this container, in profile order. */
export function selectRules(profile: SeccompProfile, ctx: RuleContext): SeccompSyscallRule[] {
  return profile.syscalls.filter((r) => !(r.excludes && holds(r.excludes, ctx, false)) && !(r.includes && !holds(r.includes, ctx, true)))
}

/** libseccomp names of the architectures the profile covers besides the native one. */
export function listedArches(profile: SeccompProfile, arch: NativeArch): string[] {
  if (profile.architectures) return profile.architectures
  const entry = profile.archMap?.find((e) => e.architecture === archInfo[arch].scmp)
  return entry ? [entry.architecture, ...(entry.subArchitectures ?? [])] : []
}

