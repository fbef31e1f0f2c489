/**
 * RUN --mount=type=bind as BuildKit carries it out: from= another stage's
 * or an image's files (a directory or a single file), read-only unless rw,
 * whose writes are discarded (neither the next RUN, the image, the stage nor
 * the context sees them); the bound content is part of the step's key (a
 * changed context file or stage reruns the RUN); no copy is left behind.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Image, type BuildProgress, type Runtime } from '../../lib'
import { runOutput, useRuntime } from '../helpers'
import { useBuildContexts } from '../tools/build-context'

jest.setTimeout(120_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true, hostImage: false })

const context = useBuildContexts('mc-build-bind-')

/** Bind copies left in the root's tmp (its build scratch directories included). */
const leftCopies = () => {
  const tmp = path.join(runtime.root, 'tmp')
  const names = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir).flatMap((n) => (n.startsWith('build-') ? names(path.join(dir, n)) : [n])) : [])
  return names(tmp).filter((n) => n.startsWith('bind-'))
}

test('from= a stage (read-only, then rw with its writes discarded) and from= an image (one file); nothing lands in the image', async () => {
  const df = [
    'FROM bb AS tools',
    'RUN mkdir /out && echo from-stage > /out/a && ln -s a /out/link',
    'FROM bb',
    'RUN --mount=type=bind,from=tools,source=/out,target=/mnt/t cat /mnt/t/a /mnt/t/link > /got && (touch /mnt/t/x 2>/dev/null && echo writable || echo read-only) >> /got',
    'RUN --mount=type=bind,from=tools,source=out,target=/mnt/t,rw echo changed > /mnt/t/a && cat /mnt/t/a >> /got',
    'RUN --mount=type=bind,from=tools,src=/out,dst=/mnt/t cat /mnt/t/a >> /got',
    'RUN --mount=from=bb,source=/etc/passwd,target=/passwd-of-bb head -c 4 /passwd-of-bb > /img',
    '',
  ].join('\n')
  const img = await Image.build(context({}), { runtime, network: 'none', dockerfile: { content: df } })
  expect(await runOutput(runtime, img.id, ['cat', '/got', '/img'])).toBe('from-stage\nfrom-stage\nread-only\nchanged\nfrom-stage\nroot')
  expect(await runOutput(runtime, img.id, ['sh', '-c', 'ls -d /mnt /out /passwd-of-bb 2>&1 | grep -c "No such file"'])).toBe('3\n')
  expect(leftCopies()).toEqual([])
})

test('rw bind of the context: the RUN may write, the context keeps its files', async () => {
  const ctx = context({ 'conf/a.txt': 'original\n' })
  const df = 'FROM bb\nRUN --mount=type=bind,source=conf,target=/c,rw echo overwritten > /c/a.txt && touch /c/new && cat /c/a.txt > /got\n'
  const img = await Image.build(ctx, { runtime, network: 'none', dockerfile: { content: df } })
  expect(await runOutput(runtime, img.id, ['cat', '/got'])).toBe('overwritten\n')
  expect(fs.readFileSync(path.join(ctx, 'conf/a.txt'), 'utf8')).toBe('original\n')
  expect(fs.existsSync(path.join(ctx, 'conf/new'))).toBe(false)
  expect(leftCopies()).toEqual([])
})

test("the bound content is in the step's key: same content hits, a changed context file or stage reruns", async () => {
  const ctx = context({ 'conf/a.txt': 'one\n' })
  const df = ['ARG V=1', 'FROM bb AS gen', 'ARG V', 'RUN echo "stage $V" > /v', 'FROM bb', 'RUN --mount=type=bind,source=conf,target=/c --mount=type=bind,from=gen,source=/v,target=/v cat /c/a.txt /v > /got', ''].join('\n')
  const build = async (buildArgs: Record<string, string> = {}) => {
    const events: BuildProgress[] = []
    const img = await Image.build(ctx, { runtime, network: 'none', dockerfile: { content: df }, buildArgs, onProgress: (e) => events.push(e) })
    const lastRun = events.filter((e) => e.instruction.startsWith('RUN --mount') && e.status !== 'running')[0].status
    return { out: await runOutput(runtime, img.id, ['cat', '/got']), lastRun }
  }
  expect(await build()).toEqual({ out: 'one\nstage 1\n', lastRun: 'done' })
  expect(await build()).toEqual({ out: 'one\nstage 1\n', lastRun: 'cached' })
  fs.writeFileSync(path.join(ctx, 'conf/a.txt'), 'two\n')
  expect(await build()).toEqual({ out: 'two\nstage 1\n', lastRun: 'done' })
  expect(await build({ V: '2' })).toEqual({ out: 'two\nstage 2\n', lastRun: 'done' })
})

test('a source missing in the stage is ENOTFOUND naming it; an unknown from= is EDOCKERFILE', async () => {
  const ctx = context({})
  await expect(Image.build(ctx, { runtime, network: 'none', dockerfile: { content: 'FROM bb AS s\nFROM bb\nRUN --mount=type=bind,from=s,source=/nope,target=/n true\n' } })).rejects.toMatchObject({ code: 'ENOTFOUND', message: expect.stringContaining('"/nope" does not exist in s') })
  await expect(Image.build(ctx, { runtime, network: 'none', pull: 'never', dockerfile: { content: 'FROM bb\nRUN --mount=type=bind,from=no-such-stage,target=/n true\n' } })).rejects.toMatchObject({ code: 'EDOCKERFILE', line: 2 })
  expect(leftCopies()).toEqual([])
})

test('a cache mount seeded from= a stage (source= a path in it): starts as its files, kept across builds, a new cache when the seed changes, fresh under noCache; the seed stage is untouched', async () => {
  const ctx = context({})
  const df = [
    'FROM bb AS seed',
    'ARG V=1',
    'RUN mkdir -p /deps && echo "seed $V" > /deps/list',
    'FROM bb',
    'ARG N',
    'RUN --mount=type=cache,id=seeded,target=/c,from=seed,source=/deps echo "run $N" >> /c/list && cat /c/list > /got',
    'COPY --from=seed /deps/list /seed-list',
    '',
  ].join('\n')
  const got = async (buildArgs: Record<string, string>, noCache = false) => {
    const img = await Image.build(ctx, { runtime, network: 'none', dockerfile: { content: df }, buildArgs, noCache })
    return runOutput(runtime, img.id, ['cat', '/got', '/seed-list'])
  }
  expect(await got({ N: '1' })).toBe('seed 1\nrun 1\nseed 1\n')
  expect(await got({ N: '2' })).toBe('seed 1\nrun 1\nrun 2\nseed 1\n')
  expect(await got({ N: '3', V: '2' })).toBe('seed 2\nrun 3\nseed 2\n')
  expect(await got({ N: '4' }, true)).toBe('seed 1\nrun 4\nseed 1\n')
  expect(await got({ N: '5' })).toBe('seed 1\nrun 1\nrun 2\nrun 5\nseed 1\n')
  await expect(Image.build(ctx, { runtime, network: 'none', dockerfile: { content: 'FROM bb AS s\nFROM bb\nRUN --mount=type=cache,target=/c,from=s,source=/nope true\n' } })).rejects.toMatchObject({ code: 'ENOTFOUND', message: expect.stringContaining('"/nope" does not exist in s') })
})

test("from= the host image (or a stage FROM it) binds the host's /usr, read-only, as its containers see it", async () => {
  const host = await Image.fromHost({ runtime, ref: 'host-for-bind:1' })
  try {
    const df = [
      'FROM host-for-bind:1 AS h',
      'FROM bb',
      'RUN --mount=type=bind,from=host-for-bind:1,source=/usr/bin,target=/hb --mount=type=bind,from=h,source=/usr/bin/env,target=/env-of-stage test -x /hb/env && test -x /env-of-stage && (touch /hb/x 2>/dev/null && echo writable || echo read-only) > /got',
      'RUN --mount=type=bind,from=h,source=/usr/share/base-files,target=/hb,rw touch /hb/new && test -e /hb/motd && echo rw-copy >> /got',
      '',
    ].join('\n')
    const img = await Image.build(context({}), { runtime, network: 'none', dockerfile: { content: df } })
    expect(await runOutput(runtime, img.id, ['cat', '/got'])).toBe('read-only\nrw-copy\n')
    expect(fs.existsSync('/usr/share/base-files/new')).toBe(false)
    expect(leftCopies()).toEqual([])
  } finally {
    await host.remove({ force: true }).catch(() => {})
  }
})
