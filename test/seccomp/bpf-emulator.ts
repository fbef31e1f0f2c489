/**
 * A classic-BPF interpreter for the instructions seccomp filters use, so
 * compiled filters can be checked as pure logic: what would the kernel
 * return for this system call with these arguments? Written from the
 * kernel's documented semantics (Documentation/networking/filter.rst), not
 * from the compiler, so the two check each other.
 */

/** The input a seccomp filter sees (struct seccomp_data). */
export interface SeccompData {
  nr: number
  arch: number
  args?: bigint[]
}

function dataWord(d: SeccompData, offset: number): number {
  if (offset === 0) return d.nr >>> 0
  if (offset === 4) return d.arch >>> 0
  if (offset >= 16 && offset < 64 && offset % 4 === 0) {
    const arg = d.args?.[(offset - 16) >> 3] ?? 0n
    const word = offset % 8 === 0 ? arg & 0xffffffffn : (arg >> 32n) & 0xffffffffn
    return Number(word)
  }
  throw new Error(`load from unsupported offset ${offset}`)
}

/** Runs the program on `d`; returns the filter's 32-bit result. Throws on anything the kernel's checker would refuse. */
export function runFilter(program: Buffer, d: SeccompData): number {
  const n = program.length / 8
  let a = 0
  for (let pc = 0, steps = 0; pc < n; pc++, steps++) {
    if (steps > n) throw new Error('no progress')
    const code = program.readUInt16LE(pc * 8)
    const jt = program.readUInt8(pc * 8 + 2)
    const jf = program.readUInt8(pc * 8 + 3)
    const k = program.readUInt32LE(pc * 8 + 4)
    switch (code) {
      case 0x20: a = dataWord(d, k); break // ld w abs
      case 0x54: a = (a & k) >>> 0; break // alu and k
      case 0x05: pc += k; break // ja
      case 0x15: pc += a === k ? jt : jf; break // jeq k
      case 0x25: pc += a > k ? jt : jf; break // jgt k
      case 0x35: pc += a >= k ? jt : jf; break // jge k
      case 0x06: return k // ret k
      default: throw new Error(`unsupported opcode 0x${code.toString(16)} at ${pc}`)
    }
  }
  throw new Error('fell off the end of the program')
}

export const AUDIT_ARCH_X86_64 = 0xc000003e
export const AUDIT_ARCH_I386 = 0x40000003
export const AUDIT_ARCH_AARCH64 = 0xc00000b7
export const RET_ALLOW = 0x7fff0000
export const RET_KILL_PROCESS = 0x80000000
export const retErrno = (errno: number) => (0x00050000 | errno) >>> 0
