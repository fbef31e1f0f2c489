/**
 * `rm: true` in a program whose last work is `await c.wait()`: Docker's daemon removes the container
 * whatever the client does next; here the program's own Node process does, so it must not exit before
 * the removal is finished (the shim's socket does not keep Node alive). Runs the built package
 * (npm run build) in a child `node`, as a user's script would.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { Runtime } from '../../lib'
import { busyboxImage, destroyRuntime, tempRuntime } from '../helpers'

jest.setTimeout(120_000)

const dist = path.join(__dirname, '../../dist/index.js')

const script = `
const { run, Runtime } = require(${JSON.stringify(dist)})
;(async () => {
  const runtime = new Runtime({ root: process.env.ROOT })
  const c = await run('bb', ['true'], { runtime, rm: true, network: 'none' })
  await c.wait()
})()
`

let runtime: Runtime
beforeAll(async () => {
  runtime = tempRuntime('mc-rm-exit-')
  await busyboxImage(runtime)
})
afterAll(() => destroyRuntime(runtime))

/** What is left under the root of containers (names/.lock is the names' lock, kept like names/ itself). */
function leftovers(): string[] {
  const under = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => path.join(dir, f)) : [])
  const names = under(path.join(runtime.root, 'names')).filter((f) => path.basename(f) !== '.lock')
  return [...under(path.join(runtime.root, 'containers')), ...under(path.join(runtime.root, 'trash')), ...names]
}

test("a process whose last work is await c.wait() on an rm: true container exits only once the container's files are gone", () => {
  expect(fs.existsSync(dist)).toBe(true) // the script loads the built package (npm run build)
  for (let i = 0; i < 10; i++) {
    execFileSync(process.execPath, ['-e', script], { env: { ...process.env, ROOT: runtime.root }, stdio: 'inherit' })
    expect(leftovers()).toEqual([])
  }
})
