/**
 * exec() from a Node process that runs in a chroot (build farms, schroot):
 * it lands in the container's root, not in the root of the container's
 * mount namespace. The chroot is a recursive bind of the host's / in a
 * private mount namespace (unshare and chroot as observer tools), so the
 * library and node are at the same paths inside.
 */
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { Runtime } from '../../lib'
import { useRuntime } from '../helpers'
import { nodeScript } from '../tools/node-child'
import { requireTool } from '../tools/registry'

let runtime: Runtime

useRuntime((r) => (runtime = r))

/** Runs `body` in a child Node process chrooted into a bind of the host's /; returns its stdout. */
function inChroot(body: string): string {
  requireTool('unshare', 'util-linux')
  requireTool('chroot', 'coreutils')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-chroot-'))
  try {
    const script = 'mount --rbind / "$1" && exec chroot "$1" "$2" -e "$3"'
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', dir, process.execPath, nodeScript(body)], { encoding: 'utf8', timeout: 60_000 })
    if (r.status !== 0) throw new Error(`the chrooted child failed (${r.status ?? r.signal}): ${r.stderr}`)
    return r.stdout
  } finally {
    fs.rmdirSync(dir)
  }
}

test("exec() of a chrooted caller sees the container's files, not the host's", () => {
  const out = inChroot(`
    const { Runtime, run } = lib()
    ;(async () => {
      const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)} })
      const c = await run('host', ['sleep', '30'], { runtime, network: 'none', hostname: 'in-the-container', files: [{ target: '/marker', content: 'from the container' }] })
      try {
        const marker = await c.exec(['cat', '/marker'])
        const hostname = await c.exec(['cat', '/etc/hostname'])
        console.log(JSON.stringify({ marker: marker.stdout, hostname: hostname.stdout.trim(), exit: marker.exitCode }))
      } finally {
        await c.remove({ force: true })
        await runtime.close()
      }
    })().catch((err) => { console.error(err); process.exit(1) })
  `)
  expect(JSON.parse(out)).toEqual({ marker: 'from the container', hostname: 'in-the-container', exit: 0 })
})
