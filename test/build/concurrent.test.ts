/**
 * Builds on one runtime root from several processes: three processes
 * building the same Dockerfile at once run each step once (a lock per
 * cache key under the root; the others wait and take the layer from the
 * cache), all three get the same layers; independent stages of one build
 * run side by side; and onProgress reports each instruction's start and end.
 */
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { Image, type BuildProgress, type Runtime } from '../../lib'
import { runOutput, useRuntime } from '../helpers'
import { spawnNode } from '../tools/node-child'

jest.setTimeout(120_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true, hostImage: false })

let ctx: string
beforeAll(() => {
  ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-build-conc-'))
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM bb\nRUN --mount=type=cache,target=/runs echo ran >> /runs/log && sleep 1 && cat /proc/sys/kernel/random/uuid > /stamp\nCOPY Dockerfile /df\n')
})
afterAll(() => fs.rmSync(ctx, { recursive: true, force: true }))

function exited(child: ChildProcess): Promise<{ code: number | null; out: string; err: string }> {
  let out = ''
  let err = ''
  child.stdout?.on('data', (d) => (out += d))
  child.stderr?.on('data', (d) => (err += d))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })))
}

test('three processes building the same Dockerfile at once: the RUN runs once, every process gets the same layers', async () => {
  const body = `const { Image, Runtime } = lib()
    ;(async () => {
      const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)} })
      const img = await Image.build(${JSON.stringify(ctx)}, { runtime, network: 'none' })
      console.log(img.id)
    })().catch((e) => { console.error(e); process.exitCode = 1 })`
  const results = await Promise.all([0, 1, 2].map(() => exited(spawnNode(body, { stdio: ['ignore', 'pipe', 'pipe'] }))))
  expect(results.map((r) => [r.code, r.err])).toEqual([[0, ''], [0, ''], [0, '']])
  // Same layers (the history's times are each build's own, so the image ids differ, as BuildKit's do).
  const layers = await Promise.all(results.map(async (r) => (await Image.get(r.out.trim(), { runtime })).details.layers))
  expect(layers[1]).toEqual(layers[0])
  expect(layers[2]).toEqual(layers[0])
  const runs = path.join(runtime.root, 'build-cache-mounts', createHash('sha256').update('/runs').digest('hex'), 'log')
  expect(fs.readFileSync(runs, 'utf8')).toBe('ran\n')
})

test('onProgress: running then done (made) or cached (from the cache) for each instruction, with its time', async () => {
  const events: BuildProgress[] = []
  await Image.build(ctx, { runtime, network: 'none', dockerfile: { content: 'FROM bb\nENV A=1\nRUN echo $A > /a\n' }, onProgress: (e) => events.push(e) })
  await Image.build(ctx, { runtime, network: 'none', dockerfile: { content: 'FROM bb\nENV A=1\nRUN echo $A > /a\n' }, onProgress: (e) => events.push(e) })
  expect(events.map((e) => `${e.line} ${e.status}`)).toEqual(['2 running', '2 done', '3 running', '3 done', '2 running', '2 done', '3 running', '3 cached'])
  expect(events.every((e) => e.stage === '0' && e.ms >= 0)).toBe(true)
  expect(events[3].ms).toBeGreaterThan(events[7].ms)
  const failed: BuildProgress[] = []
  await expect(Image.build(ctx, { runtime, network: 'none', dockerfile: { content: 'FROM bb\nRUN exit 3\n' }, onProgress: (e) => failed.push(e) })).rejects.toMatchObject({ code: 'EBUILD' })
  expect(failed.map((e) => `${e.instruction}: ${e.status}`)).toEqual(['RUN exit 3: running', 'RUN exit 3: failed'])
})

test('independent stages build side by side: each RUN sees the other one running', async () => {
  // Each stage marks itself in a shared cache mount and waits up to 10 s for the other's mark: built one after the other, the first would give up.
  const waitFor = (me: string, other: string) => `RUN --mount=type=cache,id=side-by-side,target=/s touch /s/${me} && i=0; while [ ! -e /s/${other} ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; (test -e /s/${other} && echo together || echo alone) > /${me}`
  const df = `FROM bb AS a\n${waitFor('a', 'b')}\nFROM bb AS b\n${waitFor('b', 'a')}\nFROM bb\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n`
  const img = await Image.build(ctx, { runtime, network: 'none', dockerfile: { content: df } })
  expect(await runOutput(runtime, img.id, ['cat', '/a', '/b'])).toBe('together\ntogether\n')
})

test('builds make no lock file per step or per layer (one was kept, then one made and deleted each time): only the shared .keyed-locks', async () => {
  const lockFiles = () => {
    const locks = path.join(runtime.root, 'locks')
    return { steps: fs.readdirSync(path.join(locks, 'build-steps')), blobs: fs.readdirSync(locks).filter((f) => f.startsWith('blob-') || f === '.keyed-locks') }
  }
  for (let i = 0; i < 4; i++) await Image.build(ctx, { runtime, network: 'none', dockerfile: { content: `FROM bb\nENV N=${i}-${Date.now()}\nRUN echo $N > /n\nCOPY Dockerfile /df\n` } })
  expect(lockFiles()).toEqual({ steps: ['.keyed-locks'], blobs: ['.keyed-locks'] })
})
