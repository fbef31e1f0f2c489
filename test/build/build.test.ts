/**
 * Image.build against the real kernel with the busybox base image: a
 * two-stage build and its config, the cache (hits, a changed source, an
 * mtime-only change), and failures (EDOCKERFILE lines, EBUILD leaving
 * nothing behind).
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, Image, run, type Runtime } from '../../lib'
import { runOutput, text, useRuntime } from '../helpers'
import { useBuildContexts } from '../tools/build-context'
import { filesOpenedDuring } from '../tools/file-opens'

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true, hostImage: false })

const context = useBuildContexts('mc-build-ctx-')

const twoStage = `# syntax=docker/dockerfile:1
ARG BASE=bb
FROM \${BASE} AS builder
RUN mkdir -p /out && echo built > /out/result && cat /proc/sys/kernel/random/uuid > /out/stamp
COPY app/ /src/

FROM bb
ENV GREETING="hello world" \\
    MODE=test
WORKDIR /app/data
COPY --from=builder /out/ /app/
COPY --chown=app:staff --chmod=0640 conf.txt ./conf.txt
LABEL org.example.name=demo
EXPOSE 8080 53/udp
USER app
CMD ["echo", "cmd"]
ENTRYPOINT ["/bin/sh", "-c"]
`

describe('Image.build', () => {
  it('builds two stages: RUN output copied with COPY --from, config as Docker records it', async () => {
    const ctx = context({ Dockerfile: twoStage, 'conf.txt': 'conf\n', 'app/main.sh': 'echo main\n' })
    const img = await Image.build(ctx, { runtime, tag: 'built:1', network: 'none' })
    expect(img.refs).toEqual(['built:1'])
    expect(img.config).toMatchObject({ env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'GREETING=hello world', 'MODE=test'], workdir: '/app/data', user: 'app', exposedPorts: ['8080/tcp', '53/udp'], labels: { 'org.example.name': 'demo' }, entrypoint: ['/bin/sh', '-c'] })
    expect(img.config.cmd).toEqual(['echo', 'cmd']) // set in this stage: ENTRYPOINT keeps it (BuildKit's cmdSet)
    const child = await Image.build(ctx, { runtime, dockerfile: { content: 'FROM built:1\nENTRYPOINT ["/bin/echo"]\n' } })
    expect(child.config.cmd).toBeUndefined() // inherited: cleared by ENTRYPOINT
    const out = await runOutput(runtime, 'built:1', ['cat /app/result; stat -c "%a %u %g" /app/data/conf.txt; cat /app/data/conf.txt; id -un; pwd'])
    expect(out).toBe('built\n640 1000 50\nconf\napp\n/app/data\n')
    fs.rmSync(ctx, { recursive: true, force: true })
  }, 60000)

  it('takes every step from the cache the second time; a changed source misses from its COPY on; an mtime change hits', async () => {
    const df = 'FROM bb\nCOPY a.txt /a.txt\nRUN cat /proc/sys/kernel/random/uuid > /stamp1\nCOPY b.txt /b.txt\nRUN cat /proc/sys/kernel/random/uuid > /stamp2\n'
    const ctx = context({ Dockerfile: df, 'a.txt': 'a\n', 'b.txt': 'b\n' })
    const build = async () => {
      const log: string[] = []
      const img = await Image.build(ctx, { runtime, network: 'none', onLog: (line, step) => line === 'CACHED' && log.push(step.instruction) })
      return { img, cached: log }
    }
    const first = await build()
    expect(first.cached).toEqual([])
    const second = await build()
    expect(second.cached).toEqual(['COPY a.txt /a.txt', 'RUN cat /proc/sys/kernel/random/uuid > /stamp1', 'COPY b.txt /b.txt', 'RUN cat /proc/sys/kernel/random/uuid > /stamp2'])
    expect(second.img.details.layers).toEqual(first.img.details.layers)
    const future = new Date(Date.now() + 100000)
    fs.utimesSync(path.join(ctx, 'a.txt'), future, future)
    expect((await build()).cached).toHaveLength(4)
    fs.writeFileSync(path.join(ctx, 'b.txt'), 'b changed\n')
    const changed = await build()
    expect(changed.cached).toEqual(['COPY a.txt /a.txt', 'RUN cat /proc/sys/kernel/random/uuid > /stamp1'])
    expect(await runOutput(runtime, changed.img.id, ['cat', '/b.txt'])).toBe('b changed\n')
    expect(await runOutput(runtime, changed.img.id, ['cat', '/stamp1'])).toBe(await runOutput(runtime, first.img.id, ['cat', '/stamp1']))
    expect(await runOutput(runtime, changed.img.id, ['cat', '/stamp2'])).not.toBe(await runOutput(runtime, first.img.id, ['cat', '/stamp2']))
    fs.rmSync(ctx, { recursive: true, force: true })
  }, 90000)

  it('a COPY --from of an unchanged stage hits without reading the stage\'s files again; a stage rebuilt to the same bytes hits, to other bytes misses', async () => {
    const df = 'FROM bb AS s\nCOPY a.txt /a\nRUN head -c1 /a > /x\nFROM bb\nCOPY --from=s /x /x\n'
    const ctx = context({ Dockerfile: df, 'a.txt': 'ab' })
    const build = async () => {
      const cached: string[] = []
      const creates = jest.spyOn(Container, 'create')
      try {
        const img = await Image.build(ctx, { runtime, network: 'none', onLog: (line, step) => line === 'CACHED' && cached.push(step.instruction) })
        return { img, cached, containers: creates.mock.calls.length }
      } finally {
        creates.mockRestore()
      }
    }
    const first = await build()
    expect(first.containers).toBe(1) // the RUN's (COPY --from reads the stage's layers)
    const stageLayers = (await Image.build(ctx, { runtime, target: 's', network: 'none' })).details.layers
    const runLayerDir = path.join(runtime.root, 'layers', `sha256-${stageLayers[stageLayers.length - 1].replace('sha256:', '')}`, 'diff')
    let again: Awaited<ReturnType<typeof build>> | undefined
    expect(await filesOpenedDuring(runLayerDir, async () => (again = await build()))).toEqual([]) // /x is not read again
    expect(again!.cached).toEqual(['COPY a.txt /a', 'RUN head -c1 /a > /x', 'COPY --from=s /x /x'])
    expect(again!.containers).toBe(0)
    fs.writeFileSync(path.join(ctx, 'a.txt'), 'ac') // the stage's layers change, its /x does not
    const sameBytes = await build()
    expect(sameBytes.cached).toEqual(['COPY --from=s /x /x'])
    expect(sameBytes.img.details.layers).toEqual(first.img.details.layers)
    fs.writeFileSync(path.join(ctx, 'a.txt'), 'zc')
    const otherBytes = await build()
    expect(otherBytes.cached).toEqual([])
    expect(await runOutput(runtime, otherBytes.img.id, ['cat', '/x'])).toBe('z')
    fs.rmSync(ctx, { recursive: true, force: true })
  }, 90000)

  it('COPY --from reads the stage\'s layers as overlayfs merges them (whiteouts, an opaque directory, a symlink resolved in the stage\'s root), with no container', async () => {
    const df = 'FROM bb AS s\nRUN mkdir -p /d/old && touch /d/old/f /d/keep /d/gone\nRUN rm /d/gone && rm -rf /d/old && mkdir /d/old && echo new > /d/old/g && ln -s /d /link\nFROM bb\nCOPY --from=s /link/ /c/\n'
    const ctx = context({ Dockerfile: df })
    const creates = jest.spyOn(Container, 'create')
    let img: Image
    try {
      img = await Image.build(ctx, { runtime, network: 'none' })
      expect(creates.mock.calls.length).toBe(2) // the two RUNs'
    } finally {
      creates.mockRestore()
    }
    expect(await runOutput(runtime, img.id, ['sh', '-c', 'find /c | sort; cat /c/old/g'])).toBe('/c\n/c/keep\n/c/old\n/c/old/g\nnew\n')
    fs.rmSync(ctx, { recursive: true, force: true })
  }, 90000)

  it('COPY --from with a glob selects the stage\'s matching files (the walk that matched them does not hide the stage\'s root from their lookups)', async () => {
    const df = 'FROM bb AS s\nRUN mkdir /d && echo 1 > /d/a.txt && echo 2 > /d/b.txt && echo 3 > /d/c.log\nFROM bb\nCOPY --from=s /d/*.txt /c/\n'
    const ctx = context({ Dockerfile: df })
    const img = await Image.build(ctx, { runtime, network: 'none' })
    expect(await runOutput(runtime, img.id, ['sh', '-c', 'ls /c; cat /c/*'])).toBe('a.txt\nb.txt\n1\n2\n')
    fs.rmSync(ctx, { recursive: true, force: true })
  }, 90000)

  it('a rebuild reads only the context files changed since they were hashed (others are known by stat identity); a same-size rewrite misses', async () => {
    const ctx = context({ Dockerfile: 'FROM bb\nCOPY a.txt /a\nCOPY b.txt /b\n', 'a.txt': 'a\n', 'b.txt': 'b\n' })
    await new Promise((r) => setTimeout(r, 1100)) // a file changed within the last second is never remembered
    const build = async () => {
      const cached: string[] = []
      const img = await Image.build(ctx, { runtime, network: 'none', onLog: (line, step) => line === 'CACHED' && cached.push(step.instruction) })
      return { img, cached }
    }
    await build()
    fs.writeFileSync(path.join(ctx, 'b.txt'), 'B\n')
    let rebuilt: Awaited<ReturnType<typeof build>> | undefined
    expect(new Set(await filesOpenedDuring(ctx, async () => (rebuilt = await build())))).toEqual(new Set(['Dockerfile', 'b.txt'])) // b.txt hashed, then copied
    expect(rebuilt!.cached).toEqual(['COPY a.txt /a'])
    fs.writeFileSync(path.join(ctx, 'b.txt'), 'c\n') // same size, at once
    const again = await build()
    expect(again.cached).toEqual(['COPY a.txt /a'])
    expect(await runOutput(runtime, again.img.id, ['cat', '/a', '/b'])).toBe('a\nc\n')
    fs.rmSync(ctx, { recursive: true, force: true })
  }, 90000)

  it('a noCache build reads each source once, to copy it (no digest for a key no cache sees)', async () => {
    const ctx = context({ Dockerfile: 'FROM bb\nCOPY a.txt b.txt /d/\n', 'a.txt': 'a\n', 'b.txt': 'b\n' })
    let img: Image | undefined
    expect(await filesOpenedDuring(ctx, async () => (img = await Image.build(ctx, { runtime, network: 'none', noCache: true })))).toEqual(['Dockerfile', 'a.txt', 'b.txt'])
    expect(await runOutput(runtime, img!.id, ['cat', '/d/a.txt', '/d/b.txt'])).toBe('a\nb\n')
    fs.rmSync(ctx, { recursive: true, force: true })
  }, 90000)

  it('EDOCKERFILE names the line in BuildKit words', async () => {
    const ctx = context({})
    const cases: [string, RegExp][] = [
      ['FROM bb\n\n# c\nFOO bar\n', /dockerfile parse error on line 4: unknown instruction: FOO/],
      ['# only a comment\n\n', /the Dockerfile cannot be empty/],
      ['ENV A=1\nFROM bb\n', /dockerfile parse error on line 1: no build stage in current context/],
      ['FROM bb AS one\n', /failed to reach build target two in Dockerfile/],
      ['FROM bb\nCOPY --bogus=1 a /b\n', /dockerfile parse error on line 2: unknown flag: bogus/],
    ]
    for (const [content, message] of cases) {
      const err = await Image.build(ctx, { runtime, dockerfile: { content }, target: content.includes('one') ? 'two' : undefined }).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'EDOCKERFILE' })
      expect((err as Error).message).toMatch(message)
    }
    fs.rmSync(ctx, { recursive: true, force: true })
  })

  it('a failing RUN is EBUILD with its exit code and output, and leaves no container and no cache entry', async () => {
    const ctx = context({ Dockerfile: 'FROM bb\nRUN echo before\nRUN echo oops; exit 3\n' })
    const cacheDir = path.join(runtime.root, 'build-cache')
    const entriesBefore = fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir).length : 0
    const imagesBefore = (await Image.list({ runtime })).length
    const err = await Image.build(ctx, { runtime, network: 'none' }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'EBUILD', stage: '0', line: 3, instruction: 'RUN echo oops; exit 3', exitCode: 3, output: ['oops'] })
    expect((err as Error).message).toContain('process "/bin/sh -c echo oops; exit 3" did not complete successfully: exit code: 3')
    expect(await Container.list({ runtime, all: true })).toEqual([])
    expect((await Image.list({ runtime })).length).toBe(imagesBefore)
    expect(fs.readdirSync(cacheDir).filter((f) => !f.startsWith('.')).length).toBe(entriesBefore + 1) // "RUN echo before" only
    fs.rmSync(ctx, { recursive: true, force: true })
  }, 60000)

  it('a missing or ignored source is ENOTFOUND naming it', async () => {
    const ctx = context({ Dockerfile: 'FROM bb\nCOPY secret.txt /\n', 'secret.txt': 's', '.dockerignore': '*.txt\n' })
    await expect(Image.build(ctx, { runtime })).rejects.toMatchObject({ code: 'ENOTFOUND', message: expect.stringContaining('"/secret.txt": not found') })
    fs.rmSync(ctx, { recursive: true, force: true })
  })

  it('run({ build: { context, target } }, cmd, opts) builds the target stage, then runs it; a broken Dockerfile rejects with EDOCKERFILE', async () => {
    const ctx = context({ Dockerfile: 'FROM bb AS test\nRUN echo test-stage > /which\n\nFROM bb\nRUN echo final > /which\n' })
    const c = await run({ build: { context: ctx, target: 'test' } }, ['cat', '/which'], { runtime, network: 'none' })
    expect(await c.wait()).toEqual({ exitCode: 0 })
    expect(await text(c.logs())).toBe('test-stage\n')
    await c.remove()
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM bb\nBOGUS x\n')
    await expect(run({ build: { context: ctx } }, { runtime, network: 'none' })).rejects.toMatchObject({ code: 'EDOCKERFILE', line: 2 })
    fs.rmSync(ctx, { recursive: true, force: true })
  })
})

test("a lower layer's /etc that is a symlink to a host path is never followed on the host: --chown does not read the host's passwd", async () => {
  // The host directory a hostile image points at, holding a passwd the image does not have.
  const hostDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-build-hostetc-'))
  fs.writeFileSync(path.join(hostDir, 'passwd'), 'probeuser:x:4242:4242::/:/bin/sh\n')
  // A docker-archive of two layers: /etc a symlink to that directory, then a real /etc over it.
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-build-hostile-'))
  const layer = (name: string, make: (root: string) => void): string => {
    const root = path.join(work, `${name}-root`)
    fs.mkdirSync(root)
    make(root)
    execFileSync('tar', ['-C', root, '-cf', path.join(work, `${name}.tar`), '.'])
    return `sha256:${createHash('sha256').update(fs.readFileSync(path.join(work, `${name}.tar`))).digest('hex')}`
  }
  const diffIds = [layer('l1', (r) => fs.symlinkSync(hostDir, path.join(r, 'etc'))), layer('l2', (r) => fs.mkdirSync(path.join(r, 'etc')))]
  const config = JSON.stringify({ architecture: process.arch === 'arm64' ? 'arm64' : 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: diffIds } })
  fs.writeFileSync(path.join(work, 'config.json'), config)
  fs.writeFileSync(path.join(work, 'manifest.json'), JSON.stringify([{ Config: 'config.json', RepoTags: ['hostile:1'], Layers: ['l1.tar', 'l2.tar'] }]))
  execFileSync('tar', ['-C', work, '-cf', path.join(work, 'image.tar'), 'manifest.json', 'config.json', 'l1.tar', 'l2.tar'])
  const ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-build-ctx-'))
  fs.writeFileSync(path.join(ctx, 'f'), 'x\n')
  try {
    await Image.load(path.join(work, 'image.tar'), { runtime })
    const err = await Image.build(ctx, { dockerfile: { content: 'FROM hostile:1\nCOPY --chown=probeuser f /f\n' }, tag: 'hostetc:1', runtime }).then(() => undefined, (e: unknown) => e)
    // In the merged image /etc is the upper, empty directory: the user is unknown.
    expect(err).toMatchObject({ code: 'EDOCKERFILE' })
    expect((err as Error).message).toContain('probeuser')
  } finally {
    for (const d of [hostDir, work, ctx]) fs.rmSync(d, { recursive: true, force: true })
  }
})

test("FROM the host image: RUN steps see the host's /usr (bound as in run() and commit()), and the built image keeps the bind", async () => {
  const host = await Image.fromHost({ runtime, ref: 'host-for-build:1' })
  const ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-build-host-'))
  try {
    const img = await Image.build(ctx, { runtime, network: 'none', dockerfile: { content: `FROM ${host.id}\nRUN test -x /usr/bin/env && /usr/bin/env true && echo built-with-usr > /marker\n` } })
    expect(img.details.hostBinds).toEqual(host.details.hostBinds)
    expect(await runOutput(runtime, img.id, ['sh', '-c', 'cat /marker; test -x /usr/bin/env && echo usr-bound'])).toBe('built-with-usr\nusr-bound\n')
  } finally {
    fs.rmSync(ctx, { recursive: true, force: true })
    await host.remove({ force: true })
  }
})

test("COPY --from a stage FROM the host image reads, through its container, the stage's files and the host's bound /usr: a file, and a directory only its owner may read", async () => {
  const host = await Image.fromHost({ runtime, ref: 'host-for-copy-from:1' })
  // A host directory of a system user's, 0700 (as polkit's rules.d): root reads it.
  const hostPrivate = fs.mkdtempSync('/usr/share/mc-copy-from-')
  fs.writeFileSync(path.join(hostPrivate, 'secret'), 'host-private\n')
  fs.chmodSync(hostPrivate, 0o700)
  fs.chownSync(hostPrivate, 101, 101)
  try {
    const df = [
      'FROM host-for-copy-from:1 AS h',
      'RUN mkdir -p /out/d && echo data > /out/d/f && chown -R 1000:50 /out && chmod 0700 /out/d',
      'FROM bb',
      'COPY --from=h /out /copied',
      'COPY --from=h /usr/bin/env /env',
      `COPY --from=h ${hostPrivate} /private`,
      '',
    ].join('\n')
    const img = await Image.build(context({}), { runtime, network: 'none', dockerfile: { content: df } })
    const envSum = createHash('md5').update(fs.readFileSync('/usr/bin/env')).digest('hex')
    expect(await runOutput(runtime, img.id, ['sh', '-c', 'stat -c "%n %u:%g %a" /copied/d /copied/d/f /private/secret; cat /copied/d/f /private/secret; md5sum /env'])).toBe(
      `/copied/d 0:0 700\n/copied/d/f 0:0 644\n/private/secret 0:0 644\ndata\nhost-private\n${envSum}  /env\n`,
    )
  } finally {
    fs.rmSync(hostPrivate, { recursive: true, force: true })
    await host.remove({ force: true })
  }
})

test('a step stores its layer in one pass: the blob written is not read back to unpack it (COPY and RUN)', async () => {
  const ctx = context({ 'a.txt': `one pass ${Date.now()}\n` })
  const blobsDir = path.join(runtime.root, 'blobs', 'sha256')
  let img: Image | undefined
  const opened = await filesOpenedDuring(blobsDir, async () => (img = await Image.build(ctx, { runtime, network: 'none', noCache: true, dockerfile: { content: 'FROM bb\nCOPY a.txt /a\nRUN cat /a > /b\n' } })))
  const built = img!.details.layers.slice(-2).map((d) => d.replace('sha256:', '')) // uncompressed: the blobs' digests are the diffIDs
  expect(built).toHaveLength(2)
  expect(opened.filter((name) => built.includes(name))).toEqual([])
  expect(await runOutput(runtime, img!.id, ['cat', '/b'])).toMatch(/^one pass/)
})

test("a RUN runs no health check of the stage's HEALTHCHECK (as BuildKit): its command's writes are not in the step's layer", async () => {
  const df = ['FROM bb', 'HEALTHCHECK --interval=100ms --start-period=0s --start-interval=100ms CMD touch /probed', 'RUN sleep 1.5', ''].join('\n')
  const img = await Image.build(context({}), { runtime, network: 'none', noCache: true, dockerfile: { content: df } })
  expect(img.config.healthcheck?.test).toEqual(['CMD-SHELL', 'touch /probed']) // the image keeps it
  const runLayer = runtime.images.layerPath(img.details.layers.at(-1)!)
  expect(fs.readdirSync(runLayer)).not.toContain('probed')
})

test("a RUN's layer holds what it wrote, not the container's /etc/hosts, /etc/hostname, /etc/resolv.conf and /etc/mtab stubs of an image without them (as BuildKit's and the classic builder's)", async () => {
  const img = await Image.build(context({}), { runtime, network: 'none', noCache: true, dockerfile: { content: 'FROM bb\nRUN cat /etc/hosts /etc/resolv.conf > /x && readlink /etc/mtab >> /x\n' } })
  const runLayer = runtime.images.layerPath(img.details.layers.at(-1)!)
  const entries = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => [e.name, ...(e.isDirectory() ? entries(path.join(dir, e.name)).map((n) => `${e.name}/${n}`) : [])])
  expect(entries(runLayer).filter((e) => e !== 'etc')).toEqual(['x']) // an /etc the base has stays, as the modified directory BuildKit's layer has too
  const x = fs.readFileSync(path.join(runLayer, 'x'), 'utf8')
  expect(x).toContain('localhost') // the RUN saw them
  expect(x).toContain('/proc/mounts')
  expect(await runOutput(runtime, img.id, ['sh', '-c', 'cat /etc/hosts | grep -c localhost'])).not.toBe('0\n') // and a container of the image gets its own
})
