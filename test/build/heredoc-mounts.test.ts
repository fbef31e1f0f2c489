/**
 * Image.build's here-documents (RUN and COPY, `<<-`, quoted delimiters,
 * several in one line, a `#!` script) and RUN's `--mount` (cache kept across
 * builds and shared by id, empty under noCache; a read-only bind of a
 * context dir; tmpfs) and `--network`, against the real kernel with the
 * busybox image; mount points never land in the image.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Image, type Runtime } from '../../lib'
import { runOutput, useRuntime } from '../helpers'
import { useBuildContexts } from '../tools/build-context'

jest.setTimeout(120_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true, hostImage: false })

const context = useBuildContexts('mc-build-hd-')

const show = (files: string[]) => ['sh', '-c', files.map((f) => `echo "== ${f}"; cat ${f}`).join('; ')]

test('here-documents: RUN as shell text, as a #! script, inside a command line (two at once, <<- tabs stripped); COPY expanded unless quoted', async () => {
  const df = [
    'FROM bb',
    'RUN <<EOF',
    'echo one > /h1',
    'echo two >> /h1',
    'EOF',
    "RUN <<-'EOS'",
    '\techo "$((1+2))" > /h2',
    '\tEOS',
    'RUN <<EOF',
    '#!/bin/sh',
    'echo "script $0" > /h3',
    'EOF',
    'RUN cat <<A > /h4 && cat <<-B >> /h4',
    'first',
    'A',
    '\tsecond',
    '\tB',
    'ENV NAME=world',
    'COPY <<EOF /greeting',
    'hello $NAME "quoted"',
    'EOF',
    "COPY <<'EOF' /raw",
    'hello $NAME',
    'EOF',
    'COPY <<F1 <<F2 /docs/',
    'one',
    'F1',
    'two',
    'F2',
    '',
  ].join('\n')
  const img = await Image.build(context({}), { runtime, network: 'none', dockerfile: { content: df } })
  const out = await runOutput(runtime, img.id, show(['/h1', '/h2', '/h3', '/h4', '/greeting', '/raw', '/docs/F1', '/docs/F2']))
  expect(out).toBe(['== /h1', 'one', 'two', '== /h2', '3', '== /h3', 'script /dev/pipes/EOF', '== /h4', 'first', 'second', '== /greeting', 'hello world "quoted"', '== /raw', 'hello $NAME', '== /docs/F1', 'one', '== /docs/F2', 'two', ''].join('\n'))
  expect(await runOutput(runtime, img.id, ['stat', '-c', '%a %u:%g', '/greeting'])).toBe('644 0:0\n')
})

test('an unterminated here-document is EDOCKERFILE with its line', async () => {
  await expect(Image.build(context({}), { runtime, dockerfile: { content: 'FROM bb\nRUN <<EOF\necho x\n' } })).rejects.toMatchObject({ code: 'EDOCKERFILE', line: 2 })
})

test('RUN --mount=type=cache: kept across builds (a miss appends), shared by id across Dockerfiles, empty under noCache, never in the image', async () => {
  const ctx = context({})
  const df = 'FROM bb\nARG N\nRUN --mount=type=cache,target=/var/cache/app echo $N >> /var/cache/app/lines && wc -l < /var/cache/app/lines > /count\n'
  const counts: string[] = []
  for (const n of ['1', '2', '3']) {
    const img = await Image.build(ctx, { runtime, network: 'none', dockerfile: { content: df }, buildArgs: { N: n } })
    counts.push((await runOutput(runtime, img.id, ['cat', '/count'])).trim())
    expect(await runOutput(runtime, img.id, ['sh', '-c', 'test -e /var/cache/app && echo present || echo absent; test -e /var/cache && echo parent || echo no-parent'])).toBe('absent\nno-parent\n')
  }
  expect(counts).toEqual(['1', '2', '3'])
  const other = await Image.build(ctx, { runtime, network: 'none', dockerfile: { content: 'FROM bb\nRUN --mount=type=cache,id=/var/cache/app,target=/c cat /c/lines > /shared\n' } })
  expect(await runOutput(runtime, other.id, ['cat', '/shared'])).toBe('1\n2\n3\n')
  const fresh = await Image.build(ctx, { runtime, network: 'none', noCache: true, dockerfile: { content: df }, buildArgs: { N: '9' } })
  expect(await runOutput(runtime, fresh.id, ['cat', '/count'])).toBe('1\n')
  const again = await Image.build(ctx, { runtime, network: 'none', dockerfile: { content: df }, buildArgs: { N: '4' } })
  expect(await runOutput(runtime, again.id, ['cat', '/count'])).toBe('4\n') // noCache's empty dir was its own
})

test('RUN --mount=type=bind (a context dir, read-only) and type=tmpfs; their mount points stay out of the image', async () => {
  const ctx = context({ 'conf/a.txt': 'from the context\n' })
  const df = [
    'FROM bb',
    'RUN --mount=type=bind,source=conf,target=/mnt/conf cat /mnt/conf/a.txt > /from-bind && (touch /mnt/conf/new 2>/dev/null && echo writable || echo read-only) >> /from-bind',
    'RUN --mount=type=tmpfs,target=/scratch echo hi > /scratch/f && grep " /scratch " /proc/mounts | cut -d" " -f3 > /fs-type',
    '',
  ].join('\n')
  const img = await Image.build(ctx, { runtime, network: 'none', dockerfile: { content: df } })
  expect(await runOutput(runtime, img.id, show(['/from-bind', '/fs-type']))).toBe('== /from-bind\nfrom the context\nread-only\n== /fs-type\ntmpfs\n')
  expect(await runOutput(runtime, img.id, ['sh', '-c', 'ls -d /mnt /mnt/conf /scratch 2>&1 | wc -l; ls /mnt 2>/dev/null | wc -l'])).toBe('3\n0\n')
  expect(fs.existsSync(path.join(ctx, 'conf/new'))).toBe(false)
  // A parent the image has keeps what the RUN did to it: only mount points the image lacks are taken out.
  const chmodded = await Image.build(ctx, { runtime, network: 'none', dockerfile: { content: 'FROM bb\nRUN --mount=type=tmpfs,target=/tmp/scratch chmod 700 /tmp\n' } })
  expect(await runOutput(runtime, chmodded.id, ['sh', '-c', 'stat -c %a /tmp; ls /tmp | wc -l'])).toBe('700\n0\n')
})

test('RUN --network=none has only loopback in a bridge build; an unknown mode is EDOCKERFILE', async () => {
  const ctx = context({})
  const img = await Image.build(ctx, { runtime, network: 'bridge', dockerfile: { content: 'FROM bb\nRUN ls /sys/class/net | sort > /none-links\nRUN --network=none ls /sys/class/net > /links\n' } })
  expect(await runOutput(runtime, img.id, ['cat', '/links'])).toBe('lo\n')
  expect(await runOutput(runtime, img.id, ['cat', '/none-links'])).toBe('eth0\nlo\n')
  await expect(Image.build(ctx, { runtime, dockerfile: { content: 'FROM bb\nRUN --network=weird true\n' } })).rejects.toMatchObject({ code: 'EDOCKERFILE', line: 2 })
})
