/**
 * Which device nodes a container may use, as Docker sets it up: every
 * device is denied, then moby's and runc's default allow-lists and the
 * container's own rules (`--device`, `--device-cgroup-rule`) are allowed. A privileged container may use every
 * device. The same rules become devices.allow lines on cgroup v1 and an
 * eBPF program on v2 (device-program.ts).
 *
 * @module
 */
import { InvalidArgumentError, UnsupportedError } from '../errors'

/** 'c' char, 'b' block, 'a' both. */
export type DeviceType = 'a' | 'c' | 'b'

/** One allow rule, as in the devices cgroup: type, major:minor ('*' for any) and access. */
export interface DeviceRule {
  type: DeviceType
  major: number | '*'
  minor: number | '*'
  /** A non-empty subset of "rwm": read, write, mknod. */
  access: string
}

/** What a container's cgroup lets it do with device nodes: everything (privileged), or what the rules allow. */
export type DevicePolicy = { allowAll: true } | { allowAll: false; rules: readonly DeviceRule[] }

const rule = (type: DeviceType, major: number | '*', minor: number | '*', access = 'rwm'): DeviceRule => ({ type, major, minor, access })

/** Character devices every container may use, as major:minor with their /dev names. */
const standardDevices: [major: number, minor: number, name: string][] = [
  [1, 3, 'null'], [1, 5, 'zero'], [1, 7, 'full'], [1, 8, 'random'], [1, 9, 'urandom'],
  [5, 0, 'tty'], [5, 1, 'console'], [5, 2, 'ptmx'], [10, 200, 'net/tun'],
]

/**
 * What a Docker container may do with devices unless told otherwise: moby's
 * default spec (oci/defaults.go: after "deny all", null, zero, urandom,
 * random, tty and console; its "deny c 10:229" for /dev/fuse changes
 * nothing in a list that denies by default) together with the rules runc
 * appends to every container (libcontainer/specconv AllowedDevices: mknod
 * of any node, null, random, full, tty, zero, urandom, the pseudo-terminals,
 * ptmx and net/tun). Any node may be made; a node of any other device, made
 * with mknod or shipped in an image, cannot be opened.
 */
export const dockerDefaultDeviceRules: readonly DeviceRule[] = [
  rule('c', '*', '*', 'm'),
  rule('b', '*', '*', 'm'),
  ...standardDevices.map(([major, minor]) => rule('c', major, minor)),
  rule('c', 136, '*'), // /dev/pts/*
]

/** The rules without repeats (the first of equal ones kept). */
function uniqueRules(rules: readonly DeviceRule[]): DeviceRule[] {
  const seen = new Set<string>()
  return rules.filter((r) => !seen.has(formatDeviceRule(r)) && !!seen.add(formatDeviceRule(r)))
}

/** The policy of a container: every device when privileged, else Docker's defaults and then its own rules. */
export function devicePolicy(opts: { privileged: boolean; rules?: readonly DeviceRule[] }): DevicePolicy {
  if (opts.privileged) return { allowAll: true }
  return { allowAll: false, rules: uniqueRules([...dockerDefaultDeviceRules, ...(opts.rules ?? [])]) }
}

/** A rule as the devices cgroup writes it, e.g. "c 1:3 rwm" (devices.allow, devices.list). */
export function formatDeviceRule(r: DeviceRule): string {
  return `${r.type} ${r.major}:${r.minor} ${r.access}`
}

/** The largest major and minor numbers Linux has (12 and 20 bits). */
const maxMajor = 0xfff
const maxMinor = 0xfffff

/**
 * Parses a devices cgroup rule as `--device-cgroup-rule` takes it:
 * "c 1:11 rw", "b 8:* rwm", "a *:* m". Throws EINVALID with the accepted form.
 */
export function parseDeviceCgroupRule(text: string): DeviceRule {
  const m = /^([acb]) (\*|\d+):(\*|\d+) ([rwm]{1,3})$/.exec(typeof text === 'string' ? text.trim() : '')
  const invalid = (why: string) =>
    new InvalidArgumentError(`invalid device cgroup rule ${JSON.stringify(text)}: ${why}; the form is "<a|c|b> <major|*>:<minor|*> <rwm>", e.g. "c 1:11 rw"`)
  if (!m) throw invalid('not a rule')
  const access = m[4]!
  if (new Set(access).size !== access.length) throw invalid('an access letter is repeated')
  const number = (s: string, max: number, what: string): number | '*' => {
    if (s === '*') return '*'
    const n = Number(s)
    if (n > max) throw invalid(`the ${what} number is above ${max}`)
    return n
  }
  return rule(m[1] as DeviceType, number(m[2]!, maxMajor, 'major'), number(m[3]!, maxMinor, 'minor'), access)
}

/**
 * Refuses a container whose device rules the host cannot enforce (no devices
 * controller on v1, no cgroups at all): started anyway, it could open every
 * device node it makes or finds, the host's disks and kernel memory included.
 * A privileged container may use every device anyway, so it needs no controller.
 */
export function requireDeviceControl(devices: DevicePolicy, hasDevicesController: boolean, layout: string): void {
  if (devices.allowAll || hasDevicesController) return
  throw new UnsupportedError('devices', layout, "a container that is not privileged (Docker's device rules)",
    'without it the container could open every device node; mount the cgroup hierarchy with the devices controller (as Docker needs), or run the container with privileged: true')
}
