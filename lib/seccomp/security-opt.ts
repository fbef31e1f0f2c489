/**
 * `docker run --security-opt`: seccomp=unconfined|builtin|<profile file>,
 * no-new-privileges[=bool]. A profile file is read once, at create, and
 * its content kept in the record (as Docker keeps it in HostConfig), so a
 * container restarts the same even if the file changes or goes away.
 *
 * @module
 */
import * as fs from 'node:fs'
import { InvalidArgumentError } from '../errors'

/** The seccomp choice of a container: Docker's default profile, none, or a profile's JSON text. */
export type SeccompChoice = { kind: 'default' } | { kind: 'unconfined' } | { kind: 'profile'; text: string }

/** What a container's security options ask for. */
export interface SecuritySettings {
  seccomp: SeccompChoice
  noNewPrivileges: boolean
}

const usage = 'expected "seccomp=unconfined", "seccomp=<path to a profile in Docker\'s JSON format>" or "no-new-privileges"'

/** An option's key and value: "k=v", or the old "k:v"; a bare word has no value. */
export function securityOptParts(opt: string): [string, string | undefined] {
  const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : undefined
  if (!sep) return [opt, undefined]
  const at = opt.indexOf(sep)
  return [opt.slice(0, at), opt.slice(at + 1)]
}

function bool(v: string, opt: string): boolean {
  if (/^(1|t|true)$/i.test(v)) return true
  if (/^(0|f|false)$/i.test(v)) return false
  throw new InvalidArgumentError(`invalid securityOpt ${JSON.stringify(opt)}: ${JSON.stringify(v)} is not a boolean`)
}

function seccompChoice(v: string): SeccompChoice {
  if (v === 'unconfined') return { kind: 'unconfined' }
  if (v === 'builtin' || v === 'default') return { kind: 'default' }
  // In a record the value is the profile's JSON text (normaliseSecurityOpt read the file).
  return { kind: 'profile', text: v }
}

/** Reads the settings from a record's (normalised) securityOpt list. */
export function securitySettings(opts: readonly string[] | undefined): SecuritySettings {
  const settings: SecuritySettings = { seccomp: { kind: 'default' }, noNewPrivileges: false }
  for (const opt of opts ?? []) {
    if (typeof opt !== 'string') throw new InvalidArgumentError(`invalid securityOpt ${JSON.stringify(opt)}: ${usage}`)
    const [key, value] = securityOptParts(opt)
    if (key === 'no-new-privileges') settings.noNewPrivileges = value === undefined ? true : bool(value, opt)
    else if (key === 'seccomp' && value) settings.seccomp = seccompChoice(value)
    // We apply no AppArmor profile or SELinux label: asking for none of either is already true.
    else if ((key === 'apparmor' && value === 'unconfined') || (key === 'label' && value === 'disable') || opt === 'disable') continue
    else throw new InvalidArgumentError(`invalid securityOpt ${JSON.stringify(opt)}: ${usage} (AppArmor and SELinux options other than "apparmor=unconfined" and "label=disable" are not supported)`)
  }
  return settings
}

/**
 * Validates `securityOpt` at create and replaces a profile path by the
 * profile's JSON text. `check` validates profile text (throws EINVALID).
 */
export function normaliseSecurityOpt(opts: unknown, check: (text: string, source: string) => void): string[] {
  if (opts === undefined) return []
  if (!Array.isArray(opts)) throw new InvalidArgumentError(`option "securityOpt" must be an array of strings: ${usage}`)
  securitySettings(opts)
  return opts.map((opt: string) => {
    const [key, value] = securityOptParts(opt)
    if (key !== 'seccomp' || !value || value === 'unconfined' || value === 'builtin' || value === 'default') return opt
    const inline = value.trimStart().startsWith('{')
    let text = value
    if (!inline) {
      try {
        text = fs.readFileSync(value, 'utf8')
      } catch (err) {
        throw new InvalidArgumentError(`cannot read seccomp profile ${value}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
      }
    }
    check(text, inline ? 'given inline' : value)
    return `seccomp=${text}`
  })
}
