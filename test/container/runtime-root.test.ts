/**
 * `new Runtime({ root })` with roots a careless caller gives: each bad one
 * is one coded error at once (issue 17 point 12), and nothing is made. The
 * constructor runs in a child process with a timeout and its own working
 * directory: a root under /proc looped forever, and root '' filled the
 * working directory with store folders.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { nodeScript } from '../tools/node-child'

let work: string

beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rootopt-'))
})
afterEach(() => fs.rmSync(work, { recursive: true, force: true }))

/** What `new Runtime({ root })` throws for each root, from a child in `cwd`: { code, name, message } or "ok". */
function tryRoots(roots: unknown[], cwd: string): unknown[] {
  const body = `
    const { Runtime, MiniContainerError } = lib()
    const out = []
    for (const root of JSON.parse(process.argv[1])) {
      try {
        new Runtime({ root })
        out.push('ok')
      } catch (err) {
        out.push(err instanceof MiniContainerError ? { code: err.code, message: err.message } : { raw: String(err) })
      }
    }
    console.log(JSON.stringify(out))`
  const r = spawnSync(process.execPath, ['-e', nodeScript(body), JSON.stringify(roots)], { cwd, encoding: 'utf8', timeout: 20_000 })
  if (r.status !== 0) throw new Error(`the child failed (${r.status ?? r.signal}, stuck?): ${r.stderr}`)
  return JSON.parse(r.stdout)
}

test('a root under /proc is refused at once (it looped forever in mkdirSync)', () => {
  const started = Date.now()
  expect(tryRoots(['/proc/mc-no-such/root', '/proc'], work)).toEqual([
    { code: 'EINVALID', message: expect.stringContaining('/proc/mc-no-such/root') },
    { code: 'EINVALID', message: expect.stringContaining('cannot use /proc as the runtime root') },
  ])
  expect(Date.now() - started).toBeLessThan(15_000)
})

test('a file, a path through a file, a NUL and an empty root are coded errors; nothing is made', () => {
  const file = path.join(work, 'file')
  fs.writeFileSync(file, 'x')
  const cwd = path.join(work, 'cwd')
  fs.mkdirSync(cwd)
  expect(tryRoots([file, `${file}/sub`, `${work}/a\0b`, '', 42], cwd)).toEqual([
    { code: 'ENOTDIR', message: expect.stringContaining(`cannot use ${file} as the runtime root`) },
    { code: 'ENOTDIR', message: expect.stringContaining(`${file}/sub`) },
    { code: 'EINVALID', message: expect.stringContaining('NUL') },
    { code: 'EINVALID', message: expect.stringContaining('non-empty path') },
    { code: 'EINVALID', message: expect.stringContaining('non-empty path') },
  ])
  expect(fs.readdirSync(cwd)).toEqual([])
  expect(fs.readdirSync(work).sort()).toEqual(['cwd', 'file'])
})

test('a root on a read-only file system is EROFS, missing or existing', () => {
  const ro = path.join(work, 'ro')
  fs.mkdirSync(ro)
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro])
  try {
    expect(tryRoots([path.join(ro, 'root'), ro], work)).toEqual([
      { code: 'EROFS', message: expect.stringContaining(path.join(ro, 'root')) },
      { code: 'EROFS', message: expect.stringContaining('writable') },
    ])
  } finally {
    execFileSync('umount', [ro])
  }
})

test('a missing root several levels deep is still made', () => {
  const deep = path.join(work, 'a', 'b', 'c')
  expect(tryRoots([deep], work)).toEqual(['ok'])
  expect(fs.statSync(deep).isDirectory()).toBe(true)
  expect(fs.statSync(deep).mode & 0o777).toBe(0o711)
})
