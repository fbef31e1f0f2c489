/**
 * The build example (examples/build/) runs as CI would run it: its own jest
 * project builds the service FROM the host image with its Dockerfile, runs
 * it with a published port and tests it over HTTP, then removes what it
 * made. On a private runtime root; nothing may be left behind.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Container, Image } from '../../lib'
import { destroyRuntime, tempRuntime } from '../helpers'
import { runJestProject } from '../tools/jest-project'
import { repoRoot } from '../tools/repo-root'

test('examples/build: builds its service from the Dockerfile, runs it, answers over HTTP, leaves no container', async () => {
  expect(fs.existsSync(path.join(repoRoot, 'dist/index.js'))).toBe(true) // the example loads the built package (npm run build)
  const runtime = tempRuntime()
  try {
    const { code, output } = await runJestProject('examples/build/jest.config.js', runtime.root)
    expect(output).toMatch(/Tests:\s+2 passed, 2 total/)
    expect(code).toBe(0)
    expect(await Container.list({ runtime, all: true })).toEqual([])
    expect((await Image.list({ runtime })).flatMap((i) => i.refs)).not.toContain('build-example:test')
  } finally {
    await destroyRuntime(runtime)
  }
}, 300_000)
