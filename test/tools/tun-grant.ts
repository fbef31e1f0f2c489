/**
 * /dev/net/tun for one test user (rootless egress tests, the podman relay bench): the device is
 * 0600 on this kind of host (Debian's default), and pasta or slirp4netns run by a user must open
 * it. An ACL entry gives that user alone read-write, where a chmod 0666 would give every user of
 * the machine (other test files', other engineers') the device for the test's duration.
 */
import * as fs from 'node:fs'
import { fsetxattr } from '../../lib/sys/fsops'

/**
 * POSIX ACL entries (tag, permission, id) as the kernel's system.posix_acl_access xattr holds them.
 * Tags: 0x01 the owner, 0x02 a user, 0x04 the group, 0x10 the mask, 0x20 others.
 */
function aclXattr(entries: [number, number, number][]): Buffer {
  const buf = Buffer.alloc(4 + 8 * entries.length)
  buf.writeUInt32LE(2, 0) // POSIX_ACL_XATTR_VERSION
  entries.forEach(([tag, perm, id], i) => {
    buf.writeUInt16LE(tag, 4 + 8 * i)
    buf.writeUInt16LE(perm, 6 + 8 * i)
    buf.writeUInt32LE(id, 8 + 8 * i)
  })
  return buf
}

/**
 * Lets `uid` alone open the TUN device (read-write), through an ACL entry: its mode bits for others
 * stay as they were, so no other user (another test file's, another engineer's) gains access meanwhile.
 * Returns the undoing: the ACL equal to the old mode (the kernel then drops it) and the old mode.
 */
export function grantTun(tunPath: string, uid: number): () => void {
  const fd = fs.openSync(tunPath, 'r')
  const mode = fs.fstatSync(fd).mode & 0o7777
  const none = 0xffffffff
  const bits = (shift: number): number => (mode >> shift) & 7
  try {
    fsetxattr(fd, 'system.posix_acl_access', aclXattr([[0x01, bits(6), none], [0x02, 6, uid], [0x04, bits(3), none], [0x10, 6 | bits(3), none], [0x20, bits(0), none]]))
  } catch (err) {
    fs.closeSync(fd)
    throw err
  }
  return () => {
    try {
      fsetxattr(fd, 'system.posix_acl_access', aclXattr([[0x01, bits(6), none], [0x04, bits(3), none], [0x20, bits(0), none]]))
      fs.fchmodSync(fd, mode)
    } finally {
      fs.closeSync(fd)
    }
  }
}
