/**
 * Device rules on a cgroup v2 directory: their program (device-program.ts)
 * attached. A program is loaded (and checked by the kernel's verifier) once
 * per rule set, and the same program attached to every cgroup with those
 * rules; an attachment holds its program, so closing our fd at the
 * runtime's close leaves the running containers' rules in force.
 *
 * @module
 */
import * as fs from 'node:fs'
import { attachDeviceProgram, loadDeviceProgram } from '../sys/bpf'
import { closeQuietly, O_CLOEXEC, O_DIRECTORY } from '../sys/libc'
import { deviceProgram } from './device-program'
import { formatDeviceRule, type DeviceRule } from './device-rules'

/** The license the kernel records for the program (the package's; device programs call no GPL-only helper). */
const license = 'MIT'

/** The device programs of one runtime, one loaded per rule set. */
export class DevicePrograms {
  /** Program fds by rule set (its rules as devices.list writes them, in order). */
  private readonly loaded = new Map<string, number>()

  /** Puts `rules` in force for the processes of the cgroup at `dir` (and of its descendants). */
  attach(dir: string, rules: readonly DeviceRule[]): void {
    const cgroupFd = fs.openSync(dir, fs.constants.O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    try {
      attachDeviceProgram(cgroupFd, this.program(rules))
    } finally {
      fs.closeSync(cgroupFd)
    }
  }

  /** Closes the loaded programs' fds; those attached stay in force with their cgroups. */
  close(): void {
    for (const fd of this.loaded.values()) closeQuietly(fd)
    this.loaded.clear()
  }

  /** The program for `rules`, loaded on first use. */
  private program(rules: readonly DeviceRule[]): number {
    const key = rules.map(formatDeviceRule).join('\n')
    let fd = this.loaded.get(key)
    if (fd === undefined) this.loaded.set(key, (fd = loadDeviceProgram(deviceProgram(rules), license)))
    return fd
  }
}
