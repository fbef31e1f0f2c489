/**
 * The compose keys and up() options beyond the first slice, each observed
 * on the real kernel: the `services` option, `isolateNames`, `build`,
 * `expose`, `scale`/`deploy.replicas`, `network_mode`, resource limits,
 * `stop_signal`, `stop_grace_period`, and every network of a service
 * present before its program runs.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { randomBytes } from 'node:crypto'
import { Compose, Container, run, type Runtime } from '../../lib'
import { sleep, useRuntime } from '../helpers'
import { cgroupValue } from '../cgroups/host-view'

jest.setTimeout(120_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true, hostImage: false })

let workdir: string
beforeAll(() => { workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-compose-keys-')) })
afterAll(() => fs.rmSync(workdir, { recursive: true, force: true }))

const project = () => `k${randomBytes(4).toString('hex')}`
const up = (yaml: string, opts: Parameters<typeof Compose.up>[1] = {}) => Compose.up({ yaml, workdir }, { runtime, projectName: project(), ...opts })
const sh = async (env: Awaited<ReturnType<typeof up>>, svc: string, cmd: string) => (await env.exec(svc, ['sh', '-c', cmd])).stdout

async function projectContainers(p: string): Promise<string[]> {
  const out = []
  for (const c of await Container.list({ runtime, all: true })) {
    const info = await c.inspect()
    if (info.config.labels['com.docker.compose.project'] === p) out.push(info.name)
  }
  return out.sort()
}

const sleeper = '{ image: bb, command: [sleep, "1000"] }'

test('services option: only the named services and their dependencies start', async () => {
  await using env = await up(`services:\n  db: ${sleeper}\n  api: { image: bb, command: [sleep, "1000"], depends_on: [db] }\n  other: ${sleeper}\n`, { services: ['api'] })
  expect(await projectContainers(env.projectName)).toEqual([`${env.projectName}-api-1`, `${env.projectName}-db-1`])
})

test('isolateNames: container_name gets the project prefix and the written name still resolves; two projects with one container_name and one host port both run with ports: ephemeral', async () => {
  const yaml = 'services:\n  web:\n    image: bb\n    container_name: fixed-web\n    command: ["sh", "-c", "mkdir /w && echo hi > /w/index.html && exec httpd -f -p 80 -h /w"]\n    ports: ["18080:80"]\n  client: ' + sleeper + '\n'
  await using a = await up(yaml, { isolateNames: true, ports: 'ephemeral' })
  await using b = await up(yaml, { isolateNames: true, ports: 'ephemeral' })
  for (const env of [a, b]) {
    expect((await env.service('web').inspect()).name).toBe(`${env.projectName}-fixed-web`)
    expect(await sh(env, 'client', 'wget -q -O- http://fixed-web/')).toBe('hi\n')
    expect(env.port('web', 80)).not.toBe(18080)
  }
})

test('build: the image is built with its args and target, then runs', async () => {
  const ctx = path.join(workdir, 'ctx')
  fs.mkdirSync(ctx, { recursive: true })
  fs.writeFileSync(path.join(ctx, 'Other.Dockerfile'), 'FROM bb AS base\nARG GREETING=none\nRUN echo "$GREETING" > /built\nFROM base AS final\nRUN echo final >> /built\n')
  const yaml = 'services:\n  app:\n    build: { context: ./ctx, dockerfile: Other.Dockerfile, args: { GREETING: hello }, target: base }\n    command: [sleep, "1000"]\n'
  await using env = await up(yaml)
  expect(await sh(env, 'app', 'cat /built')).toBe('hello\n')
  expect((await env.service('app').inspect()).image).toBe(`${env.projectName}-app:latest`)
})

test('expose: the ports are exposed (not published)', async () => {
  await using env = await up('services:\n  a: { image: bb, command: [sleep, "1000"], expose: [8080, "53/udp"] }\n')
  const info = await env.service('a').inspect()
  expect(info.config.exposedPorts).toEqual(['8080/tcp', '53/udp'])
  expect(info.networkSettings.ports).toEqual({})
})

test('scale and deploy.replicas: p-svc-1..n, numbered, each resolving the service name', async () => {
  await using env = await up(`services:\n  web: { image: bb, command: [sleep, "1000"], scale: 3 }\n  job: { image: bb, command: [sleep, "1000"], deploy: { replicas: 2 } }\n`)
  const p = env.projectName
  expect(await projectContainers(p)).toEqual([`${p}-job-1`, `${p}-job-2`, `${p}-web-1`, `${p}-web-2`, `${p}-web-3`])
  const webs = env.containers('web')
  expect(await Promise.all(webs.map(async (c) => (await c.inspect()).config.labels['com.docker.compose.container-number']))).toEqual(['1', '2', '3'])
  const addresses = await Promise.all(webs.map(async (c) => (await c.inspect()).networkSettings.ipAddress))
  const hosts = await sh(env, 'job', 'cat /etc/hosts')
  for (const ip of addresses) expect(hosts).toMatch(new RegExp(`^${ip.replace(/\./g, '\\.')}\\s.*\\bweb\\b`, 'm'))
})

test('network_mode: none, host, service:x and container:x', async () => {
  const outside = await run('bb', ['sleep', '1000'], { runtime, network: 'none', name: `outside-${randomBytes(3).toString('hex')}` })
  try {
    await using env = await up(`services:
  alone: { image: bb, command: [sleep, "1000"], network_mode: none }
  hosted: { image: bb, command: [sleep, "1000"], network_mode: host }
  main: ${sleeper}
  side: { image: bb, command: [sleep, "1000"], network_mode: "service:main" }
  beside: { image: bb, command: [sleep, "1000"], network_mode: "container:${outside.name}" }
`)
    const netns = async (svc: string) => sh(env, svc, 'readlink /proc/self/ns/net')
    expect(await sh(env, 'alone', 'ls /sys/class/net')).toBe('lo\n')
    expect(await netns('hosted')).toBe(`${fs.readlinkSync('/proc/self/ns/net')}\n`)
    expect(await netns('side')).toBe(await netns('main'))
    expect(await netns('beside')).toBe((await outside.exec(['readlink', '/proc/self/ns/net'])).stdout)
  } finally {
    await outside.remove({ force: true })
  }
})

test('mem_limit, cpus, pids_limit and deploy.resources.limits reach the cgroup', async () => {
  await using env = await up(`services:
  a: { image: bb, command: [sleep, "1000"], mem_limit: 64m, cpus: 0.5, pids_limit: 40 }
  b: { image: bb, command: [sleep, "1000"], mem_limit: 1g, deploy: { resources: { limits: { memory: 32M, cpus: "0.25", pids: 20 } } } }
`)
  const pid = async (svc: string) => (await env.service(svc).inspect()).state.pid
  const a = await pid('a')
  expect(cgroupValue(a, 'memoryLimit')).toBe(String(64 << 20))
  expect(Number(cgroupValue(a, 'cpuQuotaUs')) / Number(cgroupValue(a, 'cpuPeriodUs'))).toBe(0.5)
  expect(cgroupValue(a, 'pidsMax')).toBe('40')
  const b = await pid('b')
  expect(cgroupValue(b, 'memoryLimit')).toBe(String(32 << 20))
  expect(Number(cgroupValue(b, 'cpuQuotaUs')) / Number(cgroupValue(b, 'cpuPeriodUs'))).toBe(0.25)
  expect(cgroupValue(b, 'pidsMax')).toBe('20')
})

test('stop_signal is what stop sends; stop_grace_period is how long it waits before SIGKILL', async () => {
  const trap = (sig: string) => `["sh", "-c", "trap 'echo got ${sig}; exit 0' ${sig}; echo ready; while true; do sleep 0.05; done"]`
  await using env = await up(`services:
  polite: { image: bb, command: ${trap('USR1')}, stop_signal: SIGUSR1, stop_grace_period: 20s }
  stubborn: { image: bb, command: ["sh", "-c", "trap '' TERM; while true; do sleep 0.05; done"], stop_grace_period: 1500ms }
`)
  for (const t0 = Date.now(); !(await env.logs('polite')).includes('ready') && Date.now() - t0 < 10_000; await sleep(20));
  const t0 = Date.now()
  await env.stop()
  const took = Date.now() - t0
  expect(await env.logs('polite')).toContain('got USR1')
  expect((await env.service('polite').inspect()).state.exitCode).toBe(0)
  expect((await env.service('stubborn').inspect()).state.exitCode).toBe(137)
  // stubborn ignores SIGTERM: killed after its grace period, not at once and not after 10 s.
  expect(took).toBeGreaterThanOrEqual(1400)
  expect(took).toBeLessThan(8000)
  // The grace period is the container's own: a plain stop() of that container waits as long.
  expect((await env.service('stubborn').inspect()).config.stopTimeout).toBe(1.5)
})

test("every network of a service is there before its program runs: its first command resolves a peer on its second network", async () => {
  await using env = await up(`services:
  peer: { image: bb, command: [sleep, "1000"], networks: [back] }
  both:
    image: bb
    command: ["sh", "-c", "grep -q peer /etc/hosts && echo peer-known; ls /sys/class/net | grep -c eth; exec sleep 1000"]
    networks: [front, back]
    depends_on: [peer]
networks: { front: {}, back: {} }
`)
  let logs = ''
  for (const t0 = Date.now(); !/\d\n$/.test(logs) && Date.now() - t0 < 10_000; await sleep(20)) logs = await env.logs('both')
  expect(logs).toBe('peer-known\n2\n')
})

test('reuse: asking at once and again gets the one running project; another model replaces it; await using leaves a reused project, down() removes it', async () => {
  const p = project()
  const yaml = (mode: string) => `services:\n  db: { image: bb, command: [sleep, "1000"], environment: { MODE: ${mode} } }\n  api: { image: bb, command: [sleep, "1000"], depends_on: [db] }\n`
  const ids = async (env: Awaited<ReturnType<typeof up>>) => [env.service('db').id, env.service('api').id]
  const [one, two] = await Promise.all([up(yaml('a'), { projectName: p, reuse: true }), up(yaml('a'), { projectName: p, reuse: true })])
  expect(await ids(two)).toEqual(await ids(one))
  {
    await using three = await up(yaml('a'), { projectName: p, reuse: true })
    expect(await ids(three)).toEqual(await ids(one))
  }
  expect(await projectContainers(p)).toEqual([`${p}-api-1`, `${p}-db-1`])
  const changed = await up(yaml('b'), { projectName: p, reuse: true })
  expect(await ids(changed)).not.toContain((await ids(one))[0])
  expect(await sh(changed, 'db', 'echo $MODE')).toBe('b\n')
  expect(await projectContainers(p)).toEqual([`${p}-api-1`, `${p}-db-1`])
  await changed.down({ volumes: true })
  expect(await projectContainers(p)).toEqual([])
  await expect(up(yaml('a'), { reuse: true, projectName: undefined })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('projectName') })
})

test('stop and down: a service only after its dependents, independent services at once', async () => {
  const loop = 'echo ready; while true; do sleep 0.05; done'
  await using env = await up(`services:
  db: { image: bb, stop_grace_period: 5s, volumes: [s:/s], command: ["sh", "-c", "trap 'test -f /s/api && echo after-api > /s/db || echo before-api > /s/db; exit 0' TERM; ${loop}"] }
  api: { image: bb, stop_grace_period: 5s, volumes: [s:/s], depends_on: [db], command: ["sh", "-c", "trap 'sleep 0.5; touch /s/api; exit 0' TERM; ${loop}"] }
  other: { image: bb, stop_grace_period: 5s, volumes: [s:/s], command: ["sh", "-c", "trap 'sleep 0.5; touch /s/other; exit 0' TERM; ${loop}"] }
volumes: { s: {} }
`)
  for (const svc of ['db', 'api', 'other']) for (const t0 = Date.now(); !(await env.logs(svc)).includes('ready') && Date.now() - t0 < 10_000; await sleep(20));
  const t0 = Date.now()
  await env.stop()
  // api and other each take 0.5 s: at once, the whole stop takes about that, not twice it.
  expect(Date.now() - t0).toBeLessThan(950)
  const reader = await run('bb', ['sh', '-c', 'cat /s/db; ls /s'], { runtime, network: 'none', volumes: [`${env.projectName}_s:/s`] })
  await reader.wait()
  let out = ''
  for await (const chunk of reader.logs()) out += String(chunk)
  await reader.remove()
  expect(out).toBe('after-api\napi\ndb\nother\n')
})
