/**
 * Host devices given to a container (`docker run --device`): the option's
 * forms, checked at create, and at start the node made inside the container
 * with the host node's type, numbers, mode and owner, plus the device rule
 * that lets the container use it, as moby (oci/devices_linux.go) and runc
 * (createDeviceNode) do.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { DeviceRule } from '../cgroups'
import { InvalidArgumentError } from '../errors'
import type { MountOp } from '../shim/spec'
import { majorOf, minorOf } from '../sys/device-number'

/** A host device for the `devices` option, as Docker's HostConfig.Devices entry. */
export interface DeviceMapping {
  /** The device node on the host, e.g. "/dev/fuse" (a symlink to one is followed). */
  pathOnHost: string
  /** Where the node appears in the container, an absolute path; defaults to `pathOnHost`. */
  pathInContainer?: string
  /** What the container may do with it: a non-empty subset of "rwm" (read, write, mknod); defaults to "rwm". */
  cgroupPermissions?: string
}

/**
 * One entry of the `devices` option: a {@link DeviceMapping}, or `--device`'s
 * string "<host>[:<container>][:<permissions>]", e.g. "/dev/fuse",
 * "/dev/loop0:/dev/xvda:r" or "/dev/kmsg:r".
 */
export type DeviceOption = string | DeviceMapping

/** A device as recorded in `inspect().hostConfig.devices` (Docker's PathOnHost, PathInContainer, CgroupPermissions). */
export interface DeviceRecord {
  /** The device node on the host, as given. */
  pathOnHost: string
  /** Where the node is made in the container. */
  pathInContainer: string
  /** A non-empty subset of "rwm". */
  cgroupPermissions: string
}

/** A recorded device with what its host node is now. @internal */
export interface HostDevice extends DeviceRecord {
  type: 'c' | 'b'
  major: number
  minor: number
  /** The host node's permission bits (07777). */
  mode: number
  uid: number
  gid: number
}

const S_IFCHR = 0o020000
const S_IFBLK = 0o060000

/** Docker CLI's validDeviceMode: r, w and m, each at most once, at least one. */
function isPermissions(s: string): boolean {
  return /^[rwm]{1,3}$/.test(s) && new Set(s).size === s.length
}

const form = 'the form is "<host path>[:<container path>][:<permissions>]" or { pathOnHost, pathInContainer?, cgroupPermissions? }, e.g. "/dev/loop0:/dev/xvda:r"'

/** `--device`'s string as Docker's CLI splits it (parseLinuxDevice): a second part that is a permission set is one. */
function parseDeviceString(spec: string): DeviceMapping {
  const parts = spec.split(':')
  if (parts.length > 3) throw new InvalidArgumentError(`invalid device ${JSON.stringify(spec)}: too many ':'; ${form}`)
  const [pathOnHost = '', second, third] = parts
  if (third !== undefined) return { pathOnHost, pathInContainer: second, cgroupPermissions: third }
  if (second !== undefined && isPermissions(second)) return { pathOnHost, cgroupPermissions: second }
  return { pathOnHost, ...(second !== undefined ? { pathInContainer: second } : {}) }
}

/** One option entry, checked (EINVALID naming what to fix), with its defaults filled in. */
function deviceRecordOf(option: DeviceOption): DeviceRecord {
  const given = typeof option === 'string' ? parseDeviceString(option) : option
  const shown = JSON.stringify(option)
  if (typeof given !== 'object' || given === null || typeof given.pathOnHost !== 'string')
    throw new InvalidArgumentError(`invalid device ${shown}: ${form}`)
  const { pathOnHost, pathInContainer = pathOnHost, cgroupPermissions = 'rwm' } = given
  if (!pathOnHost) throw new InvalidArgumentError(`invalid device ${shown}: the host path is empty; ${form}`)
  if (typeof cgroupPermissions !== 'string' || !isPermissions(cgroupPermissions))
    throw new InvalidArgumentError(`invalid device ${shown}: permissions ${JSON.stringify(cgroupPermissions)} must be a non-empty subset of "rwm" (read, write, mknod), e.g. "r" or "rw"`)
  if (typeof pathInContainer !== 'string' || !path.posix.isAbsolute(pathInContainer))
    throw new InvalidArgumentError(`invalid device ${shown}: the container path ${JSON.stringify(pathInContainer)} must be an absolute path, e.g. "/dev/xvda"`)
  const inContainer = path.posix.normalize(pathInContainer)
  if (inContainer === '/') throw new InvalidArgumentError(`invalid device ${shown}: the container path cannot be the root "/"; name a file, e.g. "/dev/xvda"`)
  return { pathOnHost, pathInContainer: inContainer, cgroupPermissions }
}

/** The host node of a recorded device, stat'ed now; EINVALID when it is missing or not a char or block device. */
function hostDevice(r: DeviceRecord): HostDevice {
  let st: fs.Stats
  try {
    st = fs.statSync(r.pathOnHost)
  } catch (err) {
    throw new InvalidArgumentError(`device ${r.pathOnHost}: ${(err as NodeJS.ErrnoException).code ?? err} on the host; give the path of an existing device node, e.g. "/dev/fuse"`)
  }
  const kind = st.mode & 0o170000
  if (kind !== S_IFCHR && kind !== S_IFBLK)
    throw new InvalidArgumentError(`device ${r.pathOnHost} is not a character or block device on the host (a ${st.isDirectory() ? 'directory' : 'file that is not a device'}); give the path of a device node, one per entry`)
  return { ...r, type: kind === S_IFCHR ? 'c' : 'b', major: majorOf(st.rdev), minor: minorOf(st.rdev), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid }
}

/** Checks the `devices` option at create (each host path must be a device now) and returns it as recorded. */
export function deviceRecordsOf(options: DeviceOption[] | undefined): DeviceRecord[] {
  if (options === undefined) return []
  if (!Array.isArray(options)) throw new InvalidArgumentError(`option "devices" must be an array, e.g. ["/dev/fuse", "/dev/loop0:/dev/xvda:r"]`)
  const records = options.map(deviceRecordOf)
  records.forEach(hostDevice)
  return records
}

/** The recorded devices as their host nodes are at start (a node gone since create is EINVALID). */
export function hostDevices(records: readonly DeviceRecord[] | undefined): HostDevice[] {
  return (records ?? []).map(hostDevice)
}

/** The nodes to make in the container: the host node's type, numbers, mode and owner (as runc). */
export function deviceNodeOps(devices: readonly HostDevice[]): MountOp[] {
  return devices.map((d) => ({
    kind: 'mknod', target: d.pathInContainer, mode: (d.type === 'c' ? S_IFCHR : S_IFBLK) | d.mode, major: d.major, minor: d.minor, uid: d.uid, gid: d.gid,
  }))
}

/** The device rules that let the container use them: "<type> <major>:<minor> <permissions>". */
export function deviceRulesOf(devices: readonly HostDevice[]): DeviceRule[] {
  return devices.map((d) => ({ type: d.type, major: d.major, minor: d.minor, access: d.cgroupPermissions }))
}
