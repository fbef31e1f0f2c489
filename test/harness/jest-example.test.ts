/**
 * The jest example (examples/jest/) runs as CI runs it: its own jest
 * project, whose globalSetup starts redis-server and nginx with wait
 * strategies and reuse, tests in three files use them, and globalTeardown
 * removes them. On a private runtime root; nothing may be left behind.
 */
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Container, Runtime } from '../../lib'
import { tempRuntime } from '../helpers'

const repo = path.resolve(__dirname, '../..')

function jestProject(root: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const jest = path.join(repo, 'node_modules/jest/bin/jest.js')
    execFile(process.execPath, [jest, '-c', 'examples/jest/jest.config.js'], { cwd: repo, env: { ...process.env, MINICONTAINER_ROOT: root }, timeout: 240_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr })
    })
  })
}

test('examples/jest: globalSetup, three test files sharing redis and nginx, globalTeardown', async () => {
  expect(fs.existsSync(path.join(repo, 'dist/index.js'))).toBe(true) // the example loads the built package (npm run build)
  const runtime: Runtime = tempRuntime()
  try {
    const { code, output } = await jestProject(runtime.root)
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
