// upperAsUnpackedLayer on an upper dir whose files refuse the changes it makes (an attribute removed,
// an mtime truncated): the dir is not adoptable and the caller stores the layer from its tar, which
// only reads it, instead of the step failing ESYSCALL. An immutable file (chattr +i) stands in for
// what refuses on other hosts: SELinux refuses every removal of security.selinux (EACCES), which
// every file of an upper dir on such a host carries. chattr and setfattr are the independent tools.
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { diskUsage } from '../../lib/files/disk-usage'
import { upperAsUnpackedLayer } from '../../lib/files/upper-as-layer'
import { Scratch } from './helpers'

const scratch = new Scratch()
const immutable: string[] = []
afterEach(() => {
  for (const f of immutable.splice(0)) execFileSync('chattr', ['-i', f])
  scratch.cleanup(() => {})
})

/** An upper dir holding one file with a copy-up mark (an attribute the tar drops), made immutable. */
function upperWithImmutableFile(): { dir: string; file: string } {
  const dir = scratch.dir('mc-upper-as-layer-')
  const file = path.join(dir, 'kept')
  fs.writeFileSync(file, 'data\n')
  execFileSync('setfattr', ['-n', 'trusted.overlay.origin', '-v', '0x00', file])
  execFileSync('chattr', ['+i', file])
  immutable.push(file)
  return { dir, file }
}

test('an upper dir whose file refuses the removal of an attribute is not adoptable (the tar path stores it), not a failed step', () => {
  const { dir, file } = upperWithImmutableFile()
  expect(upperAsUnpackedLayer(dir)).toBeUndefined()
  expect(fs.readFileSync(file, 'utf8')).toBe('data\n')
})

test('an upper dir whose file refuses its mtime truncated is not adoptable, not a failed step', () => {
  const dir = scratch.dir('mc-upper-as-layer-')
  const file = path.join(dir, 'kept')
  fs.writeFileSync(file, 'data\n')
  fs.utimesSync(file, new Date(1_700_000_000_500), new Date(1_700_000_000_500)) // sub-second: truncated to the tar's seconds
  execFileSync('chattr', ['+i', file])
  immutable.push(file)
  expect(upperAsUnpackedLayer(dir)).toBeUndefined()
})

// Made where an overlay had redirect_dir or metacopy on (a distribution's module defaults; the runtime
// turns both off): the entry's content is in a lower, which neither the adopted dir nor its tar holds.
test.each([
  ['trusted.overlay.metacopy', 'file'],
  ['trusted.overlay.redirect', 'dir'],
  ['user.overlay.metacopy', 'file'],
  ['user.overlay.redirect', 'dir'],
])('an upper dir holding a %s mark (on a %s) is not adoptable', (mark, kind) => {
  const dir = scratch.dir('mc-upper-as-layer-')
  const entry = path.join(dir, 'moved')
  if (kind === 'dir') fs.mkdirSync(entry)
  else fs.writeFileSync(entry, '')
  execFileSync('setfattr', ['-n', mark, '-v', kind === 'dir' ? '/lower/path' : '0x00', entry])
  expect(upperAsUnpackedLayer(dir)).toBeUndefined()
  expect(execFileSync('getfattr', ['-n', mark, '--only-values', entry])).toHaveLength(kind === 'dir' ? 11 : 1)
})

test("an upper dir holding an opaque mark other than overlay's \"y\", longer than 256 bytes, is not adoptable, not a failed step", () => {
  const dir = scratch.dir('mc-upper-as-layer-')
  const entry = path.join(dir, 'hidden')
  fs.mkdirSync(entry)
  execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'x'.repeat(300), entry])
  expect(upperAsUnpackedLayer(dir)).toBeUndefined()
  expect(execFileSync('getfattr', ['-n', 'trusted.overlay.opaque', '--only-values', entry])).toHaveLength(300)
})

test("an adoptable upper dir's size is counted on the same walk, as diskUsage counts it: regular files and symlinks, a hard-linked file once", async () => {
  const dir = scratch.dir('mc-upper-as-layer-')
  fs.mkdirSync(path.join(dir, 'd/e'), { recursive: true })
  fs.writeFileSync(path.join(dir, 'd/e/f'), 'x'.repeat(1000))
  fs.linkSync(path.join(dir, 'd/e/f'), path.join(dir, 'hard'))
  fs.symlinkSync('d/e/f', path.join(dir, 'link'))
  fs.writeFileSync(path.join(dir, 'small'), 'abc')
  execFileSync('mkfifo', [path.join(dir, 'fifo')])
  const expected = 1000 + 'd/e/f'.length + 3
  expect(await diskUsage(dir)).toBe(expected)
  expect(upperAsUnpackedLayer(dir)).toBe(expected)
})
