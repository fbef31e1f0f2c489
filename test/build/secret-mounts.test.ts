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
import { Image, type BuildProgress, type Runtime } from '../../lib'
import { runOutput, useRuntime } from '../helpers'
import { useBuildContexts } from '../tools/build-context'

jest.setTimeout(120_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true })
const context = useBuildContexts('mc-build-secret-')

const md5 = (s: string) => createHash('md5').update(s).digest('hex')

/** Paths of the files under `dir` whose bytes contain `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  const out: string[] = []
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...filesContaining(p, needle))
    else if (e.isFile() && fs.readFileSync(p).includes(needle)) out.push(p)
  }
  return out
}

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
