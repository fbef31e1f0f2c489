/**
 * The eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) that enforces a device
 * rule list on cgroup v2, where there is no devices.allow file: the kernel
 * runs it on every open and mknod of a device node by a process of the
 * cgroup, and refuses with EPERM when it returns 0.
 *
 * The program reads its context, struct bpf_cgroup_dev_ctx
 * { u32 access_type; u32 major; u32 minor }, where access_type holds the
 * device type in its low 16 bits and the access asked for in its high 16,
 * then tries the rules in order: the first that matches allows; none
 * matching denies. That is the devices cgroup's whitelist mode on v1
 * ("a" denied, then the rules allowed), so both layouts behave alike. An
 * access matches a rule when every bit asked for is in the rule's (an
 * O_RDWR open asks for read and write at once).
 *
 * eBPF instructions are 8 bytes: opcode, dst and src registers (4 bits
 * each), a signed 16-bit jump offset (counted from the next instruction)
 * and a signed 32-bit immediate.
 *
 * @module
 */
import type { DeviceRule } from './device-rules'

// linux/bpf.h: struct bpf_cgroup_dev_ctx's fields and constants.
const ctxAccessType = 0
const ctxMajor = 4
const ctxMinor = 8
const BPF_DEVCG_DEV_BLOCK = 1
const BPF_DEVCG_DEV_CHAR = 2
const BPF_DEVCG_ACC_MKNOD = 1
const BPF_DEVCG_ACC_READ = 2
const BPF_DEVCG_ACC_WRITE = 4

// Opcodes (linux/bpf.h, bpf_common.h), all 32-bit ALU and word loads.
const LDX_MEM_W = 0x61 // dst = *(u32 *)(src + off)
const ALU32_AND_K = 0x54 // dst &= imm
const ALU32_RSH_K = 0x74 // dst >>= imm
const ALU32_MOV_K = 0xb4 // dst = imm
const ALU32_MOV_X = 0xbc // dst = src
const JMP_JNE_K = 0x55 // if dst != imm goto +off
const JMP_JNE_X = 0x5d // if dst != src goto +off
const JMP_EXIT = 0x95 // return r0

/** Registers: r1 holds the context on entry (and is a scratch register afterwards). */
const R0 = 0, R1 = 1, TYPE = 2, ACCESS = 3, MAJOR = 4, MINOR = 5

/** One instruction before encoding; a jump's `off` is filled in once its block's length is known. */
interface Insn {
  op: number
  dst: number
  src?: number
  off?: number
  imm?: number
  /** A jump to the end of its rule's block (to the next rule). */
  toNext?: boolean
}

/** Size of one encoded instruction. */
export const insnSize = 8

const accessBits: Record<string, number> = { m: BPF_DEVCG_ACC_MKNOD, r: BPF_DEVCG_ACC_READ, w: BPF_DEVCG_ACC_WRITE }
const allAccess = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE

/** The access bits of a rule's "rwm" letters. */
function accessMask(access: string): number {
  return [...access].reduce((mask, letter) => mask | (accessBits[letter] ?? 0), 0)
}

/** r2 = type, r3 = access, r4 = major, r5 = minor. */
const prologue: Insn[] = [
  { op: LDX_MEM_W, dst: TYPE, src: R1, off: ctxAccessType },
  { op: ALU32_AND_K, dst: TYPE, imm: 0xffff },
  { op: LDX_MEM_W, dst: ACCESS, src: R1, off: ctxAccessType },
  { op: ALU32_RSH_K, dst: ACCESS, imm: 16 },
  { op: LDX_MEM_W, dst: MAJOR, src: R1, off: ctxMajor },
  { op: LDX_MEM_W, dst: MINOR, src: R1, off: ctxMinor },
]

const returning = (verdict: 0 | 1): Insn[] => [{ op: ALU32_MOV_K, dst: R0, imm: verdict }, { op: JMP_EXIT, dst: 0 }]

/** The instructions of one rule: a test per constrained field that skips to the next rule, then "allow". */
function ruleBlock(r: DeviceRule): Insn[] {
  const block: Insn[] = []
  if (r.type !== 'a') block.push({ op: JMP_JNE_K, dst: TYPE, imm: r.type === 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, toNext: true })
  const mask = accessMask(r.access)
  if (mask !== allAccess)
    block.push(
      // if ((access & mask) != access) the request holds a bit the rule lacks.
      { op: ALU32_MOV_X, dst: R1, src: ACCESS },
      { op: ALU32_AND_K, dst: R1, imm: mask },
      { op: JMP_JNE_X, dst: R1, src: ACCESS, toNext: true },
    )
  if (r.major !== '*') block.push({ op: JMP_JNE_K, dst: MAJOR, imm: r.major, toNext: true })
  if (r.minor !== '*') block.push({ op: JMP_JNE_K, dst: MINOR, imm: r.minor, toNext: true })
  block.push(...returning(1))
  return block.map((insn, i) => (insn.toNext ? { ...insn, off: block.length - i - 1 } : insn))
}

/** The program for a rule list: the first matching rule allows, and nothing else is allowed. */
export function deviceProgram(rules: readonly DeviceRule[]): Buffer {
  const insns = [...prologue, ...rules.flatMap(ruleBlock), ...returning(0)]
  const out = Buffer.alloc(insns.length * insnSize)
  insns.forEach((insn, i) => {
    const at = i * insnSize
    out.writeUInt8(insn.op, at)
    out.writeUInt8(((insn.src ?? 0) << 4) | insn.dst, at + 1)
    out.writeInt16LE(insn.off ?? 0, at + 2)
    out.writeInt32LE(insn.imm ?? 0, at + 4)
  })
  return out
}
