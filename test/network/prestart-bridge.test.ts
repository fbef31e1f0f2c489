/**
 * Pre-started containers on a bridge (lib/container/prestarts.ts, native/prestart.h): the container
 * of a bridge shape is set up ahead up to its first use of a network namespace, and the run that
 * claims it joins the network then, with its own published ports, aliases and address; the claim
 * carries the namespace. What its program sees of the network must be what an unclaimed run's sees,
 * and its published port must serve.
 */
import * as net from 'node:net'
import { run, type Runtime, type RunOptions } from '../../lib'
import { useSubnets } from '../net-helpers'
import { prestartedId, sleep, text } from '../helpers'
import { freePort } from '../tools/registry'
import { useBridgeRuntime } from './helpers'

jest.setTimeout(120_000)

let runtime: Runtime
const [bridgeNet] = useSubnets(1)
useBridgeRuntime(bridgeNet.cidr, (r) => (runtime = r))

/** The network a program sees, its address and id taken out (each run gets its own). */
const probe = ['sh', '-c', 'ls /sys/class/net | tr "\\n" " "; echo; ip -o -4 addr show eth0 | wc -l; ip -o -6 addr show eth0 | wc -l; ip route | cut -d" " -f1-3; grep -c . /etc/hosts; hostname; cat /proc/sys/net/ipv4/ip_unprivileged_port_start']

async function probed(opts: RunOptions = {}): Promise<{ out: string; id: string; ip: string }> {
  const c = await run('host', probe, { runtime, network: 'bridge', ...opts })
  expect(await c.wait()).toEqual({ exitCode: 0 })
  const ip = (await c.inspect()).networkSettings.ipAddress
  const out = (await text(c.logs())).split(c.id.slice(0, 12)).join('<id>')
  await c.remove()
  return { out, id: c.id, ip }
}

/** One line from a TCP server at 127.0.0.1:`port`. */
function readLine(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    // Our side ends at once (nc ends its session once both sides have): what it sent is all there is.
    const s = net.connect(port, '127.0.0.1', () => s.end())
    let got = ''
    s.setTimeout(5000, () => s.destroy(new Error('no answer in 5 s')))
    s.on('data', (d) => (got += String(d)))
    s.on('end', () => resolve(got))
    s.on('error', reject)
  })
}

test("a bridge run of a shape run twice claims the container pre-started for it, joins the network at the claim, and its program sees what an unclaimed run's does", async () => {
  const first = await probed()
  const second = await probed()
  const id = await prestartedId(runtime.root)
  const claimed = await probed()
  expect(claimed.id).toBe(id)
  expect(claimed.out).toBe(second.out)
  expect(claimed.out).toBe(first.out)
  expect(claimed.out).toMatch(/^eth0 lo \n1\n0\n/)
  expect(claimed.ip.startsWith(bridgeNet.cidr.split('.').slice(0, 3).join('.'))).toBe(true)
})

test('a claimed bridge container publishes the run\'s own port, and serves on it', async () => {
  const id = await prestartedId(runtime.root)
  const port = await freePort()
  const c = await run('host', ['sh', '-c', 'echo served | nc -l -p 80'], { runtime, network: 'bridge', ports: [`127.0.0.1:${port}:80`] })
  try {
    expect(c.id).toBe(id)
    let line = ''
    for (let i = 0; i < 50 && !line; i++) line = await readLine(port).catch(() => sleep(100).then(() => ''))
    expect(line).toBe('served\n')
  } finally {
    await c.remove({ force: true })
  }
})
