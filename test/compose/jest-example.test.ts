/**
 * The compose jest example (examples/jest-compose/) runs as CI would run it:
 * its own jest project, whose globalSetup ups a compose file (redis healthy,
 * then nginx) with reuse, tests in two files (other processes) find the same
 * running project, and globalTeardown takes it down. On a private runtime
 * root; nothing may be left behind.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Container, Network } from '../../lib'
import { destroyRuntime, tempRuntime } from '../helpers'
import { runJestProject } from '../tools/jest-project'
import { repoRoot } from '../tools/repo-root'

test('examples/jest-compose: globalSetup ups the file, two test files share it, globalTeardown takes it down', async () => {
  expect(fs.existsSync(path.join(repoRoot, 'dist/index.js'))).toBe(true) // the example loads the built package (npm run build)
  const runtime = tempRuntime()
  try {
    const { code, output } = await runJestProject('examples/jest-compose/jest.config.js', runtime.root, ['--maxWorkers=2'])
    expect(output).toMatch(/Tests:\s+3 passed, 3 total/)
    expect(output).toMatch(/Test Suites:\s+2 passed, 2 total/)
    expect(output).toMatch(/compose environment ready in \d+ ms/)
    expect(code).toBe(0)
    expect(await Container.list({ runtime, all: true })).toEqual([])
    expect((await Network.list({ runtime })).map((n) => n.name)).not.toContain('jest-compose-example_default')
  } finally {
    await destroyRuntime(runtime)
  }
}, 300_000)
