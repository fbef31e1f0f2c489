/**
 * Removing a tree whose shape someone else chose (a container's writable layer): native/tree-remove.c
 * holds one fd at a time, so no depth exhausts the remover's fds, memory or stack; it never follows a
 * symlink, and removes every kind of entry at every level.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { removeTreeOffThread } from '../../lib/sys/removals'
import { nodeScript } from '../tools/node-child'

jest.setTimeout(120_000)
let work: string

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-tree-remove-'))
})

afterAll(() => {
  // By GNU rm (an observer's tool): a tree left by a failed test is past PATH_MAX, too deep for fs.rmSync.
  execFileSync('rm', ['-rf', work])
})

/** Makes a chain of `depth` directories `d` below `top` (by chdir: its path is longer than PATH_MAX), with a file, a fifo's stand-in and a symlink at every level. */
function deepChain(top: string, depth: number): void {
  const r = spawnSync(process.execPath, ['-e', `
    const fs = require('node:fs')
    fs.mkdirSync(${JSON.stringify(top)})
    process.chdir(${JSON.stringify(top)})
    for (let i = 0; i < ${depth}; i++) {
      fs.writeFileSync('f', String(i))
      fs.symlinkSync('/', 'root-link')
      fs.mkdirSync('side')
      fs.writeFileSync('side/g', '')
      fs.mkdirSync('d')
      process.chdir('d')
    }
    fs.writeFileSync('bottom', '')`], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(r.stderr)
}

test('a chain 3,000 directories deep (past PATH_MAX, entries beside each level) goes with 128 fds allowed', () => {
  const top = path.join(work, 'deep')
  deepChain(top, 3000)
  // A walk holding an fd per level needs 3,000: the remover gets 128 (prlimit, an observer's tool).
  const script = nodeScript(`require(${JSON.stringify(path.resolve(__dirname, '../../lib/sys/removals'))}).removeTreeOffThread(${JSON.stringify(top)})
    .then(() => console.log('removed'), (e) => { console.error(e.code, e.message); process.exit(1) })`)
  const r = spawnSync('prlimit', ['--nofile=128', process.execPath, '-e', script], { encoding: 'utf8' })
  expect(r.error).toBeUndefined()
  expect({ status: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() }).toEqual({ status: 0, stdout: 'removed', stderr: '' })
  expect(fs.existsSync(top)).toBe(false)
})

test('symlinks at every level are removed, never followed: what they point at stays', async () => {
  const outside = path.join(work, 'outside')
  fs.mkdirSync(outside)
  fs.writeFileSync(path.join(outside, 'keep'), 'kept')
  const top = path.join(work, 'links')
  deepChain(top, 100)
  let dir = top
  for (let i = 0; i < 100; i += 7) {
    fs.symlinkSync(outside, path.join(dir, 'to-outside'))
    dir = path.join(dir, ...Array<string>(7).fill('d'))
  }
  await removeTreeOffThread(top)
  expect(fs.existsSync(top)).toBe(false)
  expect(fs.readdirSync(outside)).toEqual(['keep'])
  expect(fs.readFileSync(path.join(outside, 'keep'), 'utf8')).toBe('kept')
})

test('a wide tree (200 directories of 20 entries each, two levels) and a missing tree both resolve', async () => {
  const top = path.join(work, 'wide')
  for (let i = 0; i < 200; i++) {
    const d = path.join(top, `dir${i}`, 'inner')
    fs.mkdirSync(d, { recursive: true })
    for (let j = 0; j < 20; j++) fs.writeFileSync(path.join(d, `f${j}`), '')
  }
  await removeTreeOffThread(top)
  expect(fs.existsSync(top)).toBe(false)
  await expect(removeTreeOffThread(top)).resolves.toBeUndefined()
})
