/**
 * Image.fromDocker (issue 24): an image copied from a Docker engine's store
 * through its API socket (a private engine, test/tools/docker-engine.ts; no
 * docker CLI in the library), run here with Docker's id and output.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Image, MiniContainerError } from '../../lib'
import { runOutput } from '../helpers'
import { useDockerFixture } from '../tools/docker-engine'

jest.setTimeout(300_000)

const dockerfile = 'FROM mc-fd:base\nRUN echo "built by docker" > /msg\nCMD ["cat", "/msg"]\n'
const fx = useDockerFixture({ base: 'mc-fd:base', dockerfile, tag: 'mc-fd:1' })

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(() => undefined, (err: MiniContainerError) => err.code)
}

test("copies the engine's image: same id, tag, layers and output", async () => {
  const img = await Image.fromDocker('mc-fd:1', { runtime: fx.runtime, socket: fx.engine.socket })
  expect(img.id).toBe(await fx.engine.ok(['inspect', '-f', '{{.Id}}', 'mc-fd:1']))
  expect((await img.inspect()).repoTags).toEqual(['mc-fd:1'])
  expect(await runOutput(fx.runtime, 'mc-fd:1')).toBe((await fx.engine.ok(['run', '--rm', '--network', 'none', 'mc-fd:1'])) + '\n')
})

test('an image Docker lacks is ENOIMAGE naming the engine; no engine at the socket is ENOTFOUND; nothing is stored', async () => {
  const before = (await Image.list({ runtime: fx.runtime })).length
  const missing = Image.fromDocker('mc-fd:nope', { runtime: fx.runtime, socket: fx.engine.socket })
  await expect(missing).rejects.toMatchObject({ code: 'ENOIMAGE', message: expect.stringContaining(`the Docker engine at ${fx.engine.socket} has no image mc-fd:nope`) })
  const nowhere = path.join(fx.work, 'no-engine.sock')
  expect(fs.existsSync(nowhere)).toBe(false)
  expect(await codeOf(Image.fromDocker('mc-fd:1', { runtime: fx.runtime, socket: nowhere }))).toBe('ENOTFOUND')
  expect((await Image.list({ runtime: fx.runtime })).length).toBe(before)
})
