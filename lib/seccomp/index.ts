/**
 * Seccomp for containers: Docker's default profile (docker-default.json,
 * from moby), profiles in Docker's JSON format, and the filter each
 * container process gets. Compiled filters are cached by profile and
 * capability set, so a start costs a map lookup.
 *
 * @module
 */
import { capabilityNames } from '../shim/capabilities'
import { hostArch } from './arch'
import { compileProfile, type CompiledFilter } from './compile'
import dockerDefault from './docker-default.json'
import { parseProfile, parseProfileText, type SeccompProfile } from './profile'
import { hostKernelRelease } from '../sys/kernel'
import { normaliseSecurityOpt, securitySettings } from './security-opt'

export type { CompiledFilter } from './compile'
export type { SeccompProfile } from './profile'
export { securitySettings, securityOptParts } from './security-opt'

let defaultProfile: SeccompProfile | undefined

/** Docker's default profile (moby's profiles/seccomp/default.json). */
export function dockerDefaultProfile(): SeccompProfile {
  defaultProfile ??= parseProfile(dockerDefault)
  return defaultProfile
}

const cache = new Map<string, CompiledFilter>()
const cacheSize = 32

function compileCached(key: string, profile: () => SeccompProfile, capabilities: bigint): CompiledFilter {
  const full = `${capabilities}\0${key}`
  let filter = cache.get(full)
  if (!filter) {
    filter = compileProfile(profile(), { capabilities: capabilityNames(capabilities), arch: hostArch(), kernel: hostKernelRelease })
    if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!)
    cache.set(full, filter)
  }
  return filter
}

/** Checks profile text the way a start would use it; throws EINVALID with the reason. */
function checkProfile(text: string, source: string): void {
  compileProfile(parseProfileText(text, source), { capabilities: [], arch: hostArch(), kernel: hostKernelRelease })
}

/** Validates `securityOpt` at create; profile paths are replaced by the profile's JSON text (see security-opt.ts). */
export function recordSecurityOpt(opts: unknown): string[] {
  return normaliseSecurityOpt(opts, checkProfile)
}

/** What a container process gets: the filter to install (none when unconfined) and no_new_privs. */
export interface ProcessSecurity {
  seccomp?: CompiledFilter
  noNewPrivileges: boolean
}

/**
 * The security settings of a container's processes (its program and its
 * execs). As in Docker, `privileged` runs without the default profile but
 * keeps an explicitly given one.
 */
export function processSecurity(opts: { securityOpt?: readonly string[]; privileged: boolean; capabilities: bigint }): ProcessSecurity {
  const { seccomp, noNewPrivileges } = securitySettings(opts.securityOpt)
  if (seccomp.kind === 'unconfined' || (seccomp.kind === 'default' && opts.privileged)) return { noNewPrivileges }
  const filter =
    seccomp.kind === 'default'
      ? compileCached('default', dockerDefaultProfile, opts.capabilities)
      : compileCached(seccomp.text, () => parseProfileText(seccomp.text, 'of the container'), opts.capabilities)
  return { seccomp: filter, noNewPrivileges }
}
