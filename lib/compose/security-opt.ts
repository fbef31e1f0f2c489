/**
 * A service's `security_opt` as run()'s `securityOpt`: no-new-privileges,
 * seccomp=unconfined|builtin|<profile file> (a relative file from the project
 * directory, where `docker compose` is run from), apparmor=unconfined and
 * label=disable pass through; an AppArmor profile or an SELinux label is
 * EUNSUPPORTED naming it (minicontainer applies neither); anything else is
 * EINVALID by the container layer's rules. Pure, but for path resolution.
 *
 * @module
 */
import * as path from 'node:path'
import { securityOptParts, securitySettings } from '../seccomp'
import type { KeyPath } from './key-path'
import { strings, type NormaliseContext } from './values'

const builtinSeccomp = ['unconfined', 'builtin', 'default']

/** One option, with a relative seccomp profile path made absolute. */
function securityOption(opt: string, at: KeyPath, ctx: NormaliseContext): string {
  const [key, value = ''] = securityOptParts(opt)
  if (key === 'apparmor' && value !== 'unconfined')
    ctx.unsupported(at, `"${opt}": minicontainer applies no AppArmor profile; remove it (or write apparmor=unconfined, which is what runs)`)
  if (key === 'label' && value !== 'disable')
    ctx.unsupported(at, `"${opt}": minicontainer applies no SELinux label; remove it (or write label=disable, which is what runs)`)
  if (key !== 'seccomp' || !value || builtinSeccomp.includes(value) || value.trimStart().startsWith('{')) return opt
  return `seccomp=${path.resolve(ctx.workdir, value)}`
}

/** `security_opt`, checked as run() will check it (a profile file is read when the container is made). */
export function securityOpt(v: unknown, at: KeyPath, ctx: NormaliseContext): string[] {
  const out = strings(v, at, ctx).map((opt, i) => securityOption(opt, [...at, i], ctx))
  try {
    securitySettings(out)
  } catch (err) {
    return ctx.fail(at, (err as Error).message)
  }
  return out
}
