/**
 * Image.build against Docker's builders (issue 22): the same Dockerfile and
 * context built by Docker 20.10's BuildKit and classic builder (a private
 * engine, test/tools/docker-engine.ts) and by minicontainer, on the same
 * busybox rootfs imported in both; the built trees (path, type, mode,
 * owner, size, content, link target, file mtime) and the configs (Env, Cmd,
 * Entrypoint, WorkingDir, User, ExposedPorts, Volumes, Labels, StopSignal,
 * Healthcheck, Shell, OnBuild) must be equal. Where the two builders of
 * Docker disagree, BuildKit's stable syntax is the contract (the classic
 * builder is compared only on the cases it builds alike; see `classic`).
 * RUN's secret, ssh and from=-seeded cache mounts are compared with
 * BuildKit's (`--secret`, `--ssh` given to both).
 * Interop: an image built here goes through `docker load` and runs alike
 * there; one BuildKit built comes through `docker save` and builds on here.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as os from 'node:os'
import * as net from 'node:net'
import { execFileSync } from 'node:child_process'
import { gzipSync } from 'node:zlib'
import { Image, run, type BuildOptions, type Runtime } from '../../lib'
import { text } from '../helpers'
import { contextOf } from '../../lib/container/context'
import { importOnBoth, useBusyboxOnBoth, type PrivateDocker } from '../tools/docker-engine'
import { debianConfig, debianRootfsTarball } from '../tools/debian-base'
import { dockerBuildWith, dockerTree, localTree, treeDiff, type DockerBuilder, type TreeEntry } from '../tools/docker-build'

jest.setTimeout(300_000)

const base = 'mc-bdiff:bb'
let engine: PrivateDocker
let runtime: Runtime
useBusyboxOnBoth(base, (e, r) => ((engine = e), (runtime = r)))

let work: string
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bdiff-'))
})
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

/** A context: files (string content; a `{ link }` is a symlink; a `{ mode }` sets the mode) and its Dockerfile. */
type ContextFile = string | { link: string } | { content: string; mode: number }
function context(name: string, dockerfile: string, files: Record<string, ContextFile>): string {
  const dir = path.join(work, name)
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'Dockerfile'), dockerfile)
  const stamp = new Date('2024-03-01T12:00:00Z')
  for (const [rel, f] of Object.entries(files)) {
    const p = path.join(dir, rel)
    fs.mkdirSync(path.dirname(p), { recursive: true })
    if (typeof f === 'object' && 'link' in f) {
      fs.symlinkSync(f.link, p)
      continue
    }
    fs.writeFileSync(p, typeof f === 'string' ? f : f.content)
    fs.chmodSync(p, typeof f === 'string' ? 0o644 : f.mode)
    fs.utimesSync(p, stamp, stamp)
  }
  return dir
}

const configFields = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'ExposedPorts', 'Volumes', 'Labels', 'StopSignal', 'Healthcheck', 'Shell', 'OnBuild'] as const

/** The compared fields, empty values (null, "", [], {}) dropped (Docker writes them, a document made here omits them), sets' keys sorted. */
function comparable(config: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of configFields) {
    const v = config?.[f]
    const empty = v === null || v === undefined || v === '' || (Array.isArray(v) && !v.length) || (typeof v === 'object' && !Object.keys(v as object).length)
    if (!empty) out[f] = v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v
  }
  return out
}

async function dockerConfig(tag: string): Promise<Record<string, unknown>> {
  return comparable(JSON.parse(await engine.ok(['image', 'inspect', '--format', '{{json .Config}}', tag])) as Record<string, unknown>)
}

function localConfig(id: string): Record<string, unknown> {
  return comparable(contextOf({ runtime }).images.configDocument(id).config as Record<string, unknown> | undefined)
}

/** What both builds are given besides build args: `docker build` flags (--secret, --ssh) and the same as Image.build options. */
interface Given {
  docker: string[]
  here: Pick<BuildOptions, 'secrets' | 'ssh'>
}

/** Builds `ctx` with Docker's `builder` and with minicontainer; returns what differs (empty when alike) but the `accepted` paths. */
async function differences(ctx: string, tag: string, builder: DockerBuilder, accepted: string[] = [], buildArgs: Record<string, string> = {}, given: Given = { docker: [], here: {} }): Promise<{ tree: object; config: object; ours: Map<string, TreeEntry> }> {
  const dockerTag = `${tag}-${builder}`
  const r = await dockerBuildWith(engine, builder, ctx, dockerTag, [...Object.entries(buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]), ...given.docker])
  if (r.code !== 0) throw new Error(`docker build (${builder}) failed:\n${r.output}`)
  const img = await Image.build(ctx, { runtime, tag, network: 'none', buildArgs, ...given.here })
  const theirs = await dockerTree(engine, dockerTag, work)
  const ours = await localTree(runtime, img.id)
  const [theirConfig, ourConfig] = [await dockerConfig(dockerTag), localConfig(img.id)]
  const config = Object.fromEntries(configFields.filter((f) => JSON.stringify(theirConfig[f]) !== JSON.stringify(ourConfig[f])).map((f) => [f, { docker: theirConfig[f], here: ourConfig[f] }]))
  const tree = Object.fromEntries(Object.entries(treeDiff(theirs, ours)).filter(([p]) => !accepted.includes(p)))
  return { tree, config, ours }
}

/** Nothing differs (exact equality: toMatchObject would take any tree for {}). */
function expectAlike(d: { tree: object; config: object }): void {
  expect({ tree: d.tree, config: d.config }).toEqual({ tree: {}, config: {} })
}

const files = {
  'file.txt': 'a file\n',
  'exec.sh': { content: '#!/bin/sh\necho run\n', mode: 0o755 },
  'private.txt': { content: 'secret\n', mode: 0o600 },
  'dir/one.txt': 'one\n',
  'dir/sub/two.txt': 'two\n',
  'dir/sub/link': { link: 'two.txt' },
  'rel.txt': 'relative\n',
}

const copies = `FROM ${base}
COPY file.txt /new/deep/file.txt
COPY dir /copied/
COPY dir /copied-as
COPY dir/sub /etc/sub
COPY exec.sh private.txt /usr/local/bin/
COPY --chown=app:staff file.txt /owned/
COPY --chown=1000 dir/ /owned-dir/
WORKDIR /work/here
COPY rel.txt ./
COPY rel.txt renamed.txt
WORKDIR /etc
WORKDIR relative/more
RUN echo made > /run-made && mkdir -p /rd/a && chmod 700 /rd/a && ln -s /run-made /rd/link
`

const configs = `FROM ${base}
ENV A=1 B="two words"
ENV OLD value with spaces
LABEL a=b "c d"=e
EXPOSE 8000-8002 53/udp 80
VOLUME /data
VOLUME ["/logs", "/cache"]
USER app:staff
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD ["true"]
SHELL ["/bin/sh", "-ec"]
ONBUILD RUN echo child > /tmp/onbuild-ran
CMD echo hi
ENTRYPOINT ["/bin/echo"]
`

describe('Image.build against Docker 20.10', () => {
  for (const builder of ['buildkit', 'classic'] as const) {
    it(`COPY (files, directories, parents, --chown, links), WORKDIR and RUN give ${builder}'s tree and config`, async () => {
      const ctx = context(`copies-${builder}`, copies, files)
      expectAlike(await differences(ctx, `bdiff-copies-${builder}`, builder))
    })

    it(`config instructions (ENV, LABEL, EXPOSE, VOLUME, USER, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD, CMD, ENTRYPOINT) give ${builder}'s config`, async () => {
      const ctx = context(`configs-${builder}`, configs, {})
      expectAlike(await differences(ctx, `bdiff-configs-${builder}`, builder))
      const child = context(`child-${builder}`, `FROM bdiff-configs-${builder}\nENTRYPOINT ["/bin/true"]\n`, {})
      await dockerBuildWith(engine, builder, ctx, `bdiff-configs-${builder}`) // the same tag for Docker's child
      // The classic builder runs RUN (here the ONBUILD trigger) with the image's VOLUMEs mounted, so their mount points land in the layer; BuildKit mounts none.
      const accepted = builder === 'classic' ? ['cache', 'data', 'logs'] : []
      const d = await differences(child, `bdiff-child-${builder}`, builder, accepted)
      expectAlike(d)
      expect(d.ours.get('tmp/onbuild-ran')).toMatchObject({ size: 6, owner: '1000:50' }) // the trigger ran, as USER app:staff
    })

    it(`ADD extracts a local .tar.gz (owners and modes as archived) and copies a plain .gz as ${builder} does`, async () => {
      const ctx = context(`adds-${builder}`, `FROM ${base}\nADD app.tar.gz /opt/app/\nADD note.gz /opt/\n`, files)
      execFileSync('tar', ['-C', ctx, '--owner=1000', '--group=50', '--mtime=2023-05-06 07:08:09Z', '-czf', path.join(ctx, 'app.tar.gz'), 'dir', 'exec.sh'])
      fs.writeFileSync(path.join(ctx, 'note.gz'), gzipSync('not a tar\n'))
      fs.utimesSync(path.join(ctx, 'note.gz'), new Date('2024-03-01T12:00:00Z'), new Date('2024-03-01T12:00:00Z'))
      expectAlike(await differences(ctx, `bdiff-adds-${builder}`, builder))
    })

    it(`stages, ARGs before and after FROM, COPY --from and .dockerignore (** and ! exceptions) give ${builder}'s tree and config`, async () => {
      const df = `ARG BASE=${base}\nFROM \${BASE} AS build\nARG MSG=default\nRUN mkdir /out && echo "$MSG" > /out/msg && echo built > /out/result\nCOPY . /ctx/\n\nFROM \${BASE}\nARG MSG\nARG UNSET\nCOPY --from=build /out/ /app/\nCOPY --from=build /ctx /ctx-copy\nENV M=$MSG U=\${UNSET:-fallback}\n`
      const ignore = 'node_modules\nlogs/*.log\n!logs/keep.log\n**/*.tmp\nDockerfile*\n'
      const ctx = context(`stages-${builder}`, df, { '.dockerignore': ignore, 'node_modules/x.js': 'x\n', 'logs/a.log': 'a\n', 'logs/keep.log': 'keep\n', 'deep/er/x.tmp': 't\n', 'src/app.js': 'app\n' })
      expectAlike(await differences(ctx, `bdiff-stages-${builder}`, builder, [], { MSG: 'hello' }))
    })

    it(`chmod of --chmod (BuildKit only) and a chmod-ed parent give ${builder}'s tree`, async () => {
      const df = builder === 'buildkit' ? `FROM ${base}\nCOPY --chmod=0750 exec.sh file.txt /opt/bin/\n` : `FROM ${base}\nCOPY exec.sh file.txt /opt/bin/\n`
      const ctx = context(`chmod-${builder}`, df, files)
      expectAlike(await differences(ctx, `bdiff-chmod-${builder}`, builder))
    })
  }
})

/** A Dockerfile as users write FROM debian, without apt-get (nothing but the host's mirror is reachable, and RUN has no network here). */
const onDebian = (base: string) => `FROM ${base}
RUN groupadd --gid 1500 svc && useradd --uid 1500 --gid svc --create-home --shell /bin/bash svc
COPY --chown=svc:svc dir/ /opt/app/
COPY --chown=svc exec.sh /opt/app/bin/tool
RUN readlink -f /bin/sh > /etc/sh-is && [ "$(readlink -f /bin/sh)" = /usr/bin/dash ] && echo "dash: $0" >> /etc/sh-is
ENV PATH=/opt/app/bin:$PATH APP_HOME=/var/lib/app
WORKDIR /srv/data
RUN mkdir -p $APP_HOME /var/log/app && command -v tool > $APP_HOME/found && echo "key=value" > /etc/app.conf && chown -R svc:svc $APP_HOME && pwd > where
USER svc
WORKDIR /home/svc/work
RUN id > ../id.txt && echo "$PATH" > ../path.txt && touch /tmp/svc-tmp && (touch here 2>/dev/null || echo "$(pwd) is root's" > ../workdir.txt)
CMD ["tool"]
`

describe('Image.build FROM an mmdebstrap\'d Debian bookworm against Docker 20.10', () => {
  const debian = 'mc-bdiff:bookworm'
  // The tarball is cached for the day (test/tools/debian-base.ts): cold, mmdebstrap takes about 20-35 s here.
  beforeAll(() => importOnBoth(engine, runtime, debianRootfsTarball(), debian, debianConfig), 240_000)

  for (const builder of ['buildkit', 'classic'] as const)
    it(`useradd, COPY --chown by name, RUN under dash, ENV PATH expansion, WORKDIR, files under /etc and /var, USER give ${builder}'s tree and config`, async () => {
      const ctx = context(`debian-${builder}`, onDebian(debian), files)
      // The classic builder makes a WORKDIR as root whatever the USER; BuildKit (the contract) as the USER, so a RUN as that USER can write there.
      const accepted = builder === 'classic' ? ['home/svc/work', 'home/svc/work/here', 'home/svc/workdir.txt'] : []
      const d = await differences(ctx, `bdiff-debian-${builder}`, builder, accepted)
      expectAlike(d)
      if (builder === 'buildkit') expect(d.ours.get('home/svc/work/here')).toMatchObject({ owner: '1500:1500' })
      expect(d.ours.get('etc/sh-is')).toMatchObject({ size: '/usr/bin/dash\ndash: /bin/sh\n'.length })
      expect(d.ours.get('opt/app/bin/tool')).toMatchObject({ owner: '1500:1500', mode: '755' })
      expect(d.ours.get('var/lib/app/found')).toMatchObject({ owner: '1500:1500', size: '/opt/app/bin/tool\n'.length })
      expect(d.ours.get('home/svc/id.txt')).toMatchObject({ owner: '1500:1500' })
    })
})

/** BuildKit's plain progress as whether each step after FROM was taken from the cache, in step order: each step's `#n [i/m] ...` line (its text shows ARGs expanded, so steps are matched by order) and its `#n CACHED` line. */
function buildkitCached(output: string): boolean[] {
  const order = new Map<string, number>()
  const cached = new Set<string>()
  for (const line of output.split('\n').map((l) => l.trim())) {
    const step = /^#(\d+) \[(?:[^\]]*? )?(\d+)\/\d+\] (.*)$/.exec(line)
    if (step && !step[3].startsWith('FROM ')) order.set(step[1], Number(step[2]))
    const hit = /^#(\d+) CACHED$/.exec(line)
    if (hit) cached.add(hit[1])
  }
  return [...order].sort(([, a], [, b]) => a - b).map(([n]) => cached.has(n))
}

describe('Image.build against BuildKit: cache hits and misses, error texts', () => {
  it('takes the same steps from the cache after the same change (nothing, an mtime, a source, an ARG, a RUN line, a LABEL, a chmod)', async () => {
    const dockerfile = (runLine: string, label: string) => `FROM ${base}\nARG V=1\nCOPY a.txt /a.txt\nRUN echo "v=$V" > /v\nCOPY b.txt /b.txt\n${runLine}\nLABEL x=${label}\nRUN echo tail > /tail\n`
    const ctx = context('cache-seq', dockerfile('RUN cat /a.txt /b.txt > /ab', '1'), { 'a.txt': 'a\n', 'b.txt': 'b\n' })
    const buildBoth = async (buildArgs: Record<string, string> = {}) => {
      const r = await dockerBuildWith(engine, 'buildkit', ctx, 'bdiff-cache-seq', Object.entries(buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]))
      if (r.code !== 0) throw new Error(`docker build failed:\n${r.output}`)
      const ours: [string, boolean][] = []
      await Image.build(ctx, { runtime, network: 'none', buildArgs, onProgress: (e) => e.status !== 'running' && /^(RUN|COPY|ADD) /.test(e.instruction) && ours.push([e.instruction, e.status === 'cached']) })
      const theirs = buildkitCached(r.output)
      return { buildkit: Object.fromEntries(ours.map(([ins], i) => [ins, theirs[i]])), ours: Object.fromEntries(ours), steps: [theirs.length, ours.length] }
    }
    const changes: [string, () => void, Record<string, string>?][] = [
      ['nothing', () => {}],
      ['the mtime of a.txt', () => fs.utimesSync(path.join(ctx, 'a.txt'), new Date(), new Date())],
      ['the content of b.txt', () => fs.writeFileSync(path.join(ctx, 'b.txt'), 'b changed\n')],
      ['the ARG V', () => {}, { V: '2' }],
      ['a RUN line', () => fs.writeFileSync(path.join(ctx, 'Dockerfile'), dockerfile('RUN cat /b.txt /a.txt > /ab', '1')), { V: '2' }],
      ['a LABEL', () => fs.writeFileSync(path.join(ctx, 'Dockerfile'), dockerfile('RUN cat /b.txt /a.txt > /ab', '2')), { V: '2' }],
      ['the mode of a.txt', () => fs.chmodSync(path.join(ctx, 'a.txt'), 0o600), { V: '2' }],
    ]
    await buildBoth()
    const seen: Record<string, { buildkit: object; ours: object; steps: number[] }> = {}
    for (const [what, change, args] of changes) {
      change()
      seen[what] = await buildBoth(args)
    }
    for (const [what, { buildkit, ours, steps }] of Object.entries(seen)) expect({ what, cached: ours, steps }).toEqual({ what, cached: buildkit, steps: [5, 5] })
    // What BuildKit does, spelled out: a LABEL is no part of a later RUN's key; a chmod is a miss from its COPY on.
    expect(Object.values(seen['a LABEL'].ours)).toEqual([true, true, true, true, true])
    expect(Object.values(seen['the mode of a.txt'].ours)).toEqual([false, false, false, false, false])
  })

  const mistakes: { what: string; dockerfile: string; target?: string; code: string; cause: RegExp; fix: RegExp }[] = [
    { what: 'an unknown instruction', dockerfile: `FROM ${base}\nRUNN echo hi\n`, code: 'EDOCKERFILE', cause: /line 2: unknown instruction: RUNN/i, fix: /did you mean RUN\?/ },
    { what: 'a missing COPY source', dockerfile: `FROM ${base}\nCOPY missing.txt /m\n`, code: 'ENOTFOUND', cause: /"\/missing.txt":? not found/, fix: /does not exist in the build context .*: sources are relative to the context/ },
    { what: 'an unknown target', dockerfile: `FROM ${base} AS one\nRUN true\n`, target: 'nope', code: 'EDOCKERFILE', cause: /target (stage )?nope/, fix: /stages are: one/ },
    { what: 'an unknown stage in COPY --from', dockerfile: `FROM ${base}\nCOPY --from=nostage /x /x\n`, code: 'EDOCKERFILE', cause: /nostage/, fix: /name a stage .*AS nostage.* or an image/ },
    { what: 'a RUN exiting 3', dockerfile: `FROM ${base}\nRUN echo oops; exit 3\n`, code: 'EBUILD', cause: /\/bin\/sh -c echo oops; exit 3.*exit code: 3/, fix: /oops/ },
  ]
  for (const m of mistakes)
    it(`names the cause BuildKit names for ${m.what}, with a code and what to do`, async () => {
      const ctx = context(`mistake-${m.what.replace(/\W+/g, '-')}`, m.dockerfile, {})
      const r = await dockerBuildWith(engine, 'buildkit', ctx, 'bdiff-mistake', m.target ? ['--target', m.target] : [])
      expect(r.code).not.toBe(0)
      expect(r.output).toMatch(m.cause)
      const err = await Image.build(ctx, { runtime, network: 'none', pull: 'never', target: m.target }).then(() => undefined, (e: unknown) => e as Error & { code: string })
      expect(err).toMatchObject({ code: m.code })
      expect(err!.message).toMatch(m.cause)
      expect(err!.message).toMatch(m.fix)
    })
})

describe('Image.build against BuildKit: secret, ssh and seeded cache mounts', () => {
  it('secret files (default and given target, mode, owner; an absent one left out) and ssh sockets (SSH_AUTH_SOCK, mode, owner) give BuildKit\'s tree; a changed secret is a cache hit in both', async () => {
    const secretFile = path.join(work, 'token-file')
    fs.writeFileSync(secretFile, 'differential-secret\n')
    const agent = net.createServer((c) => c.end())
    const socket = path.join(work, 'agent.sock')
    await new Promise<void>((r) => agent.listen(socket, r))
    try {
      const df = [
        `FROM ${base}`,
        'RUN --mount=type=secret,id=token md5sum < /run/secrets/token > /s1 && stat -c "%a %u:%g" /run/secrets/token >> /s1',
        'RUN --mount=type=secret,id=token,target=/etc/s.txt,mode=0440,uid=1000,gid=50 stat -c "%a %u:%g %s" /etc/s.txt > /s2',
        'RUN --mount=type=secret,id=absent sh -c \'test -e /run/secrets/absent && echo present || echo absent\' > /s3',
        'RUN --mount=type=secret,target=/opt/by-target sh -c \'cat /opt/by-target 2>&1 | wc -c\' > /s4',
        'RUN --mount=type=ssh sh -c \'echo "$SSH_AUTH_SOCK"; test -S "$SSH_AUTH_SOCK" && echo socket; stat -c "%a %u:%g" "$SSH_AUTH_SOCK"\' > /ssh',
        'RUN --mount=type=ssh,id=other,target=/tmp/a.sock,mode=0644 sh -c \'echo "$SSH_AUTH_SOCK"; stat -c "%a" /tmp/a.sock\' > /ssh2',
        '',
      ].join('\n')
      const ctx = context('secrets', df, {})
      const given: Given = { docker: ['--secret', `id=token,src=${secretFile}`, '--secret', `id=by-target,src=${secretFile}`, '--ssh', `default=${socket}`, '--ssh', `other=${socket}`], here: { secrets: { token: { src: secretFile }, 'by-target': { src: secretFile } }, ssh: { default: socket, other: socket } } }
      // Docker 20.10's BuildKit (0.8) leaves the parents it made for mount points (empty /run/secrets, /run/buildkit, /opt); later BuildKit removes them, as we do.
      const stubParents = ['opt', 'run', 'run/buildkit', 'run/secrets']
      const d = await differences(ctx, 'bdiff-secrets', 'buildkit', stubParents, {}, given)
      expectAlike(d)
      expect([...d.ours.keys()].filter((p) => /^(s\d|ssh2?)$/.test(p)).sort()).toEqual(['s1', 's2', 's3', 's4', 'ssh', 'ssh2'])
      // A changed secret is no part of a step's key: every RUN is taken from the cache, by BuildKit as here.
      fs.writeFileSync(secretFile, 'another secret\n')
      const r = await dockerBuildWith(engine, 'buildkit', ctx, 'bdiff-secrets-buildkit', given.docker)
      if (r.code !== 0) throw new Error(`docker build failed:\n${r.output}`)
      const ours: boolean[] = []
      await Image.build(ctx, { runtime, network: 'none', ...given.here, onProgress: (e) => e.status !== 'running' && e.instruction.startsWith('RUN') && ours.push(e.status === 'cached') })
      expect({ buildkit: buildkitCached(r.output), ours }).toEqual({ buildkit: ours.map(() => true), ours: [true, true, true, true, true, true] })
    } finally {
      agent.close()
    }
  })

  it('a cache seeded from= a stage holds what BuildKit\'s holds, build after build and after the seed changes', async () => {
    const df = [`FROM ${base} AS seed`, 'ARG V=1', 'RUN mkdir -p /deps && echo "seed $V" > /deps/list', `FROM ${base}`, 'ARG N', 'RUN --mount=type=cache,id=bdiff-seeded,target=/c,from=seed,source=/deps sh -c \'echo "run $N" >> /c/list; cat /c/list\' > /got', ''].join('\n')
    const ctx = context('cache-from', df, {})
    const got = async (buildArgs: Record<string, string>) => {
      const args = Object.entries(buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`])
      const r = await dockerBuildWith(engine, 'buildkit', ctx, 'bdiff-cache-from', args)
      if (r.code !== 0) throw new Error(`docker build failed:\n${r.output}`)
      const img = await Image.build(ctx, { runtime, network: 'none', buildArgs })
      return { buildkit: (await dockerRun('bdiff-cache-from', ['cat', '/got'])).stdout, here: (await localRun(img.id, ['cat', '/got'])).stdout }
    }
    const runs: Record<string, string>[] = [{ N: '1' }, { N: '2' }, { N: '3', V: '2' }, { N: '4' }]
    for (const args of runs) {
      const { buildkit, here } = await got(args)
      expect({ args, here }).toEqual({ args, here: buildkit })
    }
  })
})

/** What a run printed on stdout and how it exited. */
interface RunResult {
  stdout: string
  exitCode: number
}

/** Runs `ref` (its entrypoint, `cmd` as its command) in the private engine, without network. */
async function dockerRun(ref: string, cmd: string[] = []): Promise<RunResult> {
  const r = await engine.run(['run', '--rm', '--network', 'none', ref, ...cmd], { timeoutMs: 60_000 })
  return { stdout: r.stdout, exitCode: r.code }
}

/** Runs `ref` (its entrypoint, `cmd` as its command) here, without network. */
async function localRun(ref: string, cmd?: string[]): Promise<RunResult> {
  const c = await run(ref, cmd, { runtime, network: 'none' })
  const { exitCode } = await c.wait()
  const stdout = await text(c.logs({ stderr: false }))
  await c.remove()
  return { stdout, exitCode }
}

/** `env` output as sorted lines, HOSTNAME (a container's id or name) dropped. */
const envLines = (out: string): string[] => out.split('\n').filter((l) => l && !l.startsWith('HOSTNAME=')).sort()

describe('Image.save / Image.load interop with Docker 20.10', () => {
  it('an image built here, saved and loaded by docker load, runs the same there (stdout, exit code, id, env, workdir) with the same id and config', async () => {
    const ctx = context(
      'interop-saved',
      `FROM ${base} AS stage
RUN echo made-in-stage > /stage.txt
FROM ${base}
COPY --from=stage /stage.txt /opt/app/stage.txt
ENV GREETING="hello there" LEVEL=3
WORKDIR /opt/app
RUN echo run-made > made.txt && chown app:staff made.txt
USER app:staff
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo $GREETING; cat stage.txt made.txt; id; pwd; exit 3"]
`,
      {},
    )
    const tag = 'mc-interop/saved:1'
    const img = await Image.build(ctx, { runtime, tag, network: 'none' })
    const archive = path.join(work, 'saved.tar')
    await Image.save(tag, archive, { runtime, format: 'docker' })
    expect(await engine.ok(['load', '-i', archive])).toContain(`Loaded image: ${tag}`)
    expect(await engine.ok(['image', 'inspect', '--format', '{{.Id}}', tag])).toBe(img.id)
    expect(await dockerConfig(tag)).toEqual(localConfig(img.id))

    const expected = { stdout: 'hello there\nmade-in-stage\nrun-made\nuid=1000(app) gid=50(staff) groups=50(staff)\n/opt/app\n', exitCode: 3 }
    expect(await dockerRun(tag)).toEqual(expected)
    expect(await localRun(tag)).toEqual(expected)
    const [theirEnv, ourEnv] = [await dockerRun(tag, ['env']), await localRun(tag, ['env'])]
    expect(envLines(ourEnv.stdout)).toEqual(envLines(theirEnv.stdout))
    expect(envLines(ourEnv.stdout)).toEqual(expect.arrayContaining(['GREETING=hello there', 'LEVEL=3', 'PWD=/opt/app']))
  })

  it('an image BuildKit built, saved by docker save and loaded here, builds on (FROM it, RUN, COPY): its files, env and user carry over; a second build is all cache hits and gives the same image id, as with BuildKit', async () => {
    const baseCtx = context(
      'interop-bk-base',
      `FROM ${base}
RUN mkdir -p /srv && echo from-buildkit > /srv/base.txt && chown app:staff /srv
ENV BASE_VAR=bk
USER app
WORKDIR /srv
`,
      {},
    )
    const bkTag = 'mc-interop/bk-base:1'
    const r = await dockerBuildWith(engine, 'buildkit', baseCtx, bkTag)
    if (r.code !== 0) throw new Error(`docker build failed:\n${r.output}`)
    const archive = path.join(work, 'bk-base.tar')
    await engine.ok(['save', '-o', archive, bkTag])
    const [loaded] = await Image.load(archive, { runtime })
    expect(loaded.id).toBe(await engine.ok(['image', 'inspect', '--format', '{{.Id}}', bkTag]))

    const ctx = context(
      'interop-bk-child',
      `FROM ${bkTag}
COPY added.txt ./
RUN cat base.txt added.txt > both.txt && id -un > who.txt
CMD ["sh", "-c", "cat both.txt who.txt; echo $BASE_VAR; id -u; pwd"]
`,
      { 'added.txt': 'added here\n' },
    )
    const build = async () => {
      const steps: string[] = []
      const img = await Image.build(ctx, { runtime, network: 'none', pull: 'never', onProgress: (e) => e.status !== 'running' && /^(RUN|COPY) /.test(e.instruction) && steps.push(e.status) })
      return { img, steps }
    }
    const first = await build()
    expect(first.steps).toEqual(['done', 'done'])
    expect(await localRun(first.img.id)).toEqual({ stdout: 'from-buildkit\nadded here\napp\nbk\n1000\n/srv\n', exitCode: 0 })
    const second = await build()
    expect({ steps: second.steps, id: second.img.id }).toEqual({ steps: ['cached', 'cached'], id: first.img.id })
  })
})
