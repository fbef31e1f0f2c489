/** Compose.config(): loading, validation with positions, normalisation, env files, several files, project names. */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Compose } from '../../lib'

let dir: string
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-compose-unit-')) })
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const config = (yaml: string, opts = {}) => Compose.config({ yaml, workdir: dir }, { projectName: 'p', ...opts })

test('unknown keys are EINVALID with line, column and path; x-* keys pass', async () => {
  await expect(config('services:\n  a:\n    image: x\n    imagee: y\n')).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringMatching(/^\(yaml\):4:\d+: services\.a\.imagee: "imagee" is not a Compose Specification key/) })
  await expect(config('servicess: {}\n')).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('servicess') })
  await expect(config('x-common: &c {}\nservices:\n  a:\n    image: x\n    x-note: 1\n')).resolves.toMatchObject({ services: { a: { image: 'x' } } })
})

test('spec keys not carried out are EUNSUPPORTED naming them', async () => {
  await expect(config('services:\n  a:\n    image: x\n    build: { context: ., ssh: [default] }\n')).rejects.toMatchObject({ code: 'EUNSUPPORTED', key: 'services.a.build.ssh' })
  await expect(config('services:\n  a:\n    image: x\n    deploy: { resources: { reservations: { cpus: "1" } } }\n')).rejects.toMatchObject({ code: 'EUNSUPPORTED', key: 'services.a.deploy.resources.reservations' })
  await expect(config('services:\n  a:\n    image: x\n    networks: { n: { mac_address: "02:00:00:00:00:01" } }\nnetworks: { n: {} }\n')).rejects.toMatchObject({ code: 'EUNSUPPORTED', key: 'services.a.networks.n.mac_address' })
})

test('YAML errors carry file:line:column', async () => {
  await expect(config('services:\n  a:\n    image: x\n   bad: 1\n')).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringMatching(/^\(yaml\):4:\d+: /) })
})

test('short and long forms are expanded', async () => {
  const m = await config(`
services:
  a:
    image: x
    command: echo "a b" 'c'
    environment: [A=1, B=x=y, FROM_VARS, NOT_SET]
    ports: ["8080:80", "127.0.0.1::53/udp", 9000, { target: 81, published: "8081", host_ip: 127.0.0.1 }, "7000-7001:70-71"]
    volumes: [./data:/data:ro, named:/n, /anon, { type: tmpfs, target: /t, tmpfs: { size: 1024 } }]
    tmpfs: /run
    healthcheck: { test: curl -f localhost, interval: 1m30s, timeout: 500ms, retries: 2 }
    depends_on: [b]
    networks: { front: { aliases: [web] } }
  b:
    image: y
    healthcheck: { disable: true }
volumes: { named: {} }
networks: { front: { internal: true } }
`, { env: { FROM_VARS: 'v' } })
  const a = m.services.a
  expect(a.command).toEqual(['echo', 'a b', 'c'])
  expect(a.environment).toEqual({ A: '1', B: 'x=y', FROM_VARS: 'v' })
  expect(a.ports).toEqual([
    { target: 80, published: 8080, hostIp: undefined, protocol: 'tcp' },
    { target: 53, published: undefined, hostIp: '127.0.0.1', protocol: 'udp' },
    { target: 9000, published: undefined, hostIp: undefined, protocol: 'tcp' },
    { target: 81, published: 8081, hostIp: '127.0.0.1', protocol: 'tcp' },
    { target: 70, published: 7000, hostIp: undefined, protocol: 'tcp' },
    { target: 71, published: 7001, hostIp: undefined, protocol: 'tcp' },
  ])
  expect(a.mounts).toEqual([
    { type: 'bind', source: path.join(dir, 'data'), target: '/data', readOnly: true },
    { type: 'volume', source: 'named', target: '/n', readOnly: false },
    { type: 'volume', target: '/anon', readOnly: false },
    { type: 'tmpfs', target: '/t', readOnly: false, tmpfsSize: 1024 },
    { type: 'tmpfs', target: '/run', readOnly: false },
  ])
  expect(a.healthcheck).toEqual({ test: ['CMD-SHELL', 'curl -f localhost'], interval: 90_000, timeout: 500, retries: 2 })
  expect(a.dependsOn).toEqual({ b: { condition: 'service_started', required: true } })
  expect(a.networks).toEqual({ front: { aliases: ['web'], ipv4Address: undefined } })
  expect(m.services.b.healthcheck).toEqual({ test: ['NONE'] })
  expect(m.networks).toEqual({ front: { name: 'p_front', external: false, internal: true, labels: {} }, default: { name: 'p_default', external: false, internal: false, labels: {} } })
  expect(m.volumes).toEqual({ named: { name: 'p_named', external: false, labels: {} } })
})

test('bad values are EINVALID at their path', async () => {
  const bad = async (svc: string, pattern: RegExp) => expect(config(`services:\n  a:\n    image: x\n${svc}\n  b: { image: y }\n`)).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringMatching(pattern) })
  await bad('    ports: ["99999:80"]', /services\.a\.ports\[0\]: invalid port specification: bad port "99999"/)
  await bad('    ports: ["8000-8002:80-81"]', /services\.a\.ports\[0\]: invalid port specification: .*ranges of one length/)
  await bad('    depends_on: { b: { condition: service_ready } }', /service_started, service_healthy, service_completed_successfully/)
  await bad('    depends_on: [nope]', /service "a" depends on service "nope" which is undefined/)
  await bad('    volumes: [missing:/m]', /undefined volume missing/)
  await bad('    networks: [missing]', /undefined network missing/)
  await bad('    healthcheck: { test: [CMD, x], interval: 10 }', /not a duration/)
})

test('profiles: a profiled service is left out unless its profile is enabled', async () => {
  const yaml = 'services:\n  a: { image: x }\n  dbg: { image: y, profiles: [debug] }\n'
  expect(Object.keys((await config(yaml)).services)).toEqual(['a'])
  expect(Object.keys((await config(yaml, { profiles: ['debug'] })).services)).toEqual(['a', 'dbg'])
  await expect(config('services:\n  a: { image: x, depends_on: [dbg] }\n  dbg: { image: y, profiles: [debug] }\n')).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('profile debug') })
})

test('variables: the env option over the process environment over .env; envFile must exist; unset ones are warnings', async () => {
  const work = fs.mkdtempSync(path.join(dir, 'w-'))
  fs.writeFileSync(path.join(work, '.env'), 'TAG=fromfile\nHOME=fromfile\nOTHER=o\n')
  fs.writeFileSync(path.join(work, 'ci.env'), 'TAG=ci\n')
  fs.writeFileSync(path.join(work, 'compose.yml'), 'services:\n  a:\n    image: "x:${TAG}"\n    environment: { H: "${HOME}", O: "${OTHER}", U: "${UNSET_VAR_123}" }\n')
  const file = path.join(work, 'compose.yml')
  const m = await Compose.config(file, { projectName: 'p' })
  expect(m.services.a.image).toBe('x:fromfile')
  expect(m.services.a.environment).toEqual({ H: process.env.HOME, O: 'o', U: '' })
  expect(m.warnings).toEqual([expect.stringContaining('UNSET_VAR_123')])
  expect((await Compose.config(file, { projectName: 'p', env: { TAG: 'opt' } })).services.a.image).toBe('x:opt')
  expect((await Compose.config(file, { projectName: 'p', envFile: 'ci.env' })).services.a.image).toBe('x:ci')
  await expect(Compose.config(file, { projectName: 'p', envFile: 'nope.env' })).rejects.toMatchObject({ code: 'ENOTFOUND' })
  await expect(Compose.config(path.join(work, 'absent.yml'))).rejects.toMatchObject({ code: 'ENOTFOUND' })
})

test('several files merge in order, and the later file decides', async () => {
  const base = path.join(dir, 'base.yml')
  const over = path.join(dir, 'over.yml')
  fs.writeFileSync(base, 'services:\n  a: { image: x, environment: [A=1], ports: ["80"] }\n')
  fs.writeFileSync(over, 'services:\n  a: { image: y, environment: { B: "2" }, ports: ["81"] }\n  b: { image: z }\n')
  const m = await Compose.config([base, over], { projectName: 'p' })
  expect(m.files).toEqual([base, over])
  expect(m.services.a).toMatchObject({ image: 'y', environment: { A: '1', B: '2' } })
  expect(m.services.a.ports.map((p) => p.target)).toEqual([80, 81])
  expect(Object.keys(m.services)).toEqual(['a', 'b'])
})

test('project names: validated as compose v2; the file\'s name; else a fresh one each call', async () => {
  await expect(config('services: {}\n', { projectName: 'My.App' })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('^[a-z0-9][a-z0-9_-]*$') })
  expect((await Compose.config({ yaml: 'name: fromfile\nservices: {}\n', workdir: dir })).name).toBe('fromfile')
  const [a, b] = await Promise.all([Compose.config({ yaml: 'services: {}\n', workdir: dir }), Compose.config({ yaml: 'services: {}\n', workdir: dir })])
  expect(a.name).toMatch(/^mc-[0-9a-f]{10}$/)
  expect(a.name).not.toBe(b.name)
})

test('a cycle is EINVALID naming it', async () => {
  await expect(config('services:\n  a: { image: x, depends_on: [b] }\n  b: { image: x, depends_on: [c] }\n  c: { image: x, depends_on: [a] }\n')).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('a -> b -> c -> a') })
})

test('env_file: quotes stripped, later files over earlier, environment over both; required: false may be missing, a required one is ENOTFOUND', async () => {
  const work = fs.mkdtempSync(path.join(dir, 'e-'))
  fs.writeFileSync(path.join(work, 'a.env'), 'Q="a b"\nS=\'c d\'\nBOTH=a\nOVER=file\n')
  fs.writeFileSync(path.join(work, 'b.env'), 'BOTH=b\n')
  const yaml = (envFile: string) => `services:\n  a:\n    image: x\n    env_file: ${envFile}\n    environment: { OVER: env }\n`
  const m = await Compose.config({ yaml: yaml('[a.env, { path: b.env }, { path: missing.env, required: false }]'), workdir: work }, { projectName: 'p' })
  expect(m.services.a.environment).toEqual({ Q: 'a b', S: 'c d', BOTH: 'b', OVER: 'env' })
  expect((await Compose.config({ yaml: yaml('a.env'), workdir: work }, { projectName: 'p' })).services.a.environment.Q).toBe('a b')
  await expect(Compose.config({ yaml: yaml('[missing.env]'), workdir: work }, { projectName: 'p' })).rejects.toMatchObject({ code: 'ENOTFOUND', message: expect.stringContaining(path.join(work, 'missing.env')) })
})

test('the services option: those services and their dependencies, profiled ones included when named; unknown names EINVALID', async () => {
  const yaml = 'services:\n  db: { image: x }\n  api: { image: x, depends_on: [db], networks: [front] }\n  other: { image: x, networks: [back] }\n  dbg: { image: x, profiles: [debug] }\nnetworks: { front: {}, back: {} }\n'
  const m = await config(yaml, { services: ['api'] })
  expect(Object.keys(m.services).sort()).toEqual(['api', 'db'])
  expect(Object.keys(m.networks).sort()).toEqual(['default', 'front'])
  expect(Object.keys((await config(yaml, { services: ['dbg'] })).services)).toEqual(['dbg'])
  await expect(config(yaml, { services: ['nope'] })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('nope') })
})

test('replicas, limits, network_mode, expose, stop_signal and build are normalised', async () => {
  const m = await config(`
services:
  a:
    image: x
    scale: 2
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 50
    shm_size: 1m
    expose: [8080, "53/udp"]
    stop_signal: SIGUSR1
    stop_grace_period: 2s
  b:
    build: { context: ./ctx, dockerfile: Other, args: [A=1], target: t }
    deploy: { replicas: 3, resources: { limits: { cpus: "0.25", memory: 32M, pids: 20 } } }
    mem_limit: 1g
    network_mode: service:a
`)
  expect(m.services.a).toMatchObject({ replicas: 2, resources: { memory: 64 << 20, cpus: 0.5, pidsLimit: 50, shmSize: 1 << 20 }, expose: ['8080', '53/udp'], stopSignal: 'SIGUSR1', stopGracePeriod: 2000 })
  expect(m.services.b).toMatchObject({ image: 'p-b', build: { context: path.join(dir, 'ctx'), dockerfile: 'Other', args: { A: '1' }, target: 't' }, replicas: 3, resources: { memory: 32 << 20, cpus: 0.25, pidsLimit: 20 }, networkMode: 'service:a', networks: {} })
  expect(m.services.b.dependsOn).toEqual({ a: { condition: 'service_started', required: true } })
  const bad = async (svc: string, pattern: RegExp) => expect(config(`services:\n  a:\n    image: x\n${svc}\n  b: { image: y }\n`)).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringMatching(pattern) })
  await bad('    network_mode: service:nope', /service "nope" is not defined/)
  await bad('    network_mode: bridge2', /not a network mode/)
  await bad('    network_mode: none\n    networks: [default]', /cannot be combined/)
  await bad('    container_name: c\n    scale: 2', /container_name and 2 replicas/)
  await bad('    mem_limit: lots', /mem_limit.*cannot parse/)
  await bad('    scale: 2\n    deploy: { replicas: 3 }', /disagree/)
  await bad('    cpus: none', /not a number of CPUs/)
})

test('ulimits and security_opt: normalised for run(); an AppArmor profile or SELinux label is EUNSUPPORTED naming it; bad values EINVALID at their path', async () => {
  const m = await config('services:\n  a:\n    image: x\n    ulimits: { nproc: 100, nofile: { soft: "200", hard: 300 } }\n    security_opt: [no-new-privileges, "seccomp=./p.json", apparmor=unconfined, label=disable]\n')
  expect(m.services.a.resources.ulimits).toEqual({ nproc: 100, nofile: { soft: 200, hard: 300 } })
  expect(m.services.a.securityOpt).toEqual(['no-new-privileges', `seccomp=${path.join(dir, 'p.json')}`, 'apparmor=unconfined', 'label=disable'])
  const svc = (lines: string) => config(`services:\n  a:\n    image: x\n${lines}\n`)
  await expect(svc('    security_opt: [no-new-privileges, "apparmor=docker-default"]')).rejects.toMatchObject({ code: 'EUNSUPPORTED', key: 'services.a.security_opt[1]', message: expect.stringMatching(/^\(yaml\):\d+:\d+: services\.a\.security_opt\[1\]: "apparmor=docker-default": minicontainer applies no AppArmor profile/) })
  await expect(svc('    security_opt: ["label=type:svirt_t"]')).rejects.toMatchObject({ code: 'EUNSUPPORTED', key: 'services.a.security_opt[0]', message: expect.stringContaining('SELinux') })
  await expect(svc('    security_opt: [seccomp]')).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringMatching(/services\.a\.security_opt: invalid securityOpt "seccomp"/) })
  await expect(svc('    ulimits: { nofiles: 10 }')).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringMatching(/services\.a\.ulimits: ulimits: unknown name "nofiles"/) })
  await expect(svc('    ulimits: { nofile: { soft: 20, hard: 10 } }')).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('above the hard limit') })
  await expect(svc('    ulimits: { nofile: { soft: 20 } }')).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringMatching(/services\.a\.ulimits\.nofile: give both soft and hard/) })
})
