// tmpfs and read-only root in real containers: size and mode honoured, memory-backed, never on disk.
import * as fs from 'node:fs'
import { run } from '../../lib'
import { e2eRuntime, mountImage, sh } from './e2e-helpers'

const { runtime, destroy } = e2eRuntime()

beforeAll(async () => {
  await mountImage(runtime)
})
afterAll(() => destroy())

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true }).map(String)
}

describe('tmpfs', () => {
  test('size and mode are honoured; it is a tmpfs', async () => {
    const r = await sh(runtime, "stat -c '%a' /run /priv; grep -E ' /(run|priv) ' /proc/mounts", { tmpfs: { '/run': 'size=64m,mode=1777', '/priv': 'mode=750,size=1m' } })
    expect(r.out).toMatch(/^1777\n750\ntmpfs \/run tmpfs rw,nosuid,nodev,.*size=65536k.*\ntmpfs \/priv tmpfs rw,nosuid,nodev,.*size=1024k,.*mode=750/)
  })

  test('writing past the size fails with ENOSPC', async () => {
    const r = await sh(runtime, 'dd if=/dev/zero of=/small/f bs=1024 count=2048; echo rc=$?', { mounts: [{ type: 'tmpfs', target: '/small', tmpfsSize: 1024 * 1024, tmpfsMode: 0o700 }] })
    expect(r.out).toMatch(/No space left on device[\s\S]*rc=1\n$/)
  })

  test('files written to a tmpfs never reach the container layer on disk', async () => {
    const c = await run('mnt', ['sh', '-c', 'echo in-memory > /scratch/secret-tmpfs-file && echo on-disk > /disk-file'], { runtime, tmpfs: ['/scratch:size=1m'] })
    try {
      expect(await c.wait()).toEqual({ exitCode: 0 })
      const upper = (await c.inspect()).graphDriver.data.upperDir
      const files = walk(upper)
      expect(files).toContain('disk-file')
      expect(files.join('\n')).not.toContain('secret-tmpfs-file')
    } finally {
      await c.remove()
    }
  })

  test('noexec and ro options', async () => {
    const r = await sh(runtime, 'cp /bin/busybox /x/bb && /x/bb true; echo rc=$?; grep " /x " /proc/mounts; touch /y/f; echo rc=$?', { tmpfs: { '/x': 'noexec', '/y': 'ro' } })
    expect(r.out).toMatch(/Permission denied\nrc=126\ntmpfs \/x tmpfs rw,nosuid,nodev,noexec/)
    expect(r.out).toMatch(/Read-only file system\nrc=1\n$/)
  })
})

describe('read-only root', () => {
  test('writes outside mounts fail with EROFS; volumes and tmpfs stay writable', async () => {
    const host = fs.mkdtempSync(`${runtime.root}/host-`)
    const r = await sh(runtime, 'touch /root-file; echo rc=$?; touch /tmp/t; echo rc=$?; echo a > /bind/f && echo b > /vol/f && echo c > /run/f && echo writable', {
      readOnly: true, volumes: [`${host}:/bind`, '/vol'], tmpfs: { '/run': '' },
    })
    expect(r.out).toMatch(/^.*Read-only file system\nrc=1\n.*Read-only file system\nrc=1\nwritable\n$/s)
    expect(fs.readFileSync(`${host}/f`, 'utf8')).toBe('a\n')
  })
})
