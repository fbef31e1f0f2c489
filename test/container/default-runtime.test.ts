// Runtime.default() and $MINICONTAINER_ROOT, in a child process (the default runtime is process-wide).
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { nodeOutput } from '../tools/node-child'

let root: string

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-default-root-'))
})
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))

test('with MINICONTAINER_ROOT set, the module-level API keeps all its state under that root', () => {
  const out = nodeOutput(
    `const { Runtime, Image, Container, run } = lib();
    (async () => {
      const rt = Runtime.default()
      await Image.fromHost()
      const c = await run('host', ['sh', '-c', 'echo from-default'], { name: 'on-default', network: 'none' })
      await c.wait()
      const listed = (await Container.list({ all: true })).map((x) => x.name)
      const logFile = require('path').join(rt.root, 'containers', c.id, c.id + '-json.log')
      const log = require('fs').readFileSync(logFile, 'utf8').trim().split(String.fromCharCode(10)).map((l) => JSON.parse(l).log).join('')
      await c.remove()
      const same = Runtime.default() === rt
      await rt.close()
      // A closed default is replaced by a new runtime on the same root: the module-level API goes on.
      const after = await run('host', ['true'], { network: 'none' })
      const renewed = Runtime.default() !== rt && Runtime.default().root === rt.root && (await after.wait()).exitCode === 0
      await after.remove()
      await Runtime.default().close()
      console.log(JSON.stringify({ root: rt.root, same, renewed, listed, log, images: (await Image.list()).flatMap((i) => i.refs) }))
    })().catch((e) => { console.error(e); process.exit(1) })`,
    { env: { MINICONTAINER_ROOT: root } },
  )
  expect(JSON.parse(out)).toEqual({ root, same: true, renewed: true, listed: ['on-default'], log: 'from-default\n', images: ['host:latest'] })
  // The image the child made is on disk under the root it was given.
  expect(fs.readdirSync(path.join(root, 'images')).filter((f) => f.endsWith('.json'))).toHaveLength(1)
  expect(fs.readdirSync(path.join(root, 'refs'))).toHaveLength(1)
})

test('a relative MINICONTAINER_ROOT is resolved against the working directory', () => {
  const rel = path.relative(process.cwd(), path.join(root, 'rel'))
  const out = nodeOutput(`console.log(lib().Runtime.default().root)`, { env: { MINICONTAINER_ROOT: rel } })
  expect(out.trim()).toBe(path.join(root, 'rel'))
  expect(fs.statSync(path.join(root, 'rel')).isDirectory()).toBe(true)
})
