/**
 * The compose keys that shape a service's process, observed from inside on
 * the real kernel: `ulimits` (/proc/self/limits), `security_opt`
 * (NoNewPrivs and Seccomp in /proc/self/status, a profile file relative to
 * the project directory), `sysctls` (/proc/sys), `restart` (runs counted
 * in the log and inspect's restartCount).
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { randomBytes } from 'node:crypto'
import { Compose, type Runtime } from '../../lib'
import { useRuntime } from '../helpers'

jest.setTimeout(120_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true, hostImage: false })

let workdir: string
beforeAll(() => { workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-compose-process-')) })
afterAll(() => fs.rmSync(workdir, { recursive: true, force: true }))

const up = (yaml: string) => Compose.up({ yaml, workdir }, { runtime, projectName: `p${randomBytes(4).toString('hex')}` })
const sh = async (env: Awaited<ReturnType<typeof up>>, svc: string, cmd: string) => (await env.exec(svc, ['sh', '-c', cmd])).stdout
const sleeper = 'image: bb, command: [sleep, "1000"]'

test('ulimits: the program runs with the soft and hard limits written', async () => {
  await using env = await up(`services:\n  a: { ${sleeper}, ulimits: { nofile: { soft: 1234, hard: 2345 }, nproc: 321 } }\n`)
  const limits = await sh(env, 'a', 'cat /proc/1/limits')
  expect(limits).toMatch(/^Max open files\s+1234\s+2345\s+files/m)
  expect(limits).toMatch(/^Max processes\s+321\s+321\s+processes/m)
})

test('sysctls: set in the service\'s namespaces (mapping and list forms), the host keeping its own', async () => {
  const host = fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')
  await using env = await up(`services:
  a: { ${sleeper}, sysctls: { net.ipv4.ip_unprivileged_port_start: 82, kernel.shmmax: "123456789" } }
  b: { ${sleeper}, sysctls: [net.ipv4.ip_unprivileged_port_start=83] }
`)
  expect(await sh(env, 'a', 'cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmax')).toBe('82\n123456789\n')
  expect(await sh(env, 'b', 'cat /proc/sys/net/ipv4/ip_unprivileged_port_start')).toBe('83\n')
  expect(fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')).toBe(host)
})

test('restart: on-failure:1 brings a failing one-shot back once (restartCount 1); "no" leaves it', async () => {
  await using env = await up(`services:
  flaky: { image: bb, command: ["sh", "-c", "echo run; exit 2"], restart: "on-failure:1" }
  once: { image: bb, command: ["sh", "-c", "echo run; exit 2"], restart: "no" }
  waiter: { ${sleeper} }
`)
  const flaky = env.service('flaky')
  for (const t0 = Date.now(); (await flaky.inspect()).restartCount < 1 || (await flaky.inspect()).state.running; await new Promise((r) => setTimeout(r, 20)))
    if (Date.now() - t0 > 10_000) throw new Error('flaky was not restarted')
  await new Promise((r) => setTimeout(r, 500))
  expect((await flaky.inspect()).restartCount).toBe(1)
  expect(await env.logs('flaky')).toBe('run\nrun\n')
  expect((await env.service('once').inspect()).restartCount).toBe(0)
  expect(await env.logs('once')).toBe('run\n')
})

test('security_opt: no-new-privileges sets NoNewPrivs; seccomp=unconfined runs without a filter, a relative profile file with it', async () => {
  fs.writeFileSync(path.join(workdir, 'allow.json'), JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW' }))
  await using env = await up(`services:
  plain: { ${sleeper} }
  nnp: { ${sleeper}, security_opt: [no-new-privileges] }
  unconfined: { ${sleeper}, security_opt: ["seccomp=unconfined"] }
  profiled: { ${sleeper}, security_opt: ["seccomp=./allow.json"] }
`)
  const status = async (svc: string) => sh(env, svc, 'grep -E "^(NoNewPrivs|Seccomp):" /proc/1/status | tr -s "\\t " " "')
  expect(await status('plain')).toBe('NoNewPrivs: 0\nSeccomp: 2\n')
  expect(await status('nnp')).toBe('NoNewPrivs: 1\nSeccomp: 2\n')
  expect(await status('unconfined')).toBe('NoNewPrivs: 0\nSeccomp: 0\n')
  expect(await status('profiled')).toBe('NoNewPrivs: 0\nSeccomp: 2\n')
})
