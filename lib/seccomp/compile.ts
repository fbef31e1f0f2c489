/**
 * From a Docker seccomp profile to a classic BPF program for seccomp(2).
 *
 * The program checks the architecture first (the same number means
 * different calls on x86_64 and i386), then finds the call's handler with a
 * binary search over number ranges: consecutive numbers with the same
 * outcome form one range, so a lookup costs about log2(ranges) compares
 * (8 or 9 for Docker's default) instead of one per allowed call. A call
 * with argument conditions gets its own block that tests its rules in
 * profile order, then falls back to its unconditional rule or the default.
 *
 * Numbers above the table's highest get ENOSYS (not the default EPERM), so
 * that libc falls back from system calls newer than the table, as runc does.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import type { SeccompFilter } from '../shim/spec'
import { archInfo, compatArches, highestSyscall, syscallTable, X32_SYSCALL_BIT, type NativeArch, type SeccompArch } from './arch'
import { assemble, label, newLabel, type Insn, type Label } from './bpf'
import type { SeccompAction, SeccompArg, SeccompProfile } from './profile'
import { listedArches, selectRules, type RuleContext } from './select'

/** A compiled filter: what seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) takes, as the shim's spec carries it. */
export type CompiledFilter = SeccompFilter

// linux/seccomp.h return values.
const RET_KILL_PROCESS = 0x80000000
const RET_KILL_THREAD = 0x00000000
const RET_TRAP = 0x00030000
const RET_ERRNO = 0x00050000
const RET_TRACE = 0x7ff00000
const RET_LOG = 0x7ffc0000
const RET_ALLOW = 0x7fff0000
const EPERM = 1
const ENOSYS = 38

const filterFlags: Record<string, number> = { SECCOMP_FILTER_FLAG_TSYNC: 1, SECCOMP_FILTER_FLAG_LOG: 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4 }

// struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6] (little-endian words).
const NR = 0
const ARCH = 4
const argLow = (i: number) => 16 + 8 * i
const argHigh = (i: number) => 20 + 8 * i

/** The SECCOMP_RET_* value of an action; errno defaults to EPERM, as in runc. */
function actionValue(action: SeccompAction, errnoRet?: number): number {
  switch (action) {
    case 'SCMP_ACT_ALLOW': return RET_ALLOW
    case 'SCMP_ACT_ERRNO': return (RET_ERRNO | (errnoRet ?? EPERM)) >>> 0
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD': return RET_KILL_THREAD
    case 'SCMP_ACT_KILL_PROCESS': return RET_KILL_PROCESS
    case 'SCMP_ACT_TRAP': return RET_TRAP
    case 'SCMP_ACT_TRACE': return (RET_TRACE | (errnoRet ?? EPERM)) >>> 0
    case 'SCMP_ACT_LOG': return RET_LOG
  }
}

interface CondRule {
  args: SeccompArg[]
  ret: number
}

/** What happens to one system call number. */
interface Handler {
  /** Argument-conditional rules, tried in order. */
  conditional: CondRule[]
  /** The outcome when none matches (or when there are none). */
  fallback: number
}

/** Collects each number's rules for one architecture; names unknown there are skipped, as Docker does. */
function handlers(profile: SeccompProfile, ctx: RuleContext, arch: SeccompArch, defaultRet: number): Map<number, Handler> {
  const table = syscallTable(arch)
  const byNumber = new Map<number, { conditional: CondRule[]; unconditional?: number }>()
  for (const rule of selectRules(profile, ctx)) {
    const ret = actionValue(rule.action, rule.errnoRet)
    for (const name of rule.names) {
      const nr = table.get(name)
      if (nr === undefined) continue
      const entry = byNumber.get(nr) ?? { conditional: [] }
      if (rule.args?.length) entry.conditional.push({ args: rule.args, ret })
      else entry.unconditional ??= ret // the first unconditional rule wins
      byNumber.set(nr, entry)
    }
  }
  const result = new Map<number, Handler>()
  for (const [nr, e] of byNumber) {
    const fallback = e.unconditional ?? defaultRet
    // A conditional rule with the fallback's outcome changes nothing.
    result.set(nr, { conditional: e.conditional.filter((r) => r.ret !== fallback), fallback })
  }
  return result
}

/** A range of numbers [start, next range's start) and where its calls go. */
interface Range {
  start: number
  target: Label
}

/** Emits a comparison of argument `a` that jumps to `yes` or `no`. Values are 64-bit: high word, then low word. */
function compare(a: SeccompArg, yes: Label, no: Label): Insn[] {
  const split = (v: number) => [Math.floor(v / 2 ** 32), v % 2 ** 32] as const
  const [hi, lo] = split(a.value)
  const low = newLabel('lo')
  const ldHi: Insn = { op: 'ld', offset: argHigh(a.index) }
  const ldLo: Insn = { op: 'ld', offset: argLow(a.index) }
  switch (a.op) {
    case 'SCMP_CMP_EQ':
      return [ldHi, { op: 'jeq', k: hi, t: low, f: no }, label(low), ldLo, { op: 'jeq', k: lo, t: yes, f: no }]
    case 'SCMP_CMP_NE':
      return [ldHi, { op: 'jeq', k: hi, t: low, f: yes }, label(low), ldLo, { op: 'jeq', k: lo, t: no, f: yes }]
    case 'SCMP_CMP_MASKED_EQ': {
      const [wantHi, wantLo] = split(a.valueTwo ?? 0)
      return [ldHi, { op: 'and', k: hi }, { op: 'jeq', k: wantHi, t: low, f: no }, label(low), ldLo, { op: 'and', k: lo }, { op: 'jeq', k: wantLo, t: yes, f: no }]
    }
  }
  // Ordered compares: the high words decide unless they are equal.
  const equalHigh = newLabel('eqhi')
  const greater = a.op === 'SCMP_CMP_GT' || a.op === 'SCMP_CMP_GE'
  const [above, below] = greater ? [yes, no] : [no, yes]
  // Low word: GT and LE hinge on "> lo", GE and LT on ">= lo".
  const lowOp = a.op === 'SCMP_CMP_GT' || a.op === 'SCMP_CMP_LE' ? 'jgt' : 'jge'
  return [
    ldHi,
    { op: 'jgt', k: hi, t: above, f: equalHigh },
    label(equalHigh),
    { op: 'jeq', k: hi, t: low, f: below },
    label(low),
    ldLo,
    { op: lowOp, k: lo, t: above, f: below },
  ]
}

/** A conditional call's block: each rule's conditions (all must hold), then the fallback. */
function block(h: Handler, entry: Label, retLabel: (ret: number) => Label): Insn[] {
  const code: Insn[] = [label(entry)]
  for (const rule of h.conditional) {
    const nextRule = newLabel('rule')
    rule.args.forEach((a, i) => {
      const last = i === rule.args.length - 1
      const pass = last ? retLabel(rule.ret) : newLabel('and')
      code.push(...compare(a, pass, nextRule))
      if (!last) code.push(label(pass))
    })
    code.push(label(nextRule))
  }
  code.push({ op: 'ret', k: h.fallback })
  return code
}

/** A binary search over ranges: jge on the middle range's start. Returns the entry label. */
function searchTree(ranges: Range[], lo: number, hi: number, code: Insn[]): Label {
  if (lo === hi) return ranges[lo].target
  const mid = (lo + hi + 1) >> 1
  const here = newLabel('tree')
  const node: Insn & { op: 'jge' } = { op: 'jge', k: ranges[mid].start, t: here, f: here }
  code.push(label(here), node)
  node.f = searchTree(ranges, lo, mid - 1, code)
  node.t = searchTree(ranges, mid, hi, code)
  return here
}

/** The code for one architecture: load the number, search, outcomes. */
function archCode(profile: SeccompProfile, ctx: RuleContext, arch: SeccompArch, defaultRet: number): Insn[] {
  const byNumber = handlers(profile, ctx, arch, defaultRet)
  const rets = new Map<number, Label>()
  const retLabel = (ret: number) => rets.get(ret) ?? (rets.set(ret, newLabel('ret')), rets.get(ret)!)
  const blocks: Insn[] = []
  const ranges: Range[] = []
  const push = (start: number, target: Label) => {
    if (ranges.at(-1)?.target !== target) ranges.push({ start, target })
  }
  const highest = highestSyscall(arch)
  for (let nr = 0; nr <= highest; nr++) {
    const h = byNumber.get(nr)
    if (h?.conditional.length) {
      const entry = newLabel(`nr${nr}_`)
      blocks.push(...block(h, entry, retLabel))
      push(nr, entry)
    } else push(nr, retLabel(h?.fallback ?? defaultRet))
  }
  // Newer than the table: ENOSYS lets libc fall back, unless the profile allows by default.
  const allowsByDefault = defaultRet === RET_ALLOW || defaultRet === RET_LOG
  push(highest + 1, retLabel(allowsByDefault ? defaultRet : (RET_ERRNO | ENOSYS) >>> 0))
  // x32 calls (x86_64 with bit 30): what a kernel without x32 support answers.
  if (arch === 'x86_64') push(X32_SYSCALL_BIT, retLabel((RET_ERRNO | ENOSYS) >>> 0))
  const code: Insn[] = [{ op: 'ld', offset: NR }]
  const entry = searchTree(ranges, 0, ranges.length - 1, code)
  if (code.length === 1) code.push({ op: 'ja', to: entry })
  // Blocks jump to the shared returns, so those come last (BPF jumps only forward).
  code.push(...blocks)
  for (const [ret, l] of rets) code.push(label(l), { op: 'ret', k: ret })
  return code
}

function flagBits(profile: SeccompProfile): number {
  let bits = 0
  for (const f of profile.flags ?? []) {
    if (!(f in filterFlags)) throw new InvalidArgumentError(`invalid seccomp profile flags: ${JSON.stringify(f)} is not supported (expected ${Object.keys(filterFlags).join(', ')})`)
    bits |= filterFlags[f]
  }
  return bits
}

/**
 * Compiles a profile for a container with the given capabilities on the
 * given architecture and kernel. The native architecture is always
 * covered; its compat one (i386 on x86_64) when the profile lists it; any
 * other architecture is killed, as libseccomp does.
 */
export function compileProfile(profile: SeccompProfile, ctx: RuleContext & { arch: NativeArch }): CompiledFilter {
  const defaultRet = actionValue(profile.defaultAction, profile.defaultErrnoRet)
  const arches: SeccompArch[] = [ctx.arch, ...compatArches(ctx.arch, listedArches(profile, ctx.arch))]
  const entries = arches.map(() => newLabel('arch'))
  const code: Insn[] = [{ op: 'ld', offset: ARCH }]
  arches.forEach((a, i) => {
    const next = newLabel('notarch')
    code.push({ op: 'jeq', k: archInfo[a].audit, t: entries[i], f: next }, label(next))
  })
  code.push({ op: 'ret', k: RET_KILL_PROCESS })
  arches.forEach((a, i) => code.push(label(entries[i]), ...archCode(profile, ctx, a, defaultRet)))
  return { program: assemble(code), flags: flagBits(profile) }
}
