/**
 * Compose.up against Debian's docker-compose 1.29.2 (on the private Docker
 * engine of test/tools/docker-engine.ts), on the same compose file and the
 * same busybox root filesystem: a db -> migrate -> api chain with
 * depends_on conditions, health checks, named volumes, two networks with
 * aliases, interpolation and env_file. What each shows from inside
 * (hostname, which names resolve from where, environment, mounts, the
 * one-shot's exit code, start order) and from outside (container, network
 * and volume names, compose labels, published ports) is compared.
 * Accepted differences are named where they are removed: v1 names
 * containers `p_svc_1`, v2 (and minicontainer) `p-svc-1`.
 */
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { randomBytes } from 'node:crypto'
import { parse } from 'yaml'
import { Compose, Container, Network, Volume, type ComposeEnvironment, type ComposeService, type Runtime } from '../../lib'
import { useBusyboxOnBoth, type PrivateDocker } from '../tools/docker-engine'

jest.setTimeout(240_000)

let engine: PrivateDocker
let runtime: Runtime
useBusyboxOnBoth('mc-compose:bb', (e, r) => ((engine = e), (runtime = r)))

let workdir: string
beforeAll(() => {
  workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-compose-diff-'))
  fs.writeFileSync(path.join(workdir, 'compose.yml'), composeFile)
  fs.writeFileSync(path.join(workdir, 'api.env'), 'QUOTED="a b"\nSINGLE=\'c d\'\nPLAIN=e f\nEMPTY=\n# a comment\nOVERRIDDEN=from-file\n')
})
afterAll(() => fs.rmSync(workdir, { recursive: true, force: true }))

/** Each service stamps its start time on a shared volume; the order constraints are checked on both. */
const stamp = (svc: string) => `read up idle < /proc/uptime; echo $$up > /stamps/${svc}`

const composeFile = `
services:
  db:
    image: mc-compose:bb
    command: ["sh", "-c", "${stamp('db')}; busybox sleep 0.3; mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 5432 -h /www"]
    healthcheck:
      test: ["CMD-SHELL", "wget -q -O- http://127.0.0.1:5432/"]
      interval: 200ms
      retries: 20
    volumes: [data:/data, stamps:/stamps]
    networks:
      back: { aliases: [database] }
  migrate:
    image: mc-compose:bb
    command: ["sh", "-c", "${stamp('migrate')}; wget -q -O- http://database:5432/ && echo migrated > /data/m"]
    volumes: [data:/data, stamps:/stamps]
    networks: [back]
    depends_on:
      db: { condition: service_healthy }
  api:
    image: mc-compose:bb
    command: ["sh", "-c", "${stamp('api')}; exec sleep 1000"]
    env_file: [api.env]
    environment:
      MODE: "\${MODE:-test}"
      OVERRIDDEN: from-environment
      LITERAL: "$$NOT_INTERPOLATED"
    ports: ["127.0.0.1::8080"]
    volumes: [data:/data:ro, stamps:/stamps]
    networks:
      front: { aliases: [web] }
      back: {}
    depends_on:
      db: { condition: service_healthy }
      migrate: { condition: service_completed_successfully }
  edge:
    image: mc-compose:bb
    container_name: edge-box
    command: ["sh", "-c", "${stamp('edge')}; exec sleep 1000"]
    volumes: [stamps:/stamps]
    networks: [front]
networks:
  front: {}
  back: {}
volumes:
  data: {}
  stamps: {}
`

const services = ['db', 'migrate', 'api', 'edge']
const running = ['db', 'api', 'edge']
/** Every name a container could try to reach: services, container names (v1 `p_svc_1`, v2 `p-svc-1`), aliases. */
const names = (p: string, sep: '_' | '-') => [...services, ...services.filter((s) => s !== 'edge').map((s) => [p, s, 1].join(sep)), 'edge-box', 'database', 'web']

/** What one side (docker-compose or Compose.up) shows, with the project name replaced by "P" and v1's `_` container names by v2's `-`. */
interface Observed {
  containers: string[]
  networks: string[]
  volumes: string[]
  labels: Record<string, Record<string, string>>
  networkLabels: Record<string, Record<string, string>>
  volumeLabels: Record<string, Record<string, string>>
  ports: Record<string, string>
  migrateExit: number
  inside: Record<string, Record<string, string>>
  stamps: Record<string, number>
}

/** What each running service shows from inside. */
function probes(p: string, sep: '_' | '-'): Record<string, string> {
  // In parallel: a name Docker's embedded DNS does not know goes to the host's resolver, which a
  // container may not reach (seconds per name).
  const resolve = names(p, sep).map((n) => `(ping -c1 -W1 ${n} >/dev/null 2>&1 && echo ${n}) &`).join(' ')
  return {
    hostnameLength: 'hostname | busybox wc -c',
    resolves: `${resolve} wait`,
    env: 'env | grep -v -E "^(HOSTNAME|HOME|PWD|SHLVL)=" | busybox sort',
    mounts: "busybox awk '$2 ~ /^\\/(data|stamps)$/ {print $2, substr($4, 1, 2)}' /proc/self/mounts | busybox sort",
    data: 'cat /data/m 2>&1',
  }
}

/** Every probe in every running service, at once. */
async function probeAll(p: string, sep: '_' | '-', exec: (svc: string, cmd: string) => Promise<string>): Promise<Observed['inside']> {
  const entries = await Promise.all(running.map(async (svc) => [svc, Object.fromEntries(await Promise.all(Object.entries(probes(p, sep)).map(async ([k, cmd]) => [k, await exec(svc, cmd)])))]))
  return Object.fromEntries(entries) as Observed['inside']
}

function anonymise(text: string, p: string): string {
  return text.split(p).join('P').replace(/\bP_(\w+)_(\d+)\b/g, 'P-$1-$2')
}

/** anonymise() on every string of a value, keys included (not on its JSON text: `\\n` there would glue to the next word). */
function anonymiseAll<T>(value: T, p: string): T {
  if (typeof value === 'string') return anonymise(value, p) as T
  if (Array.isArray(value)) return value.map((v: unknown) => anonymiseAll(v, p)) as T
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [anonymise(k, p), anonymiseAll(v, p)])) as T
  return value
}

/** The compose labels both set with the same meaning (v1 adds config-hash and version, which differ by design). */
const comparedLabels = ['com.docker.compose.project', 'com.docker.compose.service', 'com.docker.compose.container-number', 'com.docker.compose.oneoff', 'com.docker.compose.project.working_dir', 'com.docker.compose.project.config_files', 'com.docker.compose.network', 'com.docker.compose.volume']

function pick(labels: Record<string, string> | null | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(labels ?? {}).filter(([k]) => comparedLabels.includes(k)))
}

async function stampsFrom(read: () => Promise<string>): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const line of (await read()).trim().split('\n')) {
    const [file, ns] = line.split(' ')
    out[path.basename(file)] = Number(ns) * 1000
  }
  return out
}
const stampsCmd = 'for f in /stamps/*; do echo "$f $(cat $f)"; done'

function dockerCompose(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('docker-compose', args, { cwd: workdir, env: { ...process.env, DOCKER_HOST: `unix://${engine.socket}`, MODE: 'ci' }, timeout: 180_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }))
  })
}

async function dockerJson<T>(args: string[]): Promise<T> {
  return JSON.parse(await engine.ok(args)) as T
}

async function observeDocker(p: string): Promise<Observed> {
  const ids = (await engine.ok(['ps', '-aq', '--filter', `label=com.docker.compose.project=${p}`])).split('\n').filter(Boolean)
  const infos = await dockerJson<Array<{ Name: string; Config: { Labels: Record<string, string> }; State: { ExitCode: number }; NetworkSettings: { Ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null> } }>>(['inspect', ...ids])
  const bySvc = new Map(infos.map((i) => [i.Config.Labels['com.docker.compose.service'], i]))
  const nets = (await engine.ok(['network', 'ls', '--filter', `label=com.docker.compose.project=${p}`, '--format', '{{.Name}}'])).split('\n').filter(Boolean)
  const vols = (await engine.ok(['volume', 'ls', '--filter', `label=com.docker.compose.project=${p}`, '--format', '{{.Name}}'])).split('\n').filter(Boolean)
  const exec = async (svc: string, cmd: string) => (await engine.run(['exec', bySvc.get(svc)!.Name.slice(1), 'sh', '-c', cmd])).stdout
  const inside = await probeAll(p, '_', exec)
  const netLabels = await dockerJson<Array<{ Name: string; Labels: Record<string, string> }>>(['network', 'inspect', ...nets])
  const volLabels = await dockerJson<Array<{ Name: string; Labels: Record<string, string> }>>(['volume', 'inspect', ...vols])
  const api = bySvc.get('api')!.NetworkSettings.Ports
  return anonymiseAll({
    containers: infos.map((i) => i.Name.slice(1)).sort(),
    networks: nets.sort(),
    volumes: vols.sort(),
    labels: Object.fromEntries([...bySvc].map(([s, i]) => [s, pick(i.Config.Labels)])),
    networkLabels: Object.fromEntries(netLabels.map((n) => [n.Name, pick(n.Labels)])),
    volumeLabels: Object.fromEntries(volLabels.map((v) => [v.Name, pick(v.Labels)])),
    ports: Object.fromEntries(Object.entries(api).map(([k, b]) => [k, (b ?? []).map((x) => `${x.HostIp}:${Number(x.HostPort) > 0 ? 'N' : x.HostPort}`).join(',')])),
    migrateExit: bySvc.get('migrate')!.State.ExitCode,
    inside,
    stamps: {},
  }, p)
}

async function observeHere(env: ComposeEnvironment, p: string): Promise<Observed> {
  const mine = []
  for (const c of await Container.list({ runtime, all: true })) {
    const info = await c.inspect()
    if (info.config.labels['com.docker.compose.project'] === p) mine.push(info)
  }
  const bySvc = new Map(mine.map((i) => [i.config.labels['com.docker.compose.service'], i]))
  const nets = []
  for (const n of await Network.list({ runtime })) {
    const info = await n.inspect()
    if (info.labels['com.docker.compose.project'] === p) nets.push(info)
  }
  const vols = []
  for (const v of await Volume.list({ runtime })) {
    const info = await v.inspect()
    if (info.labels['com.docker.compose.project'] === p) vols.push(info)
  }
  const inside = await probeAll(p, '-', async (svc, cmd) => (await env.exec(svc, ['sh', '-c', cmd])).stdout)
  const api = bySvc.get('api')!.networkSettings.ports
  return anonymiseAll({
    containers: mine.map((i) => i.name).sort(),
    networks: nets.map((n) => n.name).sort(),
    volumes: vols.map((v) => v.name).sort(),
    labels: Object.fromEntries([...bySvc].map(([s, i]) => [s, pick(i.config.labels)])),
    networkLabels: Object.fromEntries(nets.map((n) => [n.name, pick(n.labels)])),
    volumeLabels: Object.fromEntries(vols.map((v) => [v.name, pick(v.labels)])),
    ports: Object.fromEntries(Object.entries(api).map(([k, b]) => [k, b.map((x) => `${x.hostIp}:${Number(x.hostPort) > 0 ? 'N' : x.hostPort}`).join(',')])),
    migrateExit: bySvc.get('migrate')!.state.exitCode,
    inside,
    stamps: {},
  }, p)
}

/** api after db healthy and migrate done; migrate after db healthy; edge has no constraint. */
function checkOrder(stamps: Record<string, number>): void {
  expect(Object.keys(stamps).sort()).toEqual(['api', 'db', 'edge', 'migrate'])
  // db sleeps 300 ms before it serves, so a healthy db is at least that much after its stamp (/proc/uptime has 10 ms steps).
  expect(stamps.migrate - stamps.db).toBeGreaterThanOrEqual(290)
  expect(stamps.api).toBeGreaterThanOrEqual(stamps.migrate)
  // edge depends on nothing: it starts with db, not after the chain.
  expect(stamps.edge).toBeLessThan(stamps.migrate)
}

test('the same compose file under docker-compose 1.29.2 and Compose.up: the same names, labels, ports, resolution, environment, mounts and order', async () => {
  const dp = `d${randomBytes(4).toString('hex')}`
  const mp = `m${randomBytes(4).toString('hex')}`
  const file = path.join(workdir, 'compose.yml')
  const up = await dockerCompose(['-p', dp, '-f', file, 'up', '-d'])
  expect(up.stderr).not.toMatch(/ERROR/)
  expect(up.code).toBe(0)
  let env: ComposeEnvironment | undefined
  try {
    env = await Compose.up(file, { runtime, projectName: mp, env: { MODE: 'ci' } })
    const [docker, here] = [await observeDocker(dp), await observeHere(env, mp)]
    const dockerStamps = await stampsFrom(async () => (await engine.run(['exec', 'edge-box', 'sh', '-c', stampsCmd])).stdout)
    const hereStamps = await stampsFrom(async () => (await env!.exec('edge', ['sh', '-c', stampsCmd])).stdout)
    checkOrder(dockerStamps)
    checkOrder(hereStamps)
    // Outside (sorted after the project names were replaced).
    expect(here.containers.sort()).toEqual(docker.containers.sort())
    expect(here.networks.sort()).toEqual(docker.networks.sort())
    expect(here.volumes.sort()).toEqual(docker.volumes.sort())
    expect(here.labels).toEqual(docker.labels)
    expect(here.networkLabels).toEqual(docker.networkLabels)
    expect(here.volumeLabels).toEqual(docker.volumeLabels)
    expect(here.ports).toEqual(docker.ports)
    expect(here.migrateExit).toBe(docker.migrateExit)
    // Inside, service by service and probe by probe, so that a failure names both.
    // Lines sorted after anonymising (v1's `_` sorts before `-`).
    const lines = (out: string) => out.split('\n').filter(Boolean).sort()
    for (const svc of running) for (const probe of Object.keys(docker.inside[svc])) expect({ svc, probe, out: lines(here.inside[svc][probe]) }).toEqual({ svc, probe, out: lines(docker.inside[svc][probe]) })
    // down keeps the named volumes, down -v removes them; containers and networks go with both.
    await env.down()
    await dockerCompose(['-p', dp, '-f', file, 'down', '-t', '0'])
    expect(await leftHere(mp)).toEqual(await leftInDocker(dp))
    expect((await leftHere(mp)).volumes).toEqual(['P_data', 'P_stamps'])
    await env.down({ volumes: true })
    await dockerCompose(['-p', dp, '-f', file, 'down', '-v', '-t', '0'])
    expect(await leftHere(mp)).toEqual(await leftInDocker(dp))
    expect(await leftHere(mp)).toEqual({ containers: [], networks: [], volumes: [] })
  } finally {
    await env?.down({ volumes: true })
    await dockerCompose(['-p', dp, '-f', file, 'down', '-v', '-t', '0'])
  }
})

/** What is left of a project after down: container, network and volume names, anonymised. */
async function leftHere(p: string): Promise<{ containers: string[]; networks: string[]; volumes: string[] }> {
  const containers = []
  for (const c of await Container.list({ runtime, all: true })) if ((await c.inspect()).config.labels['com.docker.compose.project'] === p) containers.push(c.name)
  const networks = (await Promise.all((await Network.list({ runtime })).map((n) => n.inspect()))).filter((n) => n.labels['com.docker.compose.project'] === p).map((n) => n.name)
  const volumes = (await Promise.all((await Volume.list({ runtime })).map((v) => v.inspect()))).filter((v) => v.labels['com.docker.compose.project'] === p).map((v) => v.name)
  return anonymiseAll({ containers: containers.sort(), networks: networks.sort(), volumes: volumes.sort() }, p)
}

async function leftInDocker(p: string): Promise<{ containers: string[]; networks: string[]; volumes: string[] }> {
  const list = async (args: string[]) => (await engine.ok([...args, '--filter', `label=com.docker.compose.project=${p}`, '--format', '{{.Names}}'])).split('\n').filter(Boolean).sort()
  const names = async (kind: string) => (await engine.ok([kind, 'ls', '--filter', `label=com.docker.compose.project=${p}`, '--format', '{{.Name}}'])).split('\n').filter(Boolean).sort()
  return anonymiseAll({ containers: await list(['ps', '-a']), networks: await names('network'), volumes: await names('volume') }, p)
}

const failing = `
services:
  db:
    image: mc-compose:bb
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 5432 -h /www"]
    healthcheck: { test: ["CMD-SHELL", "wget -q -O- http://127.0.0.1:5432/"], interval: 200ms, retries: 20 }
  migrate:
    image: mc-compose:bb
    command: ["sh", "-c", "exit 4"]
    depends_on: { db: { condition: service_healthy } }
  api:
    image: mc-compose:bb
    command: [sleep, "1000"]
    depends_on: { migrate: { condition: service_completed_successfully } }
`

test('a one-shot exiting 4: both refuse to start its dependent, and leave the same states (with keepOnFailure)', async () => {
  const dp = `d${randomBytes(4).toString('hex')}`
  const mp = `m${randomBytes(4).toString('hex')}`
  const file = path.join(workdir, 'failing.yml')
  fs.writeFileSync(file, failing)
  try {
    const up = await dockerCompose(['-p', dp, '-f', file, 'up', '-d'])
    expect(up.code).not.toBe(0)
    expect(up.stderr).toMatch(/exited with code 4/)
    const err = await Compose.up(file, { runtime, projectName: mp, keepOnFailure: true }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'EDEPENDENCY', service: 'api', dependency: 'migrate', condition: 'service_completed_successfully' })
    const dockerStates = (await engine.ok(['ps', '-a', '--filter', `label=com.docker.compose.project=${dp}`, '--format', '{{.Label "com.docker.compose.service"}} {{.State}}'])).split('\n').sort()
    const here = []
    for (const c of await Container.list({ runtime, all: true })) {
      const info = await c.inspect()
      if (info.config.labels['com.docker.compose.project'] === mp) here.push(`${info.config.labels['com.docker.compose.service']} ${info.state.status}`)
    }
    expect(here.sort()).toEqual(dockerStates)
    expect(dockerStates).toEqual(['db running', 'migrate exited'])
    const exitCode = await engine.ok(['inspect', '-f', '{{.State.ExitCode}}', `${dp}_migrate_1`])
    expect(String((await (await Container.get(`${mp}-migrate-1`, { runtime })).inspect()).state.exitCode)).toBe(exitCode)
  } finally {
    for (const c of await Container.list({ runtime, all: true })) if ((await c.inspect()).config.labels['com.docker.compose.project'] === mp) await c.remove({ force: true })
    for (const n of await Network.list({ runtime })) if ((await n.inspect()).name === `${mp}_default`) await n.remove()
    await dockerCompose(['-p', dp, '-f', file, 'down', '-v', '-t', '0'])
  }
})

/** A service as both configs state it, in one shape (v1's `config` writes short forms and re-escapes `$`). */
interface ConfigView {
  image: string
  command?: string[]
  environment: Record<string, string>
  dependsOn: Record<string, string>
  networks: Record<string, string[]>
  volumes: string[]
  ports: string[]
  healthcheck?: { test: string[]; interval?: number; retries?: number }
  containerName?: string
}

function dockerConfigView(svc: Record<string, unknown>): ConfigView {
  const volume = (v: string) => { const [src, dst, mode = 'rw'] = v.split(':'); return `${src}:${dst}:${mode}` }
  const port = (p: string) => { const m = /^(?:([\d.]+):)?(\d*):(\d+)\/(\w+)$/.exec(p)!; return `${m[1] ?? ''}:${m[2]}:${m[3]}/${m[4]}` }
  const hc = svc.healthcheck as { test: string[]; interval?: string; retries?: number } | undefined
  const unescape = (v: unknown) => String(v).replace(/\$\$/g, '$')
  return {
    image: String(svc.image),
    command: (svc.command as string[] | undefined)?.map(unescape),
    environment: Object.fromEntries(Object.entries((svc.environment ?? {}) as Record<string, string>).map(([k, v]) => [k, unescape(v)])),
    dependsOn: Object.fromEntries(Object.entries((svc.depends_on ?? {}) as Record<string, { condition: string }>).map(([k, d]) => [k, d.condition])),
    networks: Object.fromEntries(Object.entries((svc.networks ?? {}) as Record<string, { aliases?: string[] } | null>).map(([k, n]) => [k, n?.aliases ?? []])),
    volumes: ((svc.volumes ?? []) as string[]).map(volume).sort(),
    ports: ((svc.ports ?? []) as string[]).map(port),
    healthcheck: hc && { test: hc.test, interval: hc.interval === '200ms' ? 200 : undefined, retries: hc.retries },
    containerName: svc.container_name as string | undefined,
  }
}

function ourConfigView(svc: ComposeService): ConfigView {
  return {
    image: svc.image,
    command: svc.command,
    environment: svc.environment,
    dependsOn: Object.fromEntries(Object.entries(svc.dependsOn).map(([k, d]) => [k, d.condition])),
    networks: Object.fromEntries(Object.entries(svc.networks).map(([k, n]) => [k, n.aliases])),
    volumes: svc.mounts.map((m) => `${m.source}:${m.target}:${m.readOnly ? 'ro' : 'rw'}`).sort(),
    ports: svc.ports.map((p) => `${p.hostIp ?? ''}:${p.published ?? ''}:${p.target}/${p.protocol}`),
    healthcheck: svc.healthcheck && { test: svc.healthcheck.test, interval: svc.healthcheck.interval, retries: svc.healthcheck.retries },
    containerName: svc.containerName,
  }
}

test('Compose.config() states what docker-compose config states: services, images, commands, environment, dependencies, networks, volumes, ports, health checks', async () => {
  const file = path.join(workdir, 'compose.yml')
  const docker = await dockerCompose(['-p', 'cfg', '-f', file, 'config'])
  expect(docker.code).toBe(0)
  const theirs = parse(docker.stdout) as { services: Record<string, Record<string, unknown>>; networks: Record<string, unknown>; volumes: Record<string, unknown> }
  const ours = await Compose.config(file, { projectName: 'cfg', env: { MODE: 'ci' } })
  expect(Object.keys(ours.services).sort()).toEqual(Object.keys(theirs.services).sort())
  for (const name of Object.keys(theirs.services)) expect({ name, ...ourConfigView(ours.services[name]) }).toEqual({ name, ...dockerConfigView(theirs.services[name]) })
  expect(Object.keys(ours.networks).sort()).toEqual(Object.keys(theirs.networks).sort())
  expect(Object.keys(ours.volumes).sort()).toEqual(Object.keys(theirs.volumes).sort())
})

const profiled = `
services:
  base: { image: mc-compose:bb, command: [sleep, "1000"] }
  debug-tool: { image: mc-compose:bb, command: [sleep, "1000"], profiles: [debug] }
  test-runner: { image: mc-compose:bb, command: [sleep, "1000"], profiles: [test], depends_on: [base] }
  both: { image: mc-compose:bb, command: [sleep, "1000"], profiles: [debug, test] }
`

test('profiles: the same services start under both without profiles, with one enabled, with two, and with a profiled service named explicitly', async () => {
  const file = path.join(workdir, 'profiled.yml')
  fs.writeFileSync(file, profiled)
  const servicesOf = (labels: Array<Record<string, string>>, p: string) => labels.filter((l) => l['com.docker.compose.project'] === p).map((l) => l['com.docker.compose.service']).sort()
  const cases: Array<{ profiles: string[]; services?: string[]; expected: string[] }> = [
    { profiles: [], expected: ['base'] },
    { profiles: ['debug'], expected: ['base', 'both', 'debug-tool'] },
    { profiles: ['debug', 'test'], expected: ['base', 'both', 'debug-tool', 'test-runner'] },
    { profiles: [], services: ['test-runner'], expected: ['base', 'test-runner'] },
  ]
  for (const { profiles, services: named, expected } of cases) {
    const dp = `d${randomBytes(4).toString('hex')}`
    const mp = `m${randomBytes(4).toString('hex')}`
    try {
      const up = await dockerCompose([...profiles.flatMap((pr) => ['--profile', pr]), '-p', dp, '-f', file, 'up', '-d', ...(named ?? [])])
      expect(up.code).toBe(0)
      const ids = (await engine.ok(['ps', '-aq', '--filter', `label=com.docker.compose.project=${dp}`])).split('\n').filter(Boolean)
      const theirs = servicesOf((await dockerJson<Array<{ Config: { Labels: Record<string, string> } }>>(['inspect', ...ids])).map((i) => i.Config.Labels), dp)
      await using env = await Compose.up(file, { runtime, projectName: mp, profiles, services: named })
      const ours = servicesOf(await Promise.all((await Container.list({ runtime, all: true })).map(async (c) => (await c.inspect()).config.labels)), mp)
      expect({ profiles, named, services: theirs }).toEqual({ profiles, named, services: expected })
      expect({ profiles, named, services: ours }).toEqual({ profiles, named, services: theirs })
      expect(Object.keys(env.model.services).sort()).toEqual(theirs)
    } finally {
      await dockerCompose([...profiles.flatMap((pr) => ['--profile', pr]), '-p', dp, '-f', file, 'down', '-v', '-t', '0'])
    }
  }
})
