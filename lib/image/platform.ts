/**
 * Platforms ("linux/arm64/v8") as image indexes name them, the host's
 * platform, and how an index entry is matched against the one asked for.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'

/** A platform as the OCI image spec describes it. */
export interface Platform {
  os: string
  architecture: string
  variant?: string
}

// Node's process.arch names -> Go's GOARCH names used by images.
const goArch: Partial<Record<NodeJS.Architecture, string>> = {
  x64: 'amd64',
  ia32: '386',
  arm64: 'arm64',
  arm: 'arm',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  mips: 'mips',
  mipsel: 'mipsle',
  loong64: 'loong64',
}

/** The variant an architecture implies when an index entry gives none (as containerd normalises it). */
const defaultVariant: Record<string, string> = { arm64: 'v8', arm: 'v7' }

/** The platform of this machine, e.g. { os: 'linux', architecture: 'amd64' }. */
export function hostPlatform(): Platform {
  const architecture = goArch[process.arch] ?? process.arch
  const variant = architecture === 'arm' ? `v${(process.config.variables as { arm_version?: string }).arm_version ?? '7'}` : defaultVariant[architecture]
  return { os: 'linux', architecture, ...(variant ? { variant } : {}) }
}

/** Parses "os/arch[/variant]" (e.g. "linux/arm64/v8"); EINVALID otherwise. */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/')
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/.test(p)))
    throw new InvalidArgumentError(`invalid platform "${s}": use os/architecture[/variant], e.g. "linux/amd64" or "linux/arm64/v8"`)
  const [os, arch, variant] = parts
  const architecture = arch === 'x86_64' || arch === 'x86-64' ? 'amd64' : arch === 'aarch64' ? 'arm64' : arch
  return { os, architecture, ...(variant ? { variant } : {}) }
}

/** "linux/arm64/v8". */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/')
}

/** True when an index entry's platform serves the wanted one (an entry without variant serves the architecture's default). */
export function platformMatches(wanted: Platform, entry: Platform): boolean {
  if (entry.os !== wanted.os || entry.architecture !== wanted.architecture) return false
  if (!wanted.variant) return true
  return (entry.variant ?? defaultVariant[entry.architecture]) === wanted.variant
}
