/**
 * sourceDateEpoch: the same Dockerfile and context built with noCache on
 * two fresh runtime roots (and twice on one) give one image id: layers made
 * by COPY (from the context and from a here-document), WORKDIR and RUN, and
 * the config's times, no longer depend on when the build ran. Without it
 * the ids differ, as Docker's do.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Image, type Runtime } from '../../lib'
import { busyboxRootfs, destroyRuntime, tempRuntime } from '../helpers'

jest.setTimeout(120_000)

const df = `FROM scratch AS base
COPY rootfs/ /
FROM base
WORKDIR /srv/app
COPY app.txt ./
COPY <<EOF /etc/motd
built reproducibly
EOF
RUN echo ran > /ran && mkdir -p /var/data && touch /var/data/x
CMD ["cat", "/ran"]
`

let ctx: string
const runtimes: Runtime[] = []
beforeAll(() => {
  ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-build-repro-'))
  busyboxRootfs(path.join(ctx, 'rootfs'))
  fs.writeFileSync(path.join(ctx, 'app.txt'), 'app\n')
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), df)
  runtimes.push(tempRuntime(), tempRuntime())
})
afterAll(async () => {
  for (const rt of runtimes) await destroyRuntime(rt)
  fs.rmSync(ctx, { recursive: true, force: true })
})

test('sourceDateEpoch: one image id on two fresh roots and twice on one (noCache); without it, two ids', async () => {
  const epoch = 1_700_000_000
  const build = (runtime: Runtime, sourceDateEpoch?: number) => Image.build(ctx, { runtime, network: 'none', noCache: true, ...(sourceDateEpoch === undefined ? {} : { sourceDateEpoch }) })
  const a = await build(runtimes[0], epoch)
  await new Promise((r) => setTimeout(r, 1100)) // a second later: mtimes of a build that is not clamped would differ
  const b = await build(runtimes[1], epoch)
  const again = await build(runtimes[0], epoch)
  expect([b.id, again.id]).toEqual([a.id, a.id])
  expect((await a.inspect()).created).toBe(new Date(epoch * 1000).toISOString())
  const plain1 = await build(runtimes[0])
  await new Promise((r) => setTimeout(r, 1100))
  const plain2 = await build(runtimes[1])
  expect(plain1.id).not.toBe(plain2.id)
})
