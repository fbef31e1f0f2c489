/**
 * Seccomp profiles in Docker's JSON format (moby's profiles/seccomp), and
 * their validation: a profile from a file is untrusted input, so every
 * field is checked before the compiler sees it.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'

/** What the kernel does with a matching system call (libseccomp's names, as Docker's profiles spell them). */
export type SeccompAction =
  | 'SCMP_ACT_ALLOW'
  | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_THREAD'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_LOG'

/** How an argument is compared with `value` (for MASKED_EQ: `(arg & value) == valueTwo`). */
export type SeccompOperator = 'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_EQ' | 'SCMP_CMP_GE' | 'SCMP_CMP_GT' | 'SCMP_CMP_MASKED_EQ'

/** A condition on one system call argument. */
export interface SeccompArg {
  /** Argument position, 0 to 5. */
  index: number
  value: number
  /** The expected masked value, for SCMP_CMP_MASKED_EQ. */
  valueTwo?: number
  op: SeccompOperator
}

/** When a rule applies: capabilities of the container ("CAP_SYS_ADMIN"), the host's architecture ("amd64", "arm64"), its kernel ("4.8"). */
export interface SeccompRuleFilter {
  caps?: string[]
  arches?: string[]
  minKernel?: string
}

/** One rule: an action for a list of system calls, optionally with argument conditions (all must hold). */
export interface SeccompSyscallRule {
  names: string[]
  action: SeccompAction
  /** The errno returned by SCMP_ACT_ERRNO (default EPERM), or the data of SCMP_ACT_TRACE. */
  errnoRet?: number
  args?: SeccompArg[]
  /** Apply only when all of these hold. */
  includes?: SeccompRuleFilter
  /** Skip when any of these holds. */
  excludes?: SeccompRuleFilter
  comment?: string
}

/** An architecture and the compat ones that run under it (x86_64: x86 and x32). */
export interface SeccompArchMapEntry {
  architecture: string
  subArchitectures?: string[] | null
}

/** A seccomp profile in Docker's JSON format. */
export interface SeccompProfile {
  defaultAction: SeccompAction
  /** The errno of a default SCMP_ACT_ERRNO (default EPERM). */
  defaultErrnoRet?: number
  /** Architectures the rules also apply to (old form); libseccomp's names, e.g. SCMP_ARCH_X86. */
  architectures?: string[]
  /** Architectures by native architecture (current form). */
  archMap?: SeccompArchMapEntry[]
  /** seccomp(2) flags: SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW, SECCOMP_FILTER_FLAG_TSYNC. */
  flags?: string[]
  syscalls: SeccompSyscallRule[]
}

const actions = new Set<string>(['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_TRAP', 'SCMP_ACT_TRACE', 'SCMP_ACT_LOG'])
const operators = new Set<string>(['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'])

type Json = Record<string, unknown>

function fail(where: string, reason: string): never {
  throw new InvalidArgumentError(`invalid seccomp profile ${where}: ${reason}`)
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function stringList(v: unknown, where: string): string[] | undefined {
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) fail(where, 'expected an array of strings')
  return v as string[]
}

/** A JSON number that is an exact unsigned integer (values past 2^53 cannot be represented exactly). */
function unsigned(v: unknown, where: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) fail(where, `expected an integer from 0 to ${max}, got ${JSON.stringify(v)}`)
  return v
}

function action(v: unknown, where: string): SeccompAction {
  if (v === 'SCMP_ACT_NOTIFY') fail(where, 'SCMP_ACT_NOTIFY needs a seccomp agent listening on a socket, which minicontainer does not provide')
  if (typeof v !== 'string' || !actions.has(v)) fail(where, `unknown action ${JSON.stringify(v)} (expected one of ${[...actions].join(', ')})`)
  return v as SeccompAction
}

function errnoRet(v: unknown, act: SeccompAction, where: string): number | undefined {
  if (v === undefined || v === null) return undefined
  if (act !== 'SCMP_ACT_ERRNO' && act !== 'SCMP_ACT_TRACE') fail(where, `errnoRet only goes with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not ${act}`)
  return unsigned(v, `${where}.errnoRet`, 0xffff)
}

function arg(v: unknown, where: string): SeccompArg {
  if (!isObject(v)) fail(where, 'expected an object with index, value and op')
  if (typeof v.op !== 'string' || !operators.has(v.op)) fail(where, `unknown operator ${JSON.stringify(v.op)} (expected one of ${[...operators].join(', ')})`)
  const a: SeccompArg = { index: unsigned(v.index, `${where}.index`, 5), value: unsigned(v.value, `${where}.value`), op: v.op as SeccompOperator }
  if (v.valueTwo !== undefined && v.valueTwo !== null) a.valueTwo = unsigned(v.valueTwo, `${where}.valueTwo`)
  return a
}

function ruleFilter(v: unknown, where: string): SeccompRuleFilter | undefined {
  if (v === undefined || v === null) return undefined
  if (!isObject(v)) fail(where, 'expected an object with caps, arches or minKernel')
  const f: SeccompRuleFilter = {}
  const caps = stringList(v.caps, `${where}.caps`)
  const arches = stringList(v.arches, `${where}.arches`)
  if (caps) f.caps = caps
  if (arches) f.arches = arches
  if (v.minKernel !== undefined && v.minKernel !== null && v.minKernel !== '') {
    if (typeof v.minKernel !== 'string' || !/^\d+\.\d+$/.test(v.minKernel)) fail(`${where}.minKernel`, `expected "<kernel>.<major>" such as "4.8", got ${JSON.stringify(v.minKernel)}`)
    f.minKernel = v.minKernel
  }
  return f
}

function rule(v: unknown, where: string): SeccompSyscallRule {
  if (!isObject(v)) fail(where, 'expected an object with names and action')
  if (v.name !== undefined && v.names !== undefined) fail(where, "both 'name' and 'names' are given; use 'names'")
  // "name" is the old single-name form Docker still reads.
  const names = v.name !== undefined ? stringList([v.name], `${where}.name`) : stringList(v.names, `${where}.names`)
  if (!names) fail(where, "no 'names'")
  const act = action(v.action, `${where}.action`)
  const r: SeccompSyscallRule = { names, action: act }
  const errno = errnoRet(v.errnoRet, act, where)
  if (errno !== undefined) r.errnoRet = errno
  if (v.args !== undefined && v.args !== null) {
    if (!Array.isArray(v.args)) fail(`${where}.args`, 'expected an array')
    r.args = v.args.map((a, i) => arg(a, `${where}.args[${i}]`))
  }
  const includes = ruleFilter(v.includes, `${where}.includes`)
  const excludes = ruleFilter(v.excludes, `${where}.excludes`)
  if (includes) r.includes = includes
  if (excludes) r.excludes = excludes
  if (typeof v.comment === 'string') r.comment = v.comment
  return r
}

function archMap(v: unknown): SeccompArchMapEntry[] | undefined {
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v)) fail('archMap', 'expected an array')
  return v.map((e, i) => {
    if (!isObject(e) || typeof e.architecture !== 'string') fail(`archMap[${i}]`, 'expected { architecture, subArchitectures }')
    return { architecture: e.architecture, subArchitectures: stringList(e.subArchitectures, `archMap[${i}].subArchitectures`) ?? null }
  })
}

/**
 * Checks a parsed JSON value against Docker's profile format and returns it
 * typed. Unknown keys are ignored, as Docker does; a bad action, operator,
 * argument index or number is refused with `EINVALID` naming the place.
 */
export function parseProfile(json: unknown): SeccompProfile {
  if (!isObject(json)) fail('', 'expected a JSON object with defaultAction and syscalls')
  const defaultAction = action(json.defaultAction, 'defaultAction')
  const profile: SeccompProfile = { defaultAction, syscalls: [] }
  const defaultErrno = errnoRet(json.defaultErrnoRet, defaultAction, 'defaultErrnoRet')
  if (defaultErrno !== undefined) profile.defaultErrnoRet = defaultErrno
  const architectures = stringList(json.architectures, 'architectures')
  const map = archMap(json.archMap)
  if (architectures?.length && map?.length) fail('', "both 'architectures' and 'archMap' are given; use one")
  if (architectures) profile.architectures = architectures
  if (map) profile.archMap = map
  const flags = stringList(json.flags, 'flags')
  if (flags) profile.flags = flags
  if (json.syscalls !== undefined && json.syscalls !== null && !Array.isArray(json.syscalls)) fail('syscalls', 'expected an array')
  profile.syscalls = ((json.syscalls as unknown[] | undefined) ?? []).map((r, i) => rule(r, `syscalls[${i}]`))
  return profile
}

/** Parses profile text (a file's content or inline JSON). */
export function parseProfileText(text: string, source: string): SeccompProfile {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new InvalidArgumentError(`seccomp profile ${source} is not valid JSON: ${(err as Error).message}`)
  }
  return parseProfile(json)
}
