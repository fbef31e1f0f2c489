/**
 * The image's config applied at run, as Docker applies it: Entrypoint and
 * Cmd rules, env merge, WorkingDir, User, StopSignal used by stop(),
 * Volumes as anonymous volumes, Labels merge, Healthcheck kept; commit
 * writes config changes back. The image is built by umoci.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Image, run, type Runtime } from '../../lib'
import { destroyRuntime, tempRuntime, text } from '../helpers'
import { buildOciLayout } from '../image/oci-fixture'

let runtime: Runtime
let work: string
let image: string

beforeAll(async () => {
  runtime = tempRuntime()
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-imgcfg-'))
  const layout = buildOciLayout(work, [
    '--config.entrypoint', 'sh', '--config.entrypoint', '-c', '--config.entrypoint', 'trap "echo got USR1; exit 0" USR1; echo "$0 $GREETING $MODE $(id -u) $(pwd)"; while :; do sleep 0.1; done',
    '--config.cmd', 'from-cmd', '--config.env', 'MODE=image', '--config.user', 'app', '--config.volume', '/data',
    '--config.label', 'tier=base', '--config.stopsignal', 'SIGUSR1', '--config.exposedports', '80/tcp',
  ])
  ;[{ id: image }] = await Image.load(layout, { runtime })
})
afterAll(async () => {
  await destroyRuntime(runtime)
  fs.rmSync(work, { recursive: true, force: true })
})

async function firstLine(c: Awaited<ReturnType<typeof run>>): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const out = await text(c.logs())
    if (out.includes('\n')) return out.split('\n')[0]
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('no output')
}

test('no command runs Entrypoint + Cmd with the image env, user and workdir; stop() sends the StopSignal', async () => {
  const c = await run(image, undefined, { runtime, network: 'none', env: { MODE: 'run' }, labels: { app: 'x' } })
  expect(await firstLine(c)).toBe('from-cmd hello run 1000 /opt')
  const info = await c.inspect()
  expect(info.config.labels).toEqual({ tier: 'base', app: 'x' })
  expect(info.mounts.map((m) => m.destination)).toContain('/data')
  const started = Date.now()
  expect(await c.stop({ timeout: 20 })).toEqual({ exitCode: 0 })
  expect(Date.now() - started).toBeLessThan(10_000)
  expect(await text(c.logs())).toContain('got USR1')
  await c.remove({ volumes: true })
})

test('stopSignal replaces the image\'s StopSignal, stopTimeout is stop()\'s default wait, expose adds to the exposed ports (published by publishAll)', async () => {
  // A program that ends on SIGHUP only: the image's SIGUSR1 would have left it to SIGKILL.
  const hup = await run(image, ['sh', '-c', 'trap "echo got HUP; exit 3" HUP; echo up; while :; do sleep 0.1; done'], { runtime, network: 'none', entrypoint: [], stopSignal: 'HUP' })
  await firstLine(hup)
  expect((await hup.inspect()).config.stopSignal).toBe('SIGHUP')
  expect(await hup.stop()).toEqual({ exitCode: 3 })
  expect(await text(hup.logs())).toContain('got HUP')
  await hup.remove({ volumes: true })
  // SIGWINCH is ignored: stop() waits stopTimeout (1 s), not 10 s, then kills.
  const deaf = await run(image, undefined, { runtime, network: 'none', stopSignal: 'SIGWINCH', stopTimeout: 1 })
  await firstLine(deaf)
  const started = Date.now()
  expect(await deaf.stop()).toEqual({ exitCode: 137, signal: 'SIGKILL' })
  expect(Date.now() - started).toBeGreaterThanOrEqual(950)
  expect(Date.now() - started).toBeLessThan(5000)
  await deaf.remove({ volumes: true })
  const exposed = await run(image, undefined, { runtime, network: 'bridge', expose: ['8081', '53/udp'], publishAll: true })
  const info = await exposed.inspect()
  expect(info.config.exposedPorts).toEqual(['80/tcp', '8081/tcp', '53/udp'])
  expect(Object.keys(info.networkSettings.ports).sort()).toEqual(['53/udp', '80/tcp', '8081/tcp'])
  await exposed.remove({ force: true, volumes: true })
  await expect(run(image, undefined, { runtime, expose: ['80-x'] })).rejects.toMatchObject({ code: 'EINVALID' })
  await expect(run(image, undefined, { runtime, stopSignal: 'SIGNOPE' })).rejects.toMatchObject({ code: 'EINVALID' })
})

test('a command replaces Cmd and keeps Entrypoint; the entrypoint option replaces Entrypoint and clears Cmd', async () => {
  const c = await run(image, ['from-run'], { runtime, network: 'none' })
  expect(await firstLine(c)).toBe('from-run hello image 1000 /opt')
  await c.remove({ force: true, volumes: true })
  const d = await run(image, undefined, { runtime, network: 'none', entrypoint: ['echo', 'only'] })
  expect(await d.wait()).toEqual({ exitCode: 0 })
  expect(await text(d.logs())).toBe('only\n')
  await d.remove({ volumes: true })
})

test('an image with no command and no command given is EINVALID "no command specified"', async () => {
  const dir = path.join(work, 'empty')
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'f'), 'x')
  await Image.import(dir, { runtime, ref: 'nocmd', config: {} })
  await expect(run('nocmd', undefined, { runtime })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('no command specified') })
})

test('commit keeps the config and writes changes back', async () => {
  const c = await run(image, ['committed-cmd'], { runtime, network: 'none' })
  expect(await firstLine(c)).toBe('committed-cmd hello image 1000 /opt')
  await c.stop()
  const committed = await c.commit({ ref: 'cfg:2', changes: { stopSignal: 'SIGINT', labels: { tier: 'committed' } } })
  await c.remove({ volumes: true })
  expect((await committed.inspect()).config).toMatchObject({ cmd: ['committed-cmd'], env: expect.arrayContaining(['MODE=image']), user: 'app', volumes: ['/data'], stopSignal: 'SIGINT', labels: { tier: 'committed' }, exposedPorts: ['80/tcp'] })
})
