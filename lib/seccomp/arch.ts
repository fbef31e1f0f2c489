/**
 * The architectures a filter can tell apart: the AUDIT_ARCH_* value the
 * kernel puts in seccomp_data.arch, the names profiles use for them, and
 * the system call numbers of each (generated from kernel headers, see
 * scripts/gen-syscall-table.js).
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import syscallNumbers from './syscall-numbers.json'

/** An architecture with a system call table here. */
export type SeccompArch = 'x86_64' | 'i386' | 'aarch64'

/** A native architecture: one a container's programs run as (compat ones ride under it). */
export type NativeArch = 'x86_64' | 'aarch64'

interface ArchInfo {
  /** AUDIT_ARCH_* from linux/audit.h. */
  audit: number
  /** libseccomp's name, as in a profile's archMap ("SCMP_ARCH_X86_64"). */
  scmp: string
  /** The name of includes/excludes.arches in Docker's profiles (libseccomp's native names). */
  docker: string
}

/** AUDIT_ARCH_X86_64 = EM_X86_64 | 64BIT | LE, and so on. */
export const archInfo: Record<SeccompArch, ArchInfo> = {
  x86_64: { audit: 0xc000003e, scmp: 'SCMP_ARCH_X86_64', docker: 'amd64' },
  i386: { audit: 0x40000003, scmp: 'SCMP_ARCH_X86', docker: 'x86' },
  aarch64: { audit: 0xc00000b7, scmp: 'SCMP_ARCH_AARCH64', docker: 'arm64' },
}

/**
 * x32 programs run as x86_64 with this bit set in the system call number.
 * The filter denies them: no distribution ships x32 programs, and the ABI
 * has been a source of filter bypasses.
 */
export const X32_SYSCALL_BIT = 0x40000000

/** The compat architectures a native one can run, with a table here. */
const compatOf: Record<NativeArch, SeccompArch[]> = { x86_64: ['i386'], aarch64: [] }

/** The architecture of this Node process, which is the one containers run. */
export function hostArch(): NativeArch {
  if (process.arch === 'x64') return 'x86_64'
  if (process.arch === 'arm64') return 'aarch64'
  throw new InvalidArgumentError(`seccomp profiles are compiled for x86_64 and aarch64 only, not ${process.arch}; run with securityOpt: ["seccomp=unconfined"]`)
}

/** The compat architectures of `native` that a profile lists (libseccomp names), in table order. */
export function compatArches(native: NativeArch, listed: string[]): SeccompArch[] {
  return compatOf[native].filter((a) => listed.includes(archInfo[a].scmp))
}

const tables = new Map<SeccompArch, { numbers: ReadonlyMap<string, number>; highest: number }>()

/** The table of one architecture, made once: a Map (the JSON object is slow to search). */
function table(arch: SeccompArch): { numbers: ReadonlyMap<string, number>; highest: number } {
  let t = tables.get(arch)
  if (!t) {
    const numbers = new Map(Object.entries(syscallNumbers[arch]))
    t = { numbers, highest: Math.max(...numbers.values()) }
    tables.set(arch, t)
  }
  return t
}

/** name -> number for one architecture. */
export function syscallTable(arch: SeccompArch): ReadonlyMap<string, number> {
  return table(arch).numbers
}

/** The highest number in the table: anything above is a system call newer than the table. */
export function highestSyscall(arch: SeccompArch): number {
  return table(arch).highest
}
