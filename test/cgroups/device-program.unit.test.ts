// The device rules and their eBPF program, without a kernel: the program is run by a tiny interpreter of
// the few instructions it uses, against what the devices cgroup (v1 whitelist mode) decides for the same
// rules, over a table of (type, major, minor, access) cases. The kernel side is test/container/devices.test.ts.
import { deviceProgram, insnSize } from '../../lib/cgroups/device-program'
import {
  devicePolicy, dockerDefaultDeviceRules, formatDeviceRule, parseDeviceCgroupRule, type DeviceRule,
} from '../../lib/cgroups/device-rules'

type Access = 'm' | 'r' | 'w' | 'rw'
interface Request {
  type: 'c' | 'b'
  major: number
  minor: number
  access: Access
}

const accessBits = (a: string) => [...a].reduce((m, l) => m | ({ m: 1, r: 2, w: 4 } as Record<string, number>)[l]!, 0)

/** Runs the encoded program on a bpf_cgroup_dev_ctx built from `req`; returns r0. */
function interpret(program: Buffer, req: Request): number {
  const ctx = [((accessBits(req.access) << 16) | (req.type === 'b' ? 1 : 2)) >>> 0, req.major, req.minor]
  const reg = new Array<number>(11).fill(0)
  for (let pc = 0, steps = 0; steps < 10_000; steps++) {
    const at = pc * insnSize
    if (at >= program.length) throw new Error('ran off the end')
    const op = program.readUInt8(at)
    const dst = program.readUInt8(at + 1) & 0xf
    const src = program.readUInt8(at + 1) >> 4
    const off = program.readInt16LE(at + 2)
    const imm = program.readInt32LE(at + 4)
    pc++
    switch (op) {
      case 0x61: reg[dst] = ctx[off / 4]!; break
      case 0x54: reg[dst] = (reg[dst]! & imm) >>> 0; break
      case 0x74: reg[dst] = reg[dst]! >>> imm; break
      case 0xb4: reg[dst] = imm >>> 0; break
      case 0xbc: reg[dst] = reg[src]!; break
      case 0x55: if (reg[dst] !== imm >>> 0) pc += off; break
      case 0x5d: if (reg[dst] !== reg[src]) pc += off; break
      case 0x95: return reg[0]!
      default: throw new Error(`unexpected opcode 0x${op.toString(16)}`)
    }
  }
  throw new Error('no exit')
}

/** The v1 devices cgroup's decision in whitelist mode: some allow rule holds the type, numbers and every access bit. */
function whitelistAllows(rules: readonly DeviceRule[], req: Request): boolean {
  return rules.some((r) =>
    (r.type === 'a' || r.type === req.type) && (r.major === '*' || r.major === req.major) && (r.minor === '*' || r.minor === req.minor)
    && [...req.access].every((l) => r.access.includes(l)))
}

const requests: Request[] = []
for (const type of ['c', 'b'] as const)
  for (const [major, minor] of [[1, 3], [1, 5], [1, 7], [1, 8], [1, 9], [1, 11], [5, 0], [5, 1], [5, 2], [136, 0], [136, 7], [10, 200], [10, 229], [7, 0], [8, 0], [254, 0], [4095, 1048575]])
    for (const access of ['m', 'r', 'w', 'rw'] as const) requests.push({ type, major, minor, access })

test("Docker's default rules: the program decides every case as the v1 whitelist does", () => {
  const program = deviceProgram(dockerDefaultDeviceRules)
  for (const req of requests) expect([req, interpret(program, req) === 1]).toEqual([req, whitelistAllows(dockerDefaultDeviceRules, req)])
  const allows = (req: Request) => interpret(program, req) === 1
  // The cases of the issue: mknod of anything, no open of the kernel log or a block device; the standard devices open.
  expect(allows({ type: 'c', major: 1, minor: 11, access: 'm' })).toBe(true)
  expect(allows({ type: 'c', major: 1, minor: 11, access: 'w' })).toBe(false)
  expect(allows({ type: 'b', major: 8, minor: 0, access: 'm' })).toBe(true)
  expect(allows({ type: 'b', major: 8, minor: 0, access: 'r' })).toBe(false)
  expect(allows({ type: 'c', major: 1, minor: 3, access: 'rw' })).toBe(true)
  expect(allows({ type: 'c', major: 136, minor: 7, access: 'rw' })).toBe(true)
})

test('rules with partial access, wildcards and type "a" are decided as the v1 whitelist does', () => {
  const rules = ['c 1:11 w', 'b 7:* r', 'a 254:0 m', 'a *:* r'].map(parseDeviceCgroupRule)
  const program = deviceProgram(rules)
  for (const req of requests) expect([req, interpret(program, req) === 1]).toEqual([req, whitelistAllows(rules, req)])
  // An O_RDWR open asks for read and write at once: a rule with only one of them does not allow it.
  expect(interpret(program, { type: 'c', major: 1, minor: 11, access: 'rw' })).toBe(0)
  expect(interpret(deviceProgram([]), { type: 'c', major: 1, minor: 3, access: 'r' })).toBe(0)
})

test('the policy: privileged allows everything; otherwise the defaults and the own rules, each once, as devices.allow lines', () => {
  expect(devicePolicy({ privileged: true, rules: [parseDeviceCgroupRule('c 1:11 rw')] })).toEqual({ allowAll: true })
  const policy = devicePolicy({ privileged: false, rules: [parseDeviceCgroupRule('c 1:11 rw'), parseDeviceCgroupRule('c 1:3 rwm')] })
  if (policy.allowAll) throw new Error('expected rules')
  const lines = policy.rules.map(formatDeviceRule)
  expect(lines).toEqual([
    'c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm',
    'c 5:0 rwm', 'c 5:1 rwm', 'c 5:2 rwm', 'c 10:200 rwm', 'c 136:* rwm', 'c 1:11 rw',
  ])
})

test('--device-cgroup-rule strings: the accepted form, and EINVALID naming it otherwise', () => {
  expect(parseDeviceCgroupRule('c 1:11 rw')).toEqual({ type: 'c', major: 1, minor: 11, access: 'rw' })
  expect(parseDeviceCgroupRule(' b *:* m ')).toEqual({ type: 'b', major: '*', minor: '*', access: 'm' })
  for (const bad of ['', 'c 1:11', 'x 1:1 r', 'c 1 r', 'c 1:11 rx', 'c 1:11 rr', 'c 4096:0 r', 'c 1:1048576 r', 'c -1:0 r'])
    expect(() => parseDeviceCgroupRule(bad)).toThrow(expect.objectContaining({ code: 'EINVALID', message: expect.stringContaining('"c 1:11 rw"') }))
})
