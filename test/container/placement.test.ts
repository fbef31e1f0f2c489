/**
 * Where a root's containers land on disk (lib/sys/file-flags.ts): ext4 picks
 * a new inode in its parent's block group, skipping every inode of that group
 * deleted in its last minutes, so creates in a group that containers (or the
 * rest of /tmp) churn cost ~10x those in a quiet one. The root and its
 * containers/ carry the top-directory flag: each container directory gets a
 * group of its own.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, Runtime } from '../../lib'
import { busyboxImage, destroyRuntime } from '../helpers'

const flagsOf = (dir: string) => execFileSync('lsattr', ['-d', dir], { encoding: 'utf8' }).split(' ')[0]
const onExt4 = execFileSync('stat', ['-f', '-c', '%T', os.tmpdir()], { encoding: 'utf8' }).trim() === 'ext2/ext3'

;(onExt4 ? test : test.skip)('the root and its containers/ carry ext4\'s top-directory flag (chattr +T), its names/ does not; container directories spread over the block groups', async () => {
  const runtime = new Runtime({ root: fs.mkdtempSync(path.join(os.tmpdir(), 'mc-placement-')) })
  try {
    expect(flagsOf(runtime.root)).toContain('T')
    expect(flagsOf(path.join(runtime.root, 'containers'))).toContain('T')
    expect(flagsOf(path.join(runtime.root, 'names'))).not.toContain('T')
    await busyboxImage(runtime)
    const cs = await Promise.all(Array.from({ length: 8 }, () => Container.create('bb', ['true'], { runtime })))
    // Inode numbers far apart (groups hold a few thousand inodes): not all in one group with the root.
    const inodes = cs.map((c) => fs.statSync(path.join(runtime.root, 'containers', c.id)).ino)
    expect(Math.max(...inodes) - Math.min(...inodes)).toBeGreaterThan(100_000)
    for (const c of cs) await c.remove()
  } finally {
    await destroyRuntime(runtime)
  }
})

test('a root on a filesystem without the flag (tmpfs) opens and runs as any other', async () => {
  const runtime = new Runtime({ root: fs.mkdtempSync('/dev/shm/mc-placement-') })
  try {
    await busyboxImage(runtime)
    const c = await Container.create('bb', ['true'], { runtime })
    await c.start()
    expect((await c.wait()).exitCode).toBe(0)
    await c.remove()
  } finally {
    await destroyRuntime(runtime)
  }
})
