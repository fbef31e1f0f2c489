/**
 * RUN --mount=type=secret and type=ssh, with what Image.build's `secrets`
 * and `ssh` give (named as docker buildx's --secret and --ssh): the secret
 * as a file (BuildKit's default target, mode and owner, or the mount's) and
 * as an environment variable; an absent optional secret left out, a
 * required one ENOTFOUND; a changed secret is a cache hit; the secret's
 * bytes are nowhere on the runtime root afterwards (no layer, no cache
 * entry, no scratch file) and its mount point is not in the image. ssh: a
 * real ssh-agent started by the test, reached from the RUN through
 * SSH_AUTH_SOCK (ssh-add -l of the host image lists its key).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, Image, type BuildProgress, type Runtime } from '../../lib'
import { runOutput, sleep, useRuntime } from '../helpers'
import { useBuildContexts } from '../tools/build-context'
import { runNodeSync, spawnNode } from '../tools/node-child'

jest.setTimeout(120_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true })
const context = useBuildContexts('mc-build-secret-')

const md5 = (s: string) => createHash('md5').update(s).digest('hex')

/** Paths of the files under `dir` whose bytes contain `needle` (entries removed meanwhile, by a build still running, are skipped). */
function filesContaining(dir: string, needle: string): string[] {
  const out: string[] = []
  let entries: fs.Dirent[]
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out
    throw err
  }
  for (const e of entries) {
    const p = path.join(dir, e.name)
    try {
      if (e.isDirectory()) out.push(...filesContaining(p, needle))
      else if (e.isFile() && fs.readFileSync(p).includes(needle)) out.push(p)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
  return out
}

/** Where a secret of this process could be found while its RUN runs: files of the runtime root, and what inspect() shows of its containers. */
async function secretSeen(secret: string): Promise<string[]> {
  const seen = filesContaining(runtime.root, secret).map((f) => path.relative(runtime.root, f))
  for (const c of await Container.list({ runtime, all: true })) {
    const shown = await c.inspect().catch(() => undefined) // a throwaway container removed meanwhile
    if (JSON.stringify(shown ?? {}).includes(secret)) seen.push(`inspect() of ${c.name}`)
  }
  return seen
}

/** Polls until a container of the runtime runs; throws past 60 s or when `gaveUp()` says the build ended. */
async function untilARunRuns(gaveUp: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000
  for (;;) {
    for (const c of await Container.list({ runtime })) if ((await c.inspect().catch(() => undefined))?.state.running) return
    if (gaveUp() || Date.now() > deadline) throw new Error('the build never got to its RUN')
    await sleep(50)
  }
}

const secretRun = 'RUN --mount=type=secret,id=s,env=TOKEN --mount=type=secret,id=s,target=/s sh -c \'test "$TOKEN" = "$(cat /s)" && echo same > /same && sleep'

test('secrets as files and env: default and given target, mode and owner; optional left out; a changed secret is a hit; nothing of it stays on the root', async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-secret-src-'))
  const tokenFile = path.join(work, 'token')
  const token = `tok-${process.pid}-${Date.now()}-file`
  const envValue = `tok-${process.pid}-${Date.now()}-env`
  fs.writeFileSync(tokenFile, token)
  process.env.MC_TEST_SECRET = envValue
  try {
    const df = [
      'FROM bb',
      'RUN --mount=type=secret,id=token md5sum < /run/secrets/token > /default && stat -c "%a %u:%g" /run/secrets/token >> /default',
      'RUN --mount=type=secret,id=fromenv,target=/etc/s.txt,mode=0440,uid=1000,gid=50 md5sum < /etc/s.txt > /given && stat -c "%a %u:%g" /etc/s.txt >> /given',
      'RUN --mount=type=secret,id=token,env=TOKEN_VAR --mount=type=secret,id=token,target=/run/secrets/token --mount=type=secret,id=absent sh -c \'test "$TOKEN_VAR" = "$(cat /run/secrets/token)" && echo same > /env && test ! -e /run/secrets/absent && echo absent-left-out >> /env\'',
      'RUN --mount=type=secret,id=inline,env=ONLY_ENV sh -c \'echo "${#ONLY_ENV}" > /only-env; ls /run/secrets 2>&1 | wc -l >> /only-env\'',
      '',
    ].join('\n')
    const build = async (secrets: Parameters<typeof Image.build>[1] extends infer O ? (O extends { secrets?: infer S } ? S : never) : never) => {
      const events: BuildProgress[] = []
      const img = await Image.build(context({}), { runtime, network: 'none', dockerfile: { content: df }, secrets, onProgress: (e) => events.push(e) })
      return { img, statuses: events.filter((e) => e.instruction.startsWith('RUN') && e.status !== 'running').map((e) => e.status) }
    }
    const first = await build({ token: { src: tokenFile }, fromenv: { env: 'MC_TEST_SECRET' }, inline: { value: 'abc' } })
    expect(first.statuses).toEqual(['done', 'done', 'done', 'done'])
    expect(await runOutput(runtime, first.img.id, ['cat', '/default', '/given', '/env', '/only-env'])).toBe(`${md5(token)}  -\n400 0:0\n${md5(envValue)}  -\n440 1000:50\nsame\nabsent-left-out\n3\n1\n`)
    // The mount points the image lacked are not in it.
    expect(await runOutput(runtime, first.img.id, ['sh', '-c', 'ls -d /run /etc/s.txt 2>&1 | grep -c "No such file"'])).toBe('2\n')
    // Nothing on the root holds a secret's bytes: layers, cache entries, scratch, container records.
    for (const secret of [token, envValue]) expect(filesContaining(runtime.root, secret)).toEqual([])

    fs.writeFileSync(tokenFile, `${token}-changed`)
    const second = await build({ token: { src: tokenFile }, fromenv: { env: 'MC_TEST_SECRET' }, inline: { value: 'abcd' } })
    expect(second.statuses).toEqual(['cached', 'cached', 'cached', 'cached'])
    expect(second.img.id).toBe(first.img.id)
  } finally {
    delete process.env.MC_TEST_SECRET
    fs.rmSync(work, { recursive: true, force: true })
  }
})

test('a required secret or agent not given is ENOTFOUND naming it; a bad source is refused when the build starts; a mount without id or target is EDOCKERFILE', async () => {
  const ctx = context({})
  const build = (df: string, more: object = {}) => Image.build(ctx, { runtime, network: 'none', dockerfile: { content: `FROM bb\n${df}\n` }, ...more })
  await expect(build('RUN --mount=type=secret,id=npmrc,required true')).rejects.toMatchObject({ code: 'ENOTFOUND', message: expect.stringContaining('secret npmrc: not found') })
  await expect(build('RUN --mount=type=ssh,required=true true')).rejects.toMatchObject({ code: 'ENOTFOUND', message: expect.stringContaining('no SSH agent "default"') })
  await expect(build('RUN true', { secrets: { a: { src: '/nonexistent/file' } } })).rejects.toMatchObject({ code: 'ENOTFOUND', message: expect.stringContaining('secrets.a.src') })
  await expect(build('RUN true', { secrets: { a: { env: 'MC_TEST_UNSET_VARIABLE' } } })).rejects.toMatchObject({ code: 'EINVALID' })
  await expect(build('RUN true', { ssh: { default: '/etc/passwd' } })).rejects.toMatchObject({ code: 'ENOTFOUND', message: expect.stringContaining('not a socket') })
  await expect(build('RUN --mount=type=secret true')).rejects.toMatchObject({ code: 'EDOCKERFILE', line: 2 })
  // An optional agent not given is left out; SSH_AUTH_SOCK still names where it would be, as in BuildKit.
  const img = await build('RUN --mount=type=ssh sh -c \'echo "$SSH_AUTH_SOCK"; test -e "$SSH_AUTH_SOCK" || echo absent\' > /out')
  expect(await runOutput(runtime, img.id, ['cat', '/out'])).toBe('/run/buildkit/ssh_agent.0\nabsent\n')
})

test("type=ssh: the RUN reaches the ssh-agent the build was given (ssh-add -l lists its key) through SSH_AUTH_SOCK, at BuildKit's default target or the mount's", async () => {
  for (const tool of ['ssh-agent', 'ssh-add', 'ssh-keygen']) if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is missing: this test needs openssh-client`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-ssh-agent-'))
  const socket = path.join(dir, 'agent.sock')
  const agent = execFileSync('ssh-agent', ['-a', socket], { encoding: 'utf8' })
  const agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(agent)![1])
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'mc-build-test-key', '-f', path.join(dir, 'key')])
    execFileSync('ssh-add', [path.join(dir, 'key')], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'ignore' })
    const host = await Image.fromHost({ runtime, ref: 'host-for-ssh:1' })
    const df = [
      `FROM ${host.id}`,
      'RUN --mount=type=ssh ssh-add -l > /keys && echo "$SSH_AUTH_SOCK" >> /keys',
      'RUN --mount=type=ssh,id=other,target=/tmp/agent,mode=0666 sh -c \'SSH_AUTH_SOCK=/tmp/agent ssh-add -l | grep -c mc-build-test-key; stat -c %a /tmp/agent\' > /other',
      '',
    ].join('\n')
    const img = await Image.build(context({}), { runtime, network: 'none', dockerfile: { content: df }, ssh: { default: socket, other: socket } })
    const out = await runOutput(runtime, img.id, ['cat', '/keys', '/other'])
    expect(out).toMatch(/^256 SHA256:\S+ mc-build-test-key \(ED25519\)\n\/run\/buildkit\/ssh_agent\.0\n1\n666\n$/)
    expect(await runOutput(runtime, img.id, ['sh', '-c', 'ls -d /run/buildkit /tmp/agent 2>&1 | grep -c "No such file"'])).toBe('2\n')
  } finally {
    process.kill(agentPid, 'SIGTERM')
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('while a RUN runs, its secret (as env= and as a file) is on no file of the runtime root and not in inspect() of its container', async () => {
  const secret = `run-secret-${process.pid}-${Date.now()}`
  const df = ['FROM bb', `${secretRun} 3'`, ''].join('\n')
  let building = true
  const build = Image.build(context({}), { runtime, network: 'none', dockerfile: { content: df }, secrets: { s: { value: secret } } }).finally(() => (building = false))
  await untilARunRuns(() => !building)
  const seen = new Set<string>()
  while (building) {
    for (const where of await secretSeen(secret)) seen.add(where)
    await sleep(100)
  }
  const img = await build
  expect(await runOutput(runtime, img.id, ['cat', '/same'])).toBe('same\n')
  expect([...seen]).toEqual([])
})

test('a build SIGKILLed in a RUN leaves its secret on no file of the runtime root, in no record, and on no tmpfs', async () => {
  const secret = `killed-secret-${process.pid}-${Date.now()}`
  const df = ['FROM bb', `${secretRun} 600'`, ''].join('\n')
  const child = spawnNode(
    `const { Image, Runtime } = lib()
    const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)} })
    Image.build(${JSON.stringify(context({}))}, { runtime, network: 'none', dockerfile: { content: ${JSON.stringify(df)} }, secrets: { s: { value: ${JSON.stringify(secret)} } } }).catch((e) => { console.error(e); process.exit(3) })`,
    { stdio: 'inherit' },
  )
  try {
    await untilARunRuns(() => child.exitCode !== null)
    child.kill('SIGKILL')
    await new Promise((r) => (child.signalCode !== null ? r(null) : child.once('exit', r)))
    // The killed build's throwaway container is left behind (its record on the root), its RUN ended with its owner.
    expect(await Container.list({ runtime, all: true })).toHaveLength(1)
    expect(await secretSeen(secret)).toEqual([])
    for (const tmpfs of ['/dev/shm', process.env.XDG_RUNTIME_DIR].filter((d): d is string => !!d)) expect(filesContaining(tmpfs, secret)).toEqual([])
  } finally {
    child.kill('SIGKILL')
    for (const c of await Container.list({ runtime, all: true })) await c.remove({ force: true })
    for (const f of filesContaining('/dev/shm', secret)) fs.rmSync(path.dirname(f), { recursive: true, force: true })
  }
})

test('NODE_DEBUG=minicontainer shows the spec sent to the shim with a secret env= value redacted, its name kept', async () => {
  const secret = `debug-secret-${process.pid}-${Date.now()}`
  const df = ['FROM bb', 'RUN --mount=type=secret,id=s,env=TOKEN --mount=type=secret,id=s,target=/s sh -c \'test "$TOKEN" = "$(cat /s)" && echo same > /same\'', ''].join('\n')
  const r = runNodeSync(
    `const { Image, Runtime } = lib()
    const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)} })
    Image.build(${JSON.stringify(context({}))}, { runtime, network: 'none', noCache: true, dockerfile: { content: ${JSON.stringify(df)} }, secrets: { s: { value: ${JSON.stringify(secret)} } } })
      .then((img) => console.log(img.id), (e) => { console.error(e); process.exit(3) })`,
    { env: { NODE_DEBUG: 'minicontainer' } },
  )
  expect(r.status).toBe(0)
  const specLines = r.stderr.split('\n').filter((l) => / spec: /.test(l) && l.includes('TOKEN='))
  expect(specLines).toHaveLength(1) // the debug output is on, and shows the RUN's spec
  expect(specLines[0]).toContain('TOKEN=<redacted>')
  expect(r.stderr).not.toContain(secret)
  expect(await runOutput(runtime, r.stdout.trim(), ['cat', '/same'])).toBe('same\n')
})
