/**
 * A bridge container's network namespace is sent to the shim after the spec
 * (protocol 9's "netnslate"): the network layer makes the endpoint while the
 * shim clones and mounts. What must hold: nothing of the container sees the
 * host's namespace (sysfs, sysctls and the program are the endpoint's from
 * the first instruction), the join really overlaps the shim's work, and a
 * network that fails after the spec was sent leaves no process, cgroup,
 * mount or container behind.
 */
import * as fs from 'node:fs'
import * as net from 'node:net'
import { Container, run, type Runtime } from '../../lib'
import { closeTrace, openTrace } from '../../lib/util/start-trace'
import { useSubnets } from '../net-helpers'
import { containerDirs, text } from '../helpers'
import { eventually, useBridgeRuntime } from './helpers'

let runtime: Runtime
const [bridgeNet] = useSubnets(1)
useBridgeRuntime(bridgeNet.cidr, (r) => (runtime = r))

const hostSysctl = (name: string) => fs.readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim()

/** The lines of `out` that start with `key `, without it. */
const field = (out: string, key: string) => out.split('\n').find((l) => l.startsWith(`${key} `))?.slice(key.length + 1)

/**
 * Clones of our run shims that are still in their setup (a container's pid 1 before its exec has the
 * shim's command line, "mc-shim run <our pid>", in a pid namespace of its own).
 */
function containersBeforeExec(): number[] {
  const ownPidNs = fs.readlinkSync('/proc/self/ns/pid')
  return fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8') === `mc-shim\0run\0${process.pid}\0` && fs.readlinkSync(`/proc/${p}/ns/pid`) !== ownPidNs
      } catch {
        return false // exited meanwhile
      }
    })
    .map(Number)
}

test("a bridge container's sysfs, net.* sysctls and program are its endpoint's namespace's, joined while the shim set it up", async () => {
  const sysctl = 'net.ipv4.ip_unprivileged_port_start'
  const before = hostSysctl(sysctl)
  const wanted = before === '81' ? '82' : '81'
  const script = 'echo IFACES $(ls /sys/class/net); echo SYSCTL $(cat /proc/sys/net/ipv4/ip_unprivileged_port_start); echo NETNS $(readlink /proc/self/ns/net)'
  const steps = openTrace()
  let c: Container
  try {
    c = await run('host', ['sh', '-c', script], { runtime, network: 'bridge', sysctls: { [sysctl]: wanted } })
  } finally {
    closeTrace()
  }
  expect(await c.wait()).toEqual({ exitCode: 0 })
  const out = await text(c.logs())
  // sysfs mounted in the endpoint's namespace: its eth0 and lo, none of the host's links (the bridge, the host's own).
  expect(field(out, 'IFACES')?.split(' ').sort()).toEqual(['eth0', 'lo'])
  // The sysctl written in the container's namespace, the host's untouched.
  expect(field(out, 'SYSCTL')).toBe(wanted)
  expect(hostSysctl(sysctl)).toBe(before)
  expect(field(out, 'NETNS')).toMatch(/^net:\[\d+\]$/)
  expect(field(out, 'NETNS')).not.toBe(fs.readlinkSync('/proc/self/ns/net'))
  // The overlap itself: the spec went to the shim before the network was joined, and the child joined it after, before pivot_root.
  const at = (step: string) => {
    const t = steps.get(step)
    if (t === undefined) throw new Error(`no "${step}" stamp; stamped: ${[...steps.keys()].join(', ')}`)
    return t
  }
  expect(at('node: spec sent')).toBeLessThan(at('node: network joined'))
  expect(at('node: network joined')).toBeLessThan(at('child: network joined'))
  expect(at('child: network joined')).toBeLessThan(at('child: pivot_root'))
  await c.remove()
})

test('a network join that fails after the spec was sent (a host port in use) is EPORTINUSE and leaves nothing', async () => {
  const holder = net.createServer()
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
  const port = (holder.address() as net.AddressInfo).port
  const steps = openTrace()
  try {
    await expect(run('host', ['sleep', '60'], { runtime, name: 'late-fails', network: 'bridge', ports: [`127.0.0.1:${port}:80`] })).rejects.toMatchObject({ code: 'EPORTINUSE' })
  } finally {
    closeTrace()
    holder.close()
  }
  // It failed where this test means it to: the shim had the spec, and was setting the container up.
  expect(steps.has('node: spec sent')).toBe(true)
  expect(steps.has('node: network joined')).toBe(false)
  // run() removed the container it made; the shim that had its spec was killed, and its child (PDEATHSIG) with it.
  expect((await Container.list({ runtime, all: true })).map((c) => c.name)).not.toContain('late-fails')
  expect(containerDirs(runtime.root)).toEqual([])
  expect(await eventually(() => containersBeforeExec().length === 0)).toBe(true)
  expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(`${runtime.root}/containers/`)
  // And the network serves the next start.
  const ok = await run('host', ['true'], { runtime, network: 'bridge' })
  expect(await ok.wait()).toEqual({ exitCode: 0 })
  await ok.remove()
})
