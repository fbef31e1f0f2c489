// Extended attributes across the container wall, as Docker carries them: docker cp and GET /archive
// keep file capabilities only (Docker's archives read security.capability alone); PUT /archive sets
// every attribute of the archive's PAX records except overlay's own marks. GNU tar, getcap and
// getfattr are the independent producers and observers.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Readable } from 'node:stream'
import { copyFrom, copyTo, getArchive, putArchive } from '../../lib/files'
import { attrs, requireXattrTools, sh } from '../image/xattr-fixture'
import { Scratch } from './helpers'

const scratch = new Scratch()
afterEach(() => scratch.cleanup(() => {}))
beforeAll(requireXattrTools)

/** A file with a capability and a user.* attribute, as a host tool would leave it. */
function capFile(dir: string): string {
  const f = path.join(dir, 'pinger')
  fs.writeFileSync(f, '#!/bin/sh\n', { mode: 0o755 })
  sh('setcap', ['cap_net_raw+ep', f])
  sh('setfattr', ['-n', 'user.note', '-v', 'kept-by-tar-only', f])
  return f
}

const caps = (f: string) => sh('getcap', [f]).trim()
const withoutOverlayMarks = (dump: string) => dump.split('\n').filter((l) => !/^(trusted|user)\.overlay\./.test(l)).join('\n')

describe.each(['copyTo', 'copyFrom'] as const)('%s', (direction) => {
  test('keeps the file capability and, like docker cp, no other attribute', async () => {
    const host = scratch.dir('mc-xattr-host-')
    const root = scratch.dir('mc-xattr-root-')
    if (direction === 'copyTo') {
      capFile(host)
      await copyTo(root, path.join(host, 'pinger'), '/pinger')
    } else {
      capFile(root)
      await copyFrom(root, '/pinger', path.join(host, 'copied'))
    }
    const out = direction === 'copyTo' ? path.join(root, 'pinger') : path.join(host, 'copied')
    expect(caps(out)).toMatch(/cap_net_raw=ep$/)
    expect(attrs(out)).not.toContain('user.note')
  })

  test('a directory copy keeps the capability of the files inside it', async () => {
    const host = scratch.dir('mc-xattr-host-')
    const root = scratch.dir('mc-xattr-root-')
    const src = direction === 'copyTo' ? host : root
    fs.mkdirSync(path.join(src, 'tools'))
    capFile(path.join(src, 'tools'))
    if (direction === 'copyTo') await copyTo(root, path.join(host, 'tools'), '/tools')
    else await copyFrom(root, '/tools', path.join(host, 'tools'))
    const dst = direction === 'copyTo' ? root : host
    expect(caps(path.join(dst, 'tools/pinger'))).toMatch(/cap_net_raw=ep$/)
  })
})

test('getArchive writes the capability as a PAX record that GNU tar restores, and no user.* attribute', async () => {
  const root = scratch.dir('mc-xattr-root-')
  const out = scratch.dir('mc-xattr-out-')
  capFile(root)
  const { stream } = await getArchive(root, '/pinger')
  const tarFile = path.join(out, 'a.tar')
  await fs.promises.writeFile(tarFile, stream)
  sh('tar', ['--xattrs', "--xattrs-include=*", '-xpf', tarFile, '-C', out])
  expect(caps(path.join(out, 'pinger'))).toMatch(/cap_net_raw=ep$/)
  expect(attrs(path.join(out, 'pinger'))).not.toContain('user.note')
})

test("putArchive sets the archive's xattrs (GNU tar's PAX records), never overlay's own marks, also on a merged directory", async () => {
  const src = scratch.dir('mc-xattr-src-')
  const root = scratch.dir('mc-xattr-root-')
  fs.mkdirSync(path.join(src, 'data'))
  capFile(path.join(src, 'data'))
  sh('setfattr', ['-n', 'trusted.mc', '-v', '0x80', path.join(src, 'data/pinger')])
  sh('setfattr', ['-n', 'user.dir', '-v', '0x01ff', path.join(src, 'data')])
  // Forged marks: an archive must not make an opaque directory or a redirect in the container.
  sh('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(src, 'data')])
  sh('setfattr', ['-n', 'user.overlay.redirect', '-v', '/etc', path.join(src, 'data/pinger')])
  const tarFile = path.join(scratch.dir('mc-xattr-tar-'), 'in.tar')
  sh('tar', ['--xattrs', '--xattrs-include=*', '-C', src, '-cf', tarFile, 'data'])

  // Into an empty dir (the directory is new) and into one that already has data/ (merged).
  fs.mkdirSync(path.join(root, 'fresh'))
  fs.mkdirSync(path.join(root, 'merge/data'), { recursive: true })
  fs.writeFileSync(path.join(root, 'merge/data/old'), 'kept')
  for (const dir of ['fresh', 'merge']) {
    await putArchive(root, `/${dir}`, Readable.from([fs.readFileSync(tarFile)]))
    const d = path.join(root, dir, 'data')
    expect(caps(path.join(d, 'pinger'))).toMatch(/cap_net_raw=ep$/)
    expect(attrs(path.join(d, 'pinger'))).toBe(withoutOverlayMarks(attrs(path.join(src, 'data/pinger'))))
    expect(attrs(d)).toBe('user.dir=0x01ff')
    expect(attrs(path.join(d, 'pinger'))).toMatch(/^security\.capability=0x/m)
  }
  expect(fs.readFileSync(path.join(root, 'merge/data/old'), 'utf8')).toBe('kept')
})
