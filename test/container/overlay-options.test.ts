// A container's overlay is mounted with redirects and metacopy off whatever the overlay module's
// defaults (/sys/module/overlay/parameters, which some distributions turn on): with them on, an upper
// dir holds a renamed lower dir as a redirect xattr and a chmodded file without its data, and the
// layer stored from it (commit, build) would be wrong. The defaults are global: only the VM lane
// (test/vm/run.js, a kernel of its own, "mc.layout=" on its command line) turns them on; on a shared
// host the test checks they are off, where the kernel, which shows only options differing from the
// defaults, proves the mount has them off too.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { run, type Runtime } from '../../lib'
import { mountFallbacks } from '../../lib/shim/spec'
import { lgetxattr } from '../../lib/sys/fsops'
import { text, useRuntime } from '../helpers'

let runtime: Runtime

useRuntime((r) => (runtime = r), { hostImage: false, busybox: true })
afterEach(() => (mountFallbacks.force = false))

const PARAMETERS = '/sys/module/overlay/parameters'
const ownKernel = fs.readFileSync('/proc/cmdline', 'utf8').includes('mc.layout=')

/** Runs `use` with the overlay module's redirect_dir and metacopy defaults set to `value`, restoring them after. */
async function withModuleDefaults(value: 'Y' | 'N', use: () => Promise<void>): Promise<void> {
  const names = ['redirect_dir', 'metacopy']
  const before = names.map((n) => fs.readFileSync(path.join(PARAMETERS, n), 'utf8').trim())
  try {
    for (const n of names) fs.writeFileSync(path.join(PARAMETERS, n), value)
    await use()
  } finally {
    names.forEach((n, i) => fs.writeFileSync(path.join(PARAMETERS, n), before[i]))
  }
}

/** A container renames a lower dir and chmods a lower file: its upper dir holds both whole, and its overlay's super options say so. */
async function expectNoRedirectNorMetacopy(): Promise<void> {
  const c = await run('bb', ['sh', '-c', "busybox mv /root /moved && chmod 600 /etc/motd && grep ' / / ' /proc/self/mountinfo"], { runtime, network: 'none' })
  expect(await c.wait()).toMatchObject({ exitCode: 0 })
  const options = (await text(c.logs())).split(' - ')[1].trim().split(' ')[2].split(',')
  const upper = (await c.inspect()).graphDriver.data.upperDir
  try {
    // The chmodded file's data was copied up; the renamed dir was copied, not redirected.
    expect(fs.readFileSync(path.join(upper, 'etc/motd'), 'utf8')).toBe('from the image\n')
    expect(lgetxattr(path.join(upper, 'etc/motd'), 'trusted.overlay.metacopy')).toBeUndefined()
    expect(lgetxattr(path.join(upper, 'moved'), 'trusted.overlay.redirect')).toBeUndefined()
    if (ownKernel) {
      expect(options).toContain('metacopy=off')
      // "off" reads back as what it means on this kernel: follow a lower's redirects or not, make none.
      expect(options.find((o) => o.startsWith('redirect_dir='))).toMatch(/^redirect_dir=(off|follow|nofollow)$/)
    } else {
      expect(options.filter((o) => /^(redirect_dir|metacopy)=/.test(o))).toEqual([])
    }
  } finally {
    await c.remove()
  }
}

test(`a container's overlay makes no redirect and no metacopy file, ${ownKernel ? 'the module defaults turned on (own kernel)' : 'the module defaults off (shared host)'}`, async () => {
  if (!ownKernel) {
    // On a shared kernel the defaults are left alone; the kernel shows an option only when it differs from them.
    expect(['redirect_dir', 'metacopy'].map((n) => fs.readFileSync(path.join(PARAMETERS, n), 'utf8').trim())).toEqual(['N', 'N'])
    await expectNoRedirectNorMetacopy()
    return
  }
  await withModuleDefaults('Y', async () => {
    await expectNoRedirectNorMetacopy()
    mountFallbacks.force = true
    await expectNoRedirectNorMetacopy()
  })
})
