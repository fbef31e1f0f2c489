/**
 * Device rules on a cgroup v2 directory: their program (device-program.ts)
 * loaded and attached. The attachment holds the program, so its fd is
 * closed at once; it goes away with the cgroup.
 *
 * @module
 */
import * as fs from 'node:fs'
import { attachDeviceProgram, loadDeviceProgram } from '../sys/bpf'
import { closeQuietly, O_CLOEXEC, O_DIRECTORY } from '../sys/libc'
import { deviceProgram } from './device-program'
import type { DeviceRule } from './device-rules'

/** The license the kernel records for the program (the package's; device programs call no GPL-only helper). */
const license = 'MIT'

/** Puts `rules` in force for the processes of the cgroup at `dir` (and of its descendants). */
export function attachDeviceRules(dir: string, rules: readonly DeviceRule[]): void {
  const cgroupFd = fs.openSync(dir, fs.constants.O_RDONLY | O_DIRECTORY | O_CLOEXEC)
  let programFd = -1
  try {
    programFd = loadDeviceProgram(deviceProgram(rules), license)
    attachDeviceProgram(cgroupFd, programFd)
  } finally {
    closeQuietly(programFd)
    fs.closeSync(cgroupFd)
  }
}
