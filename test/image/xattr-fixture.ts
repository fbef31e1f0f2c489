/**
 * A tree with extended attributes for the layer xattr tests, and how they
 * are observed (getfattr -e hex, getcap: independent tools; a test fails,
 * never skips, when they are missing).
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { busyboxRootfs } from '../helpers'
import { requireTool } from '../tools/registry'

/** Throws unless getfattr, setfattr, setcap, getcap and GNU tar are installed. */
export function requireXattrTools(): void {
  for (const [tool, pkg] of [['getfattr', 'attr'], ['setfattr', 'attr'], ['setcap', 'libcap2-bin'], ['getcap', 'libcap2-bin'], ['tar', 'tar']]) requireTool(tool, pkg)
}

/** Runs a tool; returns its stdout. */
export const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' })

/** getfattr's hex dump of one path's attributes, in every namespace, without the "# file" line. */
export function attrs(file: string): string {
  return sh('getfattr', ['-h', '-d', '-e', 'hex', '-m', '-', '--absolute-names', file])
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .sort()
    .join('\n')
}

/**
 * A busybox rootfs at `dir` with a capability on a copy of busybox
 * (bin/pinger), binary user.* and trusted.* xattrs on data/blob and a user.*
 * one on data, and with `marks` overlay's own (a tree walked into a layer
 * reads an opaque mark as an opaque dir: only layers made by another tool
 * carry them through).
 */
export function treeWithXattrs(dir: string, marks = false): string {
  busyboxRootfs(dir)
  fs.mkdirSync(path.join(dir, 'data'))
  fs.writeFileSync(path.join(dir, 'data/blob'), 'payload\n')
  fs.copyFileSync(path.join(dir, 'bin/busybox'), path.join(dir, 'bin/pinger'))
  fs.chmodSync(path.join(dir, 'bin/pinger'), 0o755)
  sh('setcap', ['cap_net_raw+ep', path.join(dir, 'bin/pinger')])
  sh('setfattr', ['-n', 'user.mc', '-v', '0xff00fe80', path.join(dir, 'data/blob')])
  sh('setfattr', ['-n', 'user.dir', '-v', '0x01ff', path.join(dir, 'data')])
  sh('setfattr', ['-n', 'trusted.mc', '-v', '0x80', path.join(dir, 'data/blob')])
  if (!marks) return dir
  // Overlay's own marks: never set from a layer.
  sh('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(dir, 'data')])
  sh('setfattr', ['-n', 'user.overlay.redirect', '-v', '/etc', path.join(dir, 'data/blob')])
  return dir
}

/** Whether bin/pinger under `root` has the capability treeWithXattrs gave it. */
export function hasPingerCap(root: string): boolean {
  return sh('getcap', [path.join(root, 'bin/pinger')]).includes('cap_net_raw=ep')
}

/** Expects the attributes treeWithXattrs set (and no other) under `root`. */
export function expectTreeXattrs(root: string): void {
  expect(attrs(path.join(root, 'data/blob'))).toBe('trusted.mc=0x80\nuser.mc=0xff00fe80')
  expect(attrs(path.join(root, 'data'))).toBe('user.dir=0x01ff')
  expect(hasPingerCap(root)).toBe(true)
}
