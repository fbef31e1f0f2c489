/**
 * A small assembler for classic BPF, the language of seccomp filters:
 * instructions with symbolic jump targets, resolved to offsets. A
 * conditional jump reaches at most 255 instructions ahead, so a jump to a
 * farther label goes through an inserted `ja` (32-bit offset) placed right
 * after it; placing one can push other jumps out of reach, so this repeats
 * until every jump fits.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'

/** A jump target: made by {@link newLabel}, placed with {@link label}. */
export type Label = { readonly name: string }

/** One instruction, or a label (which takes no space). */
export type Insn =
  /** A = 32-bit word of seccomp_data at `offset`. */
  | { op: 'ld'; offset: number }
  /** A &= k. */
  | { op: 'and'; k: number }
  /** if (A <cmp> k) goto t else goto f. */
  | { op: 'jeq' | 'jgt' | 'jge'; k: number; t: Label; f: Label }
  | { op: 'ja'; to: Label }
  | { op: 'ret'; k: number }
  | { op: 'label'; label: Label }

let labelCount = 0

/** A fresh label; the name is for reading disassembly only. */
export function newLabel(name = 'L'): Label {
  return { name: `${name}${++labelCount}` }
}

/** Places a label before the next instruction. */
export function label(l: Label): Insn {
  return { op: 'label', label: l }
}

// linux/bpf_common.h
const BPF_LD = 0x00, BPF_ALU = 0x04, BPF_JMP = 0x05, BPF_RET = 0x06
const BPF_W = 0x00, BPF_ABS = 0x20, BPF_K = 0x00, BPF_AND = 0x50
const BPF_JA = 0x00, BPF_JEQ = 0x10, BPF_JGT = 0x20, BPF_JGE = 0x30
const jumpCodes = { jeq: BPF_JEQ, jgt: BPF_JGT, jge: BPF_JGE } as const

/** BPF_MAXINSNS: the kernel refuses longer programs. */
export const maxInstructions = 4096

type Jump = Extract<Insn, { op: 'jeq' | 'jgt' | 'jge' }>

/** Positions of labels, given the instruction order. */
function labelPositions(code: Insn[]): Map<Label, number> {
  const at = new Map<Label, number>()
  let pc = 0
  for (const i of code) {
    if (i.op === 'label') at.set(i.label, pc)
    else pc++
  }
  return at
}

/**
 * One pass: a trampoline after each conditional jump that cannot reach its
 * target (judged on the positions before the pass). Returns the new code,
 * or undefined when every jump already fits.
 */
function relax(code: Insn[]): Insn[] | undefined {
  const at = labelPositions(code)
  const out: Insn[] = []
  let pc = 0
  let changed = false
  for (const i of code) {
    out.push(i)
    if (i.op === 'label') continue
    if (i.op === 'jeq' || i.op === 'jgt' || i.op === 'jge') {
      for (const side of ['t', 'f'] as const) {
        const target = i[side]
        if ((at.get(target) ?? Infinity) - pc - 1 <= 255) continue
        const hop = newLabel('hop')
        out.push(label(hop), { op: 'ja', to: target })
        ;(i as Jump)[side] = hop
        changed = true
      }
    }
    pc++
  }
  return changed ? out : undefined
}

function offset(at: Map<Label, number>, target: Label, pc: number): number {
  const to = at.get(target)
  if (to === undefined) throw new Error(`BPF: label ${target.name} is never placed`)
  if (to <= pc) throw new Error(`BPF: jump from ${pc} back to ${target.name}`)
  return to - pc - 1
}

/** Resolves labels and encodes the program as struct sock_filter[] (8 bytes each, host byte order: little-endian). */
export function assemble(input: Insn[]): Buffer {
  let code = input
  // Trampolines push later code farther away: repeat until every jump fits.
  for (let relaxed = relax(code); relaxed; relaxed = relax(code)) code = relaxed
  const at = labelPositions(code)
  const real = code.filter((i) => i.op !== 'label')
  if (real.length > maxInstructions)
    throw new InvalidArgumentError(`seccomp profile compiles to ${real.length} BPF instructions; the kernel accepts at most ${maxInstructions} (fewer rules with argument conditions)`)
  const out = Buffer.alloc(real.length * 8)
  real.forEach((i, pc) => {
    let code = 0, jt = 0, jf = 0, k = 0
    switch (i.op) {
      case 'ld': [code, k] = [BPF_LD | BPF_W | BPF_ABS, i.offset]; break
      case 'and': [code, k] = [BPF_ALU | BPF_AND | BPF_K, i.k]; break
      case 'ja': [code, k] = [BPF_JMP | BPF_JA, offset(at, i.to, pc)]; break
      case 'ret': [code, k] = [BPF_RET | BPF_K, i.k]; break
      default: [code, k, jt, jf] = [BPF_JMP | jumpCodes[i.op] | BPF_K, i.k, offset(at, i.t, pc), offset(at, i.f, pc)]
    }
    out.writeUInt16LE(code, pc * 8)
    out.writeUInt8(jt, pc * 8 + 2)
    out.writeUInt8(jf, pc * 8 + 3)
    out.writeUInt32LE(k >>> 0, pc * 8 + 4)
  })
  return out
}
