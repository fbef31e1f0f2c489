/**
 * Logs against Docker's json-file driver (Debian docker.io in a private
 * engine, test/tools/docker-engine.ts): the same program in both, and
 * `docker logs` with --tail, -t, --since and --until against logs() with
 * the same options; the records' split of a long line; rotation. Times
 * differ between the two runs, so each side's own record times are used.
 */
import * as fs from 'node:fs'
import { run, type Container, type LogsOptions, type Runtime } from '../../lib'
import { text } from '../helpers'
import { useBusyboxOnBoth, type PrivateDocker } from '../tools/docker-engine'

jest.setTimeout(180_000)

let engine: PrivateDocker
let runtime: Runtime

useBusyboxOnBoth('mc-logs:bb', (e, r) => ((engine = e), (runtime = r)))

const program = 'seq 1 5; sleep 0.2; echo e1 >&2; sleep 0.2; echo six; echo e2 >&2; sleep 0.2; printf partial'

/** Runs the script to its end in Docker; returns the container id. */
async function inDocker(script: string, extra: string[] = []): Promise<string> {
  const id = await engine.ok(['run', '-d', '--network', 'none', ...extra, 'mc-logs:bb', 'sh', '-c', script])
  await engine.ok(['wait', id])
  return id
}

async function here(script: string, opts: { logMaxSize?: string; logMaxFiles?: number } = {}): Promise<Container> {
  const c = await run('mc-logs:bb', ['sh', '-c', script], { runtime, network: 'none', ...opts })
  await c.wait()
  return c
}

/** Both streams of `docker logs <flags>`, as the CLI writes them to its stdout and stderr. */
async function dockerLogs(id: string, flags: string[] = []): Promise<{ stdout: string; stderr: string }> {
  const r = await engine.run(['logs', ...flags, id])
  expect(r.code).toBe(0)
  return { stdout: r.stdout, stderr: r.stderr }
}

async function ourLogs(c: Container, opts: LogsOptions = {}): Promise<{ stdout: string; stderr: string }> {
  return { stdout: await text(c.logs({ ...opts, stderr: false })), stderr: await text(c.logs({ ...opts, stdout: false })) }
}

/** The records of a json-file log as objects. */
function records(file: string): { log: string; stream: string; time: string }[] {
  return fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
}

test('the same output, streams apart, with --tail', async () => {
  const id = await inDocker(program)
  await using c = await here(program)
  expect(await ourLogs(c)).toEqual(await dockerLogs(id))
  for (const tail of [0, 1, 3, 100]) expect(await ourLogs(c, { tail })).toEqual(await dockerLogs(id, ['--tail', String(tail)]))
  expect(await ourLogs(c, { tail: 'all' })).toEqual(await dockerLogs(id, ['--tail', 'all']))
})

test('the same json-file records: keys and their order, escaping, the time format', async () => {
  const script = 'printf "tab\\there \\"q\\" back\\\\\\\\slash \\033[0m é <a&b> \\342\\200\\250 \\377 \\303\\n"; sleep 0.1; echo err >&2'
  const id = await inDocker(script)
  await using c = await here(script)
  const dockerFile = await engine.ok(['inspect', '-f', '{{.LogPath}}', id])
  const theirs = fs.readFileSync(dockerFile, 'utf8').trim().split('\n')
  const ours = fs.readFileSync((await c.inspect()).logPath, 'utf8').trim().split('\n')
  const withoutTime = (l: string) => l.replace(/"time":"[^"]*"/, '"time":""')
  expect(ours.map(withoutTime)).toEqual(theirs.map(withoutTime))
  // Docker trims trailing zeros of the fraction in the file (Go's RFC3339Nano); ours keeps nine digits, also RFC 3339.
  for (const r of records(dockerFile)) expect(r.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/)
})

test('-t prefixes the same way, and --since/--until at a record’s own time select the same records', async () => {
  const id = await inDocker(program)
  await using c = await here(program)
  const theirs = await dockerLogs(id, ['-t'])
  const ours = await ourLogs(c, { timestamps: true })
  const prefix = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z /
  for (const side of [theirs, ours])
    for (const line of (side.stdout + side.stderr).split('\n').filter(Boolean)) expect(line).toMatch(prefix)
  const strip = (s: string) => s.replace(/^\S+ /gm, '')
  expect({ stdout: strip(ours.stdout), stderr: strip(ours.stderr) }).toEqual({ stdout: strip(theirs.stdout), stderr: strip(theirs.stderr) })
  // The time of "e1" on each side: since and until there, with both forms Docker takes (RFC 3339, unix seconds).
  const timeOf = (s: string, what: string) => s.split('\n').find((l) => l.endsWith(` ${what}`))!.split(' ')[0]
  const theirE1 = timeOf(theirs.stderr, 'e1')
  const ourE1 = timeOf(ours.stderr, 'e1')
  expect(await ourLogs(c, { since: ourE1 })).toEqual(await dockerLogs(id, ['--since', theirE1]))
  expect(await ourLogs(c, { until: ourE1 })).toEqual(await dockerLogs(id, ['--until', theirE1]))
  const unix = (t: string) => (Date.parse(t) / 1000).toFixed(3)
  expect(await ourLogs(c, { since: unix(ourE1) })).toEqual(await dockerLogs(id, ['--since', unix(theirE1)]))
  expect(await ourLogs(c, { since: '10m' })).toEqual(await dockerLogs(id, ['--since', '10m']))
})

test('a line longer than 16 KiB is split into the same records', async () => {
  const script = 'head -c 40000 /dev/zero | tr "\\0" x; echo; echo short'
  const id = await inDocker(script)
  await using c = await here(script)
  const theirs = records(await engine.ok(['inspect', '-f', '{{.LogPath}}', id]))
  const ours = records((await c.inspect()).logPath)
  expect(ours.map((r) => r.log)).toEqual(theirs.map((r) => r.log))
  expect(ours.map((r) => r.log.length)).toEqual([16384, 16384, 7233, 6])
  expect(await ourLogs(c)).toEqual(await dockerLogs(id))
})

test('max-size and max-file: rotated files .1 and .2, logs read across them, ending with the same lines', async () => {
  const id = await inDocker('seq 1 3000', ['--log-opt', 'max-size=8k', '--log-opt', 'max-file=3'])
  await using c = await here('seq 1 3000', { logMaxSize: '8k', logMaxFiles: 3 })
  const dockerFile = await engine.ok(['inspect', '-f', '{{.LogPath}}', id])
  const ourFile = (await c.inspect()).logPath
  const present = (f: string) => ['', '.1', '.2', '.3'].filter((s) => fs.existsSync(f + s))
  expect(present(ourFile)).toEqual(present(dockerFile))
  expect(present(ourFile)).toEqual(['', '.1', '.2'])
  const theirs = (await dockerLogs(id)).stdout.trim().split('\n')
  const ours = (await ourLogs(c)).stdout.trim().split('\n')
  // Docker rotates once a file has reached the size (ours before a record would pass it) and trims zeros off its record
  // times: its full files hold a line or two more. The lines agree, and both read every file.
  expect(ours.slice(-100)).toEqual(theirs.slice(-100))
  const count = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n').length
  for (const s of ['.1', '.2']) expect(Math.abs(count(ourFile + s) - count(dockerFile + s))).toBeLessThanOrEqual(3)
  expect(ours.length).toBe(present(ourFile).reduce((n, s) => n + count(ourFile + s), 0))
  expect(theirs.length).toBe(present(dockerFile).reduce((n, s) => n + count(dockerFile + s), 0))
  expect(await ourLogs(c, { tail: 10 })).toEqual(await dockerLogs(id, ['--tail', '10']))
})
