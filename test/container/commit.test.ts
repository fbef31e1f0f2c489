import { execFileSync } from 'node:child_process'
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { buffer } from 'node:stream/consumers'
import { Image, run, type Runtime } from '../../lib'
import { layerFromUpper } from '../../lib/files/diff'
import { sleep, text, useRuntime } from '../helpers'

let runtime: Runtime
let bb: Image

useRuntime((r, b) => ((runtime = r), (bb = b!)), { hostImage: false, busybox: true })

async function sh(ref: string, script: string): Promise<string> {
  const c = await run(ref, ['sh', '-c', script], { runtime })
  await c.wait()
  const out = await text(c.logs())
  await c.remove()
  return out
}

test('commit turns the writable layer into a new image layer with whiteouts and opaque dirs', async () => {
  const c = await run('bb', ['sh', '-c', 'echo new > /etc/new; rm /etc/motd; mkdir -p /data && echo d > /data/f; rm -rf /tmp && mkdir /tmp && echo t > /tmp/only; chmod 700 /data'], { runtime })
  await c.wait()
  const img = await c.commit({ ref: 'mine:v2', changes: { cmd: ['cat', '/etc/new'], env: ['FROM_COMMIT=1'] } })
  expect(img.refs).toEqual(['mine:v2'])
  expect(img.details.layers.length).toBe(bb.details.layers.length + 1)
  // The layer is addressed by the sha256 of its diff tar, and stored under that name.
  const { graphDriver } = await c.inspect()
  const digest = `sha256:${crypto.createHash('sha256').update(await buffer(layerFromUpper(graphDriver.data.upperDir))).digest('hex')}`
  expect(img.details.layers.at(-1)).toBe(digest)
  expect(img.layerDirs[0]).toBe(path.join(runtime.root, 'layers', digest.replace(':', '-'), 'diff'))
  // The committed layer stores the deletion as an overlay whiteout and /tmp as an opaque dir.
  const top = img.layerDirs[0]
  expect(fs.lstatSync(`${top}/etc/motd`).isCharacterDevice()).toBe(true)
  expect(fs.readFileSync(`${top}/etc/new`, 'utf8')).toBe('new\n')
  const out = await sh('mine:v2', 'cat /etc/new; ls /etc/motd 2>&1; cat /data/f; stat -c %a /data; ls /tmp; echo $FROM_COMMIT')
  expect(out).toBe('new\nls: /etc/motd: No such file or directory\nd\n700\nonly\n1\n')
  // The default command comes from the changes.
  const d = await run('mine:v2', undefined, { runtime })
  await d.wait()
  expect(await text(d.logs())).toBe('new\n')
  await d.remove()
  // The base image is unchanged.
  expect(await sh('bb', 'cat /etc/motd; ls /etc/new 2>&1')).toBe('from the image\nls: /etc/new: No such file or directory\n')
  // Committing the same changes again gives the same layer digest (content-addressed).
  const again = await c.commit()
  expect(again.details.layers.at(-1)).toBe(img.details.layers.at(-1))
  await c.remove()
  // Different content, a different digest.
  const other = await run('bb', ['sh', '-c', 'echo other > /etc/new'], { runtime })
  await other.wait()
  expect((await other.commit()).details.layers.at(-1)).not.toBe(digest)
  await other.remove()
})

test('commit of a container holding a PATH_MAX-deep tree: the image holds it whole (one resolution per level, not per entry from the root)', async () => {
  // mkdir d; cd d until the shell's path passes PATH_MAX: the last d is made but cannot be entered.
  const c = await run('bb', ['sh', '-c', 'cd /tmp; n=0; while mkdir d && cd d; do n=$((n+1)); done 2>/dev/null; echo $n'], { runtime })
  await c.wait()
  const levels = Number(await text(c.logs()))
  expect(levels).toBeGreaterThan(2000)
  const img = await c.commit({ ref: 'deep:v1' })
  await c.remove()
  // The removed container's writable layer, too deep for fs.promises.rm, still leaves the trash (by fd).
  const trash = path.join(runtime.root, 'trash')
  for (let i = 0; i < 600 && fs.readdirSync(trash).length > 0; i++) await sleep(100)
  expect(fs.readdirSync(trash)).toEqual([])
  const dirs = execFileSync('find', [`${img.layerDirs[0]}/tmp`, '-mindepth', '1', '-type', 'd', '-printf', 'x']).length
  expect(dirs).toBe(levels + 1)
  expect(Number(await sh('deep:v1', 'cd /tmp; n=0; while cd d; do n=$((n+1)); done 2>/dev/null; echo $n'))).toBe(levels)
  await img.remove()
  expect(fs.existsSync(img.layerDirs[0])).toBe(false)
}, 90_000)

test('copyTo and copyFrom on a running and a stopped container (seed 000: md5 round trip)', async () => {
  const dir = fs.mkdtempSync('/tmp/mc-cp-seed-')
  fs.writeFileSync(`${dir}/a.txt`, 'hello container\n')
  const c = await run('bb', ['sleep', '30'], { runtime })
  await c.copyTo(`${dir}/a.txt`, '/tmp')
  expect((await c.exec(['md5sum', '/tmp/a.txt'])).stdout).toMatch(/^\w+  \/tmp\/a.txt\n$/)
  await c.copyFrom('/tmp/a.txt', `${dir}/b.txt`)
  expect(fs.readFileSync(`${dir}/b.txt`, 'utf8')).toBe('hello container\n')
  await c.stop({ timeout: 0 })
  await c.copyTo(`${dir}/a.txt`, '/etc/a2.txt')
  expect((await c.statPath('/etc/a2.txt')).size).toBe(16)
  const { stream, stat } = await c.getArchive('/etc')
  expect(stat.name).toBe('etc')
  let tarBytes = 0
  for await (const chunk of stream) tarBytes += (chunk as Buffer).length
  expect(tarBytes).toBeGreaterThan(1024)
  await c.remove()
  fs.rmSync(dir, { recursive: true, force: true })
})
