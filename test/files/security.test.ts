// A hostile container: symlinks and `..` that point out of the root, and symlinks swapped while a copy runs.
import { spawn, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { copyFrom, copyTo, getArchive, putArchive, statPath } from '../../lib/files'
import { Scratch, leftovers, snapshot } from './helpers'

const scratch = new Scratch()
afterEach(() => scratch.cleanup(() => {}))

/** A host directory outside every root, with a secret file; must stay exactly as it is. */
function canary(): { dir: string; secret: string; check(): void } {
  const dir = scratch.dir('mc-canary-')
  const secret = path.join(dir, 'secret')
  fs.writeFileSync(secret, 'HOST SECRET')
  const before = snapshot(dir, { withDirTimes: true })
  const dirMtime = fs.statSync(dir).mtimeMs
  return {
    dir,
    secret,
    check() {
      expect(snapshot(dir, { withDirTimes: true })).toEqual(before)
      expect(fs.statSync(dir).mtimeMs).toBe(dirMtime)
    },
  }
}

function containsSecret(dir: string): boolean {
  if (!fs.existsSync(dir)) return false
  const st = fs.lstatSync(dir)
  if (st.isFile()) return fs.readFileSync(dir, 'utf8').includes('HOST SECRET')
  if (!st.isDirectory()) return false
  return fs.readdirSync(dir).some((n) => containsSecret(path.join(dir, n)))
}

describe('copyTo: the destination never leaves the root', () => {
  test('absolute symlink /etc in the root resolves inside the root', async () => {
    const c = canary()
    const root = scratch.dir('mc-files-root-')
    const host = scratch.dir('mc-files-host-')
    fs.writeFileSync(path.join(host, 'f'), 'payload')
    fs.symlinkSync(c.dir, path.join(root, 'evil')) // absolute host path
    // Inside the root, c.dir does not exist: the parent is missing.
    await expect(copyTo(root, path.join(host, 'f'), '/evil/pwned')).rejects.toMatchObject({ code: 'ENOTDIR' })
    await expect(copyTo(root, path.join(host, 'f'), '/evil/')).rejects.toMatchObject({ code: 'ENOTDIR' })
    // Once it exists inside the root, that is where the file lands.
    fs.mkdirSync(path.join(root, c.dir), { recursive: true })
    await copyTo(root, path.join(host, 'f'), '/evil/pwned')
    expect(fs.readFileSync(path.join(root, c.dir, 'pwned'), 'utf8')).toBe('payload')
    c.check()
  })

  test('a symlink named as the destination is followed inside the root', async () => {
    const c = canary()
    const root = scratch.dir('mc-files-root-')
    const host = scratch.dir('mc-files-host-')
    fs.writeFileSync(path.join(host, 'f'), 'payload')
    fs.symlinkSync(c.secret, path.join(root, 'target')) // -> host secret file (absolute)
    fs.mkdirSync(path.join(root, c.dir), { recursive: true })
    await copyTo(root, path.join(host, 'f'), '/target')
    expect(fs.readFileSync(path.join(root, c.secret), 'utf8')).toBe('payload')
    c.check()
  })

  test('../../.. chains are clamped at the root', async () => {
    const c = canary()
    const root = scratch.dir('mc-files-root-')
    const host = scratch.dir('mc-files-host-')
    fs.writeFileSync(path.join(host, 'f'), 'payload')
    const rel = path.relative('/', c.dir)
    await expect(copyTo(root, path.join(host, 'f'), `/../../../../${rel}/x`)).rejects.toMatchObject({ code: 'ENOTDIR' })
    fs.mkdirSync(path.join(root, 'a', 'b'), { recursive: true })
    fs.symlinkSync('../../../../../../../..', path.join(root, 'a', 'b', 'up')) // relative chain
    fs.symlinkSync('/a/b/up/../..', path.join(root, 'chain'))
    await expect(copyTo(root, path.join(host, 'f'), `/chain/${rel}/x`)).rejects.toMatchObject({ code: 'ENOTDIR' })
    await expect(copyTo(root, path.join(host, 'f'), `/a/b/up/${rel}/secret`)).rejects.toMatchObject({ code: 'ENOTDIR' })
    fs.mkdirSync(path.join(root, rel), { recursive: true })
    await copyTo(root, path.join(host, 'f'), `/chain/${rel}/secret`)
    expect(fs.readFileSync(path.join(root, rel, 'secret'), 'utf8')).toBe('payload')
    c.check()
  })

  test('a symlinked parent dir pointing out (relative and absolute) stays inside', async () => {
    const c = canary()
    const root = scratch.dir('mc-files-root-')
    const host = scratch.dir('mc-files-host-')
    fs.mkdirSync(path.join(host, 'tree'))
    fs.writeFileSync(path.join(host, 'tree', 'secret'), 'overwritten?')
    fs.symlinkSync(path.relative(root, c.dir), path.join(root, 'rel')) // ../mc-canary-xxx
    fs.symlinkSync(c.dir, path.join(root, 'abs'))
    for (const dest of ['/rel', '/abs', '/rel/', '/abs/.']) {
      // Resolved inside the root the target is missing: a new dir named after the link target inside the root, never the canary.
      await copyTo(root, path.join(host, 'tree'), dest).catch(() => {})
    }
    c.check()
    expect(leftovers(root)).toEqual([])
  })
})

describe('copyFrom: the source never leaves the root', () => {
  test('symlinks to host files are copied as links, or resolved inside the root with followLink', async () => {
    const c = canary()
    const root = scratch.dir('mc-files-root-')
    const host = scratch.dir('mc-files-host-')
    fs.symlinkSync(c.secret, path.join(root, 'leak'))
    fs.symlinkSync(c.dir, path.join(root, 'leakdir'))
    fs.symlinkSync(`../../../../../../..${c.dir}`, path.join(root, 'relleak'))
    await copyFrom(root, '/leak', path.join(host, 'l1'))
    expect(fs.readlinkSync(path.join(host, 'l1'))).toBe(c.secret)
    await expect(copyFrom(root, '/leak', path.join(host, 'l2'), { followLink: true })).rejects.toMatchObject({ code: 'ENOTFOUND' })
    await expect(copyFrom(root, '/leakdir/secret', path.join(host, 'l3'))).rejects.toMatchObject({ code: 'ENOTFOUND' })
    await expect(copyFrom(root, '/relleak/secret', path.join(host, 'l4'))).rejects.toMatchObject({ code: 'ENOTFOUND' })
    await expect(copyFrom(root, '/leakdir/', path.join(host, 'l5'))).rejects.toMatchObject({ code: 'ENOTFOUND' })
    await expect(copyFrom(root, `/../../../..${c.secret}`, path.join(host, 'l6'))).rejects.toMatchObject({ code: 'ENOTFOUND' })
    await expect(statPath(root, '/leakdir/secret')).rejects.toMatchObject({ code: 'ENOTFOUND' })
    await expect(getArchive(root, '/relleak/')).rejects.toMatchObject({ code: 'ENOTFOUND' })
    expect((await statPath(root, '/leak')).linkTarget).toBe(c.secret) // named, inside the container's view
    expect(containsSecret(host)).toBe(false)
    c.check()
  })

  test('a tree with links to / is copied without following them', async () => {
    const root = scratch.dir('mc-files-root-')
    const host = scratch.dir('mc-files-host-')
    fs.mkdirSync(path.join(root, 'd'))
    fs.symlinkSync('/', path.join(root, 'd', 'slash'))
    fs.symlinkSync('../../../../..', path.join(root, 'd', 'up'))
    await copyFrom(root, '/d', path.join(host, 'out'))
    expect(fs.readdirSync(path.join(host, 'out')).sort()).toEqual(['slash', 'up'])
    expect(fs.lstatSync(path.join(host, 'out', 'slash')).isSymbolicLink()).toBe(true)
  })
})

/**
 * Runs a child process that flips `link` between a real directory inside the
 * root and symlinks to the host canary (absolute, and as a `..` chain), as
 * fast as it can, until killed.
 */
function flipper(root: string, canaryDir: string): ChildProcess {
  const script = `
    const fs = require('fs'), path = require('path')
    const [root, canary] = process.argv.slice(1)
    const sw = path.join(root, 'sw'), real = path.join(root, 'real'), tmp = path.join(root, 'swtmp')
    const rel = '../../../../../../../..' + canary
    for (let i = 0; ; i++) {
      try {
        fs.renameSync(real, sw)           // sw is the real dir
        fs.renameSync(sw, real)
        fs.symlinkSync(i % 2 ? canary : rel, tmp)
        fs.renameSync(tmp, sw)            // sw points at the host canary
        fs.unlinkSync(sw)
        fs.symlinkSync('/', tmp)
        fs.renameSync(tmp, sw)            // sw points at /
        fs.unlinkSync(sw)
      } catch {}
    }`
  return spawn(process.execPath, ['-e', script, root, canaryDir], { stdio: 'ignore' })
}

/** Waits until the flipper has visibly started (sw seen both as the real dir and as a link). */
async function flipping(root: string): Promise<void> {
  const deadline = Date.now() + 20_000
  let sawDir = false
  let sawLink = false
  while (!(sawDir && sawLink)) {
    if (Date.now() > deadline) throw new Error('the flipper process did not start')
    const st = fs.lstatSync(path.join(root, 'sw'), { throwIfNoEntry: false })
    if (st?.isDirectory()) sawDir = true
    if (st?.isSymbolicLink()) sawLink = true
    await new Promise((r) => setImmediate(r))
  }
}

test('a symlink swapped in a tight loop while copies run never reads or writes outside the root', async () => {
  const c = canary()
  const root = scratch.dir('mc-files-root-')
  const host = scratch.dir('mc-files-host-')
  fs.mkdirSync(path.join(root, 'real', 'sub'), { recursive: true })
  fs.writeFileSync(path.join(root, 'real', 'secret'), 'container data')
  for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(root, 'real', 'sub', `f${i}`), `${i}`)
  fs.writeFileSync(path.join(host, 'payload'), 'PAYLOAD')
  const child = flipper(root, c.dir)
  try {
    await flipping(root)
    let ok = 0
    const until = Date.now() + 1500
    for (let i = 0; i < 300 || Date.now() < until; i++) {
      const results = await Promise.allSettled([
        copyFrom(root, '/sw/secret', path.join(host, `out-file-${i}`)),
        copyFrom(root, '/sw', path.join(host, `out-dir-${i}`), { followLink: i % 2 === 0 }),
        copyFrom(root, '/sw/.', path.join(host, `out-dot-${i}`)),
        copyTo(root, path.join(host, 'payload'), `/sw/secret`),
        copyTo(root, path.join(host, 'payload'), `/sw/new-${i}`),
        statPath(root, '/sw/secret'),
      ])
      ok += results.filter((r) => r.status === 'fulfilled').length
    }
    expect(ok).toBeGreaterThan(0) // the race was real: some copies went through
  } finally {
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
  }
  expect(containsSecret(host)).toBe(false)
  c.check()
  expect(leftovers(root)).toEqual([])
})

test('putArchive into a swapping directory stays inside the root', async () => {
  const c = canary()
  const root = scratch.dir('mc-files-root-')
  fs.mkdirSync(path.join(root, 'real'))
  const tar = await import('tar-stream')
  const pack = tar.pack()
  pack.entry({ name: 'secret' }, 'PUT PAYLOAD')
  pack.entry({ name: 'd/', type: 'directory' })
  pack.entry({ name: 'd/x' }, 'x')
  pack.finalize()
  const chunks: Buffer[] = []
  for await (const ch of pack) chunks.push(ch as Buffer)
  const archive = Buffer.concat(chunks)
  const child = flipper(root, c.dir)
  try {
    await flipping(root)
    for (let i = 0; i < 200; i++) await putArchive(root, '/sw', archive).catch(() => {})
  } finally {
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
  }
  c.check()
})
