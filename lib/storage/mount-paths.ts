/**
 * The two kinds of path in a mount: the host side (absolute, cleaned) and
 * the container side (absolute, cleaned, never `/`). Cleaning happens here
 * once so duplicates like `/data` and `/data/` are caught; where the
 * container path really leads is decided later by the shim, inside the
 * container root.
 *
 * @module
 */
import * as path from 'node:path'
import { InvalidArgumentError } from '../errors'

function cleanAbsolute(p: string): string {
  const clean = path.posix.normalize(p)
  return clean.length > 1 && clean.endsWith('/') ? clean.slice(0, -1) : clean
}

function checkText(p: string, what: string, spec: string): void {
  if (typeof p !== 'string' || p === '') throw new InvalidArgumentError(`invalid mount ${JSON.stringify(spec)}: empty ${what}`)
  if (p.includes('\0')) throw new InvalidArgumentError(`invalid mount ${JSON.stringify(spec)}: NUL byte in ${what}`)
}

/** Validates and cleans a container path; `spec` is the user's text, quoted in errors. */
export function containerPath(p: string, spec: string): string {
  checkText(p, 'container path', spec)
  if (!p.startsWith('/'))
    throw new InvalidArgumentError(`invalid mount ${JSON.stringify(spec)}: container path "${p}" must be absolute`)
  const clean = cleanAbsolute(p)
  if (clean === '/') throw new InvalidArgumentError(`invalid mount ${JSON.stringify(spec)}: cannot mount over "/"`)
  return clean
}

/** Validates and cleans an absolute host path; `spec` is the user's text, quoted in errors. */
export function hostPath(p: string, spec: string): string {
  checkText(p, 'host path', spec)
  if (!p.startsWith('/'))
    throw new InvalidArgumentError(`invalid mount ${JSON.stringify(spec)}: host path "${p}" must be absolute`)
  return cleanAbsolute(p)
}
