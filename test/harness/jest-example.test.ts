/**
 * The jest example (examples/jest/) runs as CI runs it: its own jest
 * project, whose globalSetup starts redis-server and nginx with wait
 * strategies and reuse, tests in three files use them, and globalTeardown
 * removes them. On a private runtime root; nothing may be left behind.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Container, Runtime } from '../../lib'
import { tempRuntime } from '../helpers'
import { runJestProject } from '../tools/jest-project'
import { repoRoot } from '../tools/repo-root'

test('examples/jest: globalSetup, three test files sharing redis and nginx, globalTeardown', async () => {
  expect(fs.existsSync(path.join(repoRoot, 'dist/index.js'))).toBe(true) // the example loads the built package (npm run build)
  const runtime: Runtime = tempRuntime()
  try {
    const { code, output } = await runJestProject('examples/jest/jest.config.js', runtime.root)
    expect(output).toMatch(/Tests:\s+5 passed, 5 total/)
    expect(output).toMatch(/Test Suites:\s+3 passed, 3 total/)
    expect(output).toMatch(/redis and nginx ready in \d+ ms/)
    expect(code).toBe(0)
    expect(await Container.list({ runtime, all: true })).toEqual([])
  } finally {
    for (const c of await Container.list({ runtime, all: true })) await c.remove({ force: true }).catch(() => {})
    await runtime.close()
    fs.rmSync(runtime.root, { recursive: true, force: true })
  }
}, 300_000)
