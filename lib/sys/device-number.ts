/**
 * Major and minor numbers of a stat's st_rdev, as the kernel encodes a
 * dev_t for user space (new_encode_dev: the minor's low 8 bits, the 12-bit
 * major, then the minor's upper 12 bits).
 *
 * @module
 */

/** The major number of a device (12 bits). */
export function majorOf(rdev: number): number {
  return Math.floor(rdev / 256) & 0xfff
}

/** The minor number of a device (20 bits). */
export function minorOf(rdev: number): number {
  return (rdev & 0xff) | ((rdev >> 12) & 0xfff00)
}
