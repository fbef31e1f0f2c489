/**
 * The "host" image: a tiny skeleton layer plus the host's /usr bound
 * read-only, so any program installed on the host (sh, python3,
 * redis-server...) runs isolated with zero downloads.
 *
 * Only what programs need to start is copied from the host's /etc (user
 * and group databases, the loader cache, alternatives links); the host's
 * secrets (/etc/shadow, /root, /home) never enter the container.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { HostBind, ImageConfig } from './store'

const skeletonDirs: [dir: string, mode: number][] = [
  ['etc', 0o755], ['tmp', 0o1777], ['root', 0o700], ['home', 0o755], ['run', 0o755], ['var', 0o755],
  ['var/tmp', 0o1777], ['var/lib', 0o755], ['var/log', 0o755], ['var/cache', 0o755], ['var/run', 0o755],
  ['proc', 0o555], ['sys', 0o555], ['dev', 0o755], ['mnt', 0o755], ['opt', 0o755], ['srv', 0o755], ['usr', 0o755],
]

const etcFiles = ['passwd', 'group', 'nsswitch.conf', 'ld.so.cache', 'ld.so.conf', 'host.conf', 'services', 'protocols', 'os-release', 'mime.types']
// Only public material: /etc/ssl/private stays on the host.
const etcDirs = ['alternatives', 'ld.so.conf.d', 'ssl/certs']

/** Top-level entries that are usr-merge symlinks on the host (bin -> usr/bin ...) or real dirs to bind. */
function topLevel(): { links: [string, string][]; binds: HostBind[] } {
  const links: [string, string][] = []
  const binds: HostBind[] = [{ source: '/usr', target: '/usr' }]
  for (const name of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
    const st = fs.lstatSync(`/${name}`, { throwIfNoEntry: false })
    if (!st) continue
    if (st.isSymbolicLink()) links.push([fs.readlinkSync(`/${name}`), name])
    else if (st.isDirectory()) binds.push({ source: `/${name}`, target: `/${name}` })
  }
  return { links, binds }
}

function copyEtcTree(src: string, dest: string): void {
  const st = fs.lstatSync(src, { throwIfNoEntry: false })
  if (!st) return
  if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(src), dest)
  else if (st.isFile()) fs.copyFileSync(src, dest)
  else if (st.isDirectory()) {
    fs.mkdirSync(dest, { mode: st.mode & 0o7777 })
    for (const name of fs.readdirSync(src)) copyEtcTree(path.join(src, name), path.join(dest, name))
  }
}

/** Writes the skeleton into `dest`; returns the binds and config of the host image. */
export function buildHostRootfs(dest: string): { hostBinds: HostBind[]; config: ImageConfig } {
  for (const [dir, mode] of skeletonDirs) {
    fs.mkdirSync(path.join(dest, dir), { recursive: true })
    fs.chmodSync(path.join(dest, dir), mode)
  }
  const { links, binds } = topLevel()
  for (const [target, name] of links) fs.symlinkSync(target, path.join(dest, name))
  for (const name of etcFiles) copyEtcTree(path.join('/etc', name), path.join(dest, 'etc', name))
  for (const name of etcDirs) {
    fs.mkdirSync(path.dirname(path.join(dest, 'etc', name)), { recursive: true })
    copyEtcTree(path.join('/etc', name), path.join(dest, 'etc', name))
  }
  return {
    hostBinds: binds,
    config: { cmd: ['sh'], env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], workdir: '/' },
  }
}
