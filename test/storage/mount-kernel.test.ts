// toMountOps executed by the real native shim (no container layer): a minimal busybox root,
// our mount steps, and a script that reports what it sees. Checks binds, :ro, tmpfs and nesting.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { resolveMounts, toMountOps } from '../../lib/storage/mount-options'
import type { MountRunOptions } from '../../lib/storage/mount-types'
import { VolumeStore } from '../../lib/storage/volumes'
import { encodeRunSpec, type RunSpec } from '../../lib/shim/spec'
import { Shim } from '../../lib/shim/shim'
import { capabilitySet } from '../../lib/shim/capabilities'
import { CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS, MS_NODEV, MS_NOEXEC, MS_NOSUID } from '../../lib/sys/libc'
import { busyboxRootfs } from '../helpers'
import { tempRoot } from './helpers'

let root: string
let cleanup: () => void
let store: VolumeStore
let lower: string

beforeEach(() => {
  ;({ root, cleanup } = tempRoot())
  store = new VolumeStore(root)
  lower = path.join(root, 'lower')
  fs.mkdirSync(lower)
  busyboxRootfs(lower)
  fs.mkdirSync(path.join(lower, 'srv/content'), { recursive: true })
  fs.writeFileSync(path.join(lower, 'srv/content/image-file'), 'image')
})
afterEach(() => cleanup())

/** Runs `script` in a throwaway root with the mounts of `opts`; returns its combined output. */
async function runWith(opts: MountRunOptions, script: string, readOnly = false): Promise<string> {
  const dirs = Object.fromEntries(['upper', 'work', 'merged'].map((d) => [d, fs.mkdtempSync(path.join(root, `${d}-`))]))
  const out = path.join(root, `out-${Date.now()}`)
  const exitFile = path.join(root, `exit-${Date.now()}`)
  const spec: Omit<RunSpec, 'stdin' | 'output'> = {
    rootfs: { mergedDir: dirs.merged, lowerDirs: [lower], upperDir: dirs.upper, workDir: dirs.work, readOnly },
    mounts: [
      { kind: 'mount', type: 'proc', source: 'proc', target: '/proc', flags: MS_NOSUID | MS_NODEV | MS_NOEXEC },
      ...toMountOps(await resolveMounts(opts, store)),
    ],
    process: { args: ['/bin/sh', '-c', `{ ${script}; } 2>&1`], env: ['PATH=/bin'], cwd: '/', uid: 0, gid: 0, additionalGids: [], capabilities: capabilitySet({}), noNewPrivileges: true },
    cloneFlags: CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET,
    loopbackUp: false,
    init: false,
    detach: false,
    exitFile,
  }
  const shim = (await Shim.forRun()).send(encodeRunSpec({ ...spec, stdin: '/dev/null', output: { stdout: out, stderr: out } }))
  await shim.hold(shim.started)
  await shim.hold(shim.exited)
  await shim.hold(shim.closed)
  return fs.readFileSync(out, 'utf8')
}

test('bind rw both ways, bind :ro gives EROFS, bind hides image content', async () => {
  const host = path.join(root, 'host')
  fs.mkdirSync(host)
  fs.writeFileSync(path.join(host, 'h'), 'from host')
  const out = await runWith({ volumes: [`${host}:/srv/content`, `${host}:/ro:ro`] }, 'ls /srv/content; echo c > /srv/content/c; touch /ro/x; echo rc=$?')
  expect(out).toMatch(/^h\n.*Read-only file system\nrc=1\n$/s)
  expect(fs.readFileSync(path.join(host, 'c'), 'utf8')).toBe('c\n')
  expect(fs.readFileSync(path.join(lower, 'srv/content/image-file'), 'utf8')).toBe('image')
})

test('tmpfs with size and mode; nested mounts land on top of their parents', async () => {
  const out = await runWith(
    { volumes: ['vol:/data'], tmpfs: { '/data/cache': 'size=1m,mode=700' } },
    "stat -c '%a' /data/cache; grep ' /data' /proc/mounts | cut -d' ' -f2,3; echo v > /data/v; echo t > /data/cache/t",
  )
  expect(out).toMatch(/^700\n\/data \w+\n\/data\/cache tmpfs\n$/)
  expect(fs.readdirSync(store.paths('vol').data).sort()).toEqual(['cache', 'v'])
  expect(fs.readdirSync(path.join(store.paths('vol').data, 'cache'))).toEqual([]) // the tmpfs file stayed in memory
})

test('read-only root: EROFS outside mounts, mounts stay writable', async () => {
  const out = await runWith({ tmpfs: ['/run'], volumes: ['/anon'] }, 'touch /x; echo rc=$?; touch /run/x && touch /anon/x && echo ok', true)
  expect(out).toMatch(/Read-only file system\nrc=1\nok\n$/)
})
