/**
 * Compose.up on the real kernel: a db with a health check, a one-shot
 * migrate job (service_completed_successfully) and an api depending on both;
 * names resolve between services on `<project>_default`; variables are
 * interpolated; a failing dependency is EDEPENDENCY and leaves nothing; down
 * removes containers and networks and keeps named volumes unless asked.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { randomBytes } from 'node:crypto'
import { Compose, Container, Network, Volume, type Runtime } from '../../lib'
import { sleep, useRuntime } from '../helpers'

jest.setTimeout(120_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true, hostImage: false })

let workdir: string
beforeAll(() => { workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-compose-')) })
afterAll(() => fs.rmSync(workdir, { recursive: true, force: true }))

const project = () => `t${randomBytes(4).toString('hex')}`

const db = (healthTest: string) => `
  db:
    image: bb
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 5432 -h /www"]
    healthcheck:
      test: ["CMD-SHELL", "${healthTest}"]
      interval: 100ms
      retries: 3
    volumes: [data:/data]`

const stack = (healthTest = 'wget -q -O- http://127.0.0.1:5432/', migrateExit = 0) => `
services:${db(healthTest)}
  migrate:
    image: bb
    command: ["sh", "-c", "wget -q -O- http://db:5432/ && echo migrated > /data/m && exit ${migrateExit}"]
    volumes: [data:/data]
    depends_on: { db: { condition: service_healthy } }
  api:
    image: bb
    command: ["sh", "-c", "cat /data/m; echo mode=$$MODE; exec sleep 1000"]
    environment: { MODE: "\${MODE:-test}", GREETING: "\${GREETING-hello}" }
    ports: ["8080"]
    volumes: [data:/data]
    depends_on:
      db: { condition: service_healthy }
      migrate: { condition: service_completed_successfully }
volumes:
  data: {}
`

async function projectContainers(name: string): Promise<string[]> {
  const out: string[] = []
  for (const c of await Container.list({ runtime, all: true })) {
    const info = await c.inspect()
    if (info.config.labels['com.docker.compose.project'] === name) out.push(info.name)
  }
  return out.sort()
}

async function networkNames(): Promise<string[]> {
  return Promise.all((await Network.list({ runtime })).map(async (n) => (await n.inspect()).name))
}

async function volumeNames(): Promise<string[]> {
  return Promise.all((await Volume.list({ runtime })).map(async (v) => (await v.inspect()).name))
}

test('db healthy, then migrate completed, then api; names resolve; variables interpolated; down keeps the named volume', async () => {
  const p = project()
  const env = await Compose.up({ yaml: stack(), workdir }, { runtime, projectName: p, env: { MODE: 'ci' }, ports: 'ephemeral' })
  try {
    expect(await projectContainers(p)).toEqual([`${p}-api-1`, `${p}-db-1`, `${p}-migrate-1`])
    expect(await networkNames()).toContain(`${p}_default`)
    expect(await volumeNames()).toContain(`${p}_data`)
    // migrate ran to completion before api started: api read its file.
    expect((await env.service('migrate').inspect()).state).toMatchObject({ status: 'exited', exitCode: 0 })
    const api = await env.exec('api', ['sh', '-c', 'cat /data/m; echo "$MODE $GREETING"; wget -q -O- http://db:5432/; wget -q -O- http://' + p + '-db-1:5432/'])
    expect(api.stdout).toBe('migrated\nci hello\nok\nok\n')
    // api is ready once running; its first line reaches the log file when the shim's logger writes it.
    let logs = ''
    for (const t0 = Date.now(); !logs.includes('mode=ci') && Date.now() - t0 < 10_000; await sleep(50)) logs = await env.logs('api')
    expect(logs).toContain('mode=ci')
    expect(env.port('api', 8080)).toBeGreaterThan(0)
    const labels = (await env.service('db').inspect()).config.labels
    expect(labels).toMatchObject({ 'com.docker.compose.project': p, 'com.docker.compose.service': 'db', 'com.docker.compose.container-number': '1' })
  } finally {
    await env.down()
  }
  expect(await projectContainers(p)).toEqual([])
  expect(await networkNames()).not.toContain(`${p}_default`)
  expect(await volumeNames()).toContain(`${p}_data`)
  await (await Volume.get(`${p}_data`, { runtime })).remove()
})

test('await using takes everything down, volumes included', async () => {
  const p = project()
  {
    await using env = await Compose.up({ yaml: `services:${db('true')}\nvolumes:\n  data: {}\n`, workdir }, { runtime, projectName: p })
    expect(await projectContainers(p)).toEqual([`${p}-db-1`])
    expect(env.projectName).toBe(p)
  }
  expect(await projectContainers(p)).toEqual([])
  expect(await networkNames()).not.toContain(`${p}_default`)
  expect(await volumeNames()).not.toContain(`${p}_data`)
})

async function expectNothingLeft(p: string): Promise<void> {
  expect(await projectContainers(p)).toEqual([])
  expect(await networkNames()).not.toContain(`${p}_default`)
  expect(await volumeNames()).not.toContain(`${p}_data`)
}

test('an unhealthy dependency is EDEPENDENCY naming it, and leaves nothing', async () => {
  const p = project()
  const err = await Compose.up({ yaml: stack('exit 1'), workdir }, { runtime, projectName: p }).catch((e: unknown) => e)
  expect(err).toMatchObject({ code: 'EDEPENDENCY', dependency: 'db', condition: 'service_healthy' })
  // compose v2's words first, then the service and condition, then the cause (the last check and the logs).
  expect((err as Error).message).toMatch(new RegExp(`^dependency failed to start: container ${p}-db-1 is unhealthy \\(service "migrate" depends on "db" with condition service_healthy\\): container ${p}-db-1 \\([0-9a-f]{12}\\): the container became unhealthy after \\d+ ms .*last check said:`))
  await expectNothingLeft(p)
})

test('a one-shot that exits 4 is EDEPENDENCY with its exit code, and leaves nothing', async () => {
  const p = project()
  const err = await Compose.up({ yaml: stack(undefined, 4), workdir }, { runtime, projectName: p }).catch((e: unknown) => e)
  expect(err).toMatchObject({ code: 'EDEPENDENCY', service: 'api', dependency: 'migrate', condition: 'service_completed_successfully' })
  expect((err as Error).message).toMatch(new RegExp(`^service "migrate" didn't complete successfully: exit 4 \\(service "api" depends on "migrate" with condition service_completed_successfully\\): container ${p}-migrate-1 .*exited with code 4`))
  await expectNothingLeft(p)
})

test('service_healthy on a service without a health check fails before anything starts', async () => {
  const p = project()
  const yaml = 'services:\n  db:\n    image: bb\n    command: [sleep, "100"]\n  api:\n    image: bb\n    depends_on: { db: { condition: service_healthy } }\n'
  await expect(Compose.up({ yaml, workdir }, { runtime, projectName: p })).rejects.toMatchObject({ code: 'EDEPENDENCY', dependency: 'db', message: expect.stringMatching(/^dependency failed to start: service "db" has no health check \(service "api" depends on "db" with condition service_healthy\): neither the compose file nor image/) })
  expect(await projectContainers(p)).toEqual([])
  expect(await networkNames()).not.toContain(`${p}_default`)
})

test('waitFor names an unknown service: EINVALID, nothing made', async () => {
  const p = project()
  await expect(Compose.up({ yaml: `services:${db('true')}\nvolumes:\n  data: {}\n`, workdir }, { runtime, projectName: p, waitFor: { nope: { } as never } })).rejects.toMatchObject({ code: 'EINVALID' })
  await expectNothingLeft(p)
})
