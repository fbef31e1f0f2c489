/**
 * `exposeHostPorts` (issue 19, as testcontainers' `TestContainers.exposeHostPorts`), as root: a
 * server on the host's loopback only (the app under test) is reached from containers as
 * `host.minicontainer.internal:<port>` and `host.docker.internal:<port>`, on the default bridge
 * and on a user network; closed by default (a container that did not ask, alone on its network,
 * cannot reach it), closed again once the container that asked is gone, and never open to another
 * network through the asking network's gateway (an input rule, gone with the container); an app
 * listening on every address is exposed without a relay, a socket on the gateway address alone is
 * EPORTINUSE; relays started while other containers start still bind on the host; on the host network the
 * names are 127.0.0.1; EINVALID for bad ports and for networks without a gateway. The rootless
 * side is in test/rootless/network.test.ts.
 */
import * as net from 'node:net'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { Network, run, type Container, type Runtime } from '../../lib'
import { text, useRuntime } from '../helpers'

jest.setTimeout(120_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true, hostImage: false })

let app: net.Server
let port: number
beforeAll(async () => {
  // Listening on 127.0.0.1 only: no container reaches it without the relay.
  app = net.createServer((s) => s.end('hello from the app\n'))
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
  port = (app.address() as net.AddressInfo).port
})
afterAll(() => app?.close())

/** What the container reads from `host:port` (nc's error text when it cannot connect). */
async function readFrom(c: Container, host: string): Promise<string> {
  const r = await c.exec(['sh', '-c', `nc -w 3 ${host} ${port} </dev/null 2>&1`])
  return r.stdout
}

test('a container reaches a host loopback port by both names, on the default bridge and on a user network', async () => {
  const user = await Network.create(`expose-${randomBytes(3).toString('hex')}`, { runtime })
  try {
    for (const network of ['bridge', user.name]) {
      const c = await run('bb', ['sleep', '60'], { runtime, network, exposeHostPorts: [port] })
      try {
        const gateway = (await c.inspect()).networkSettings.networks[network]!.gateway
        const hosts = (await c.exec(['cat', '/etc/hosts'])).stdout
        expect(hosts).toContain(`\n${gateway}\thost.minicontainer.internal host.testcontainers.internal host.docker.internal\n`)
        expect(await readFrom(c, 'host.minicontainer.internal')).toBe('hello from the app\n')
        expect(await readFrom(c, 'host.testcontainers.internal')).toBe('hello from the app\n')
        expect(await readFrom(c, 'host.docker.internal')).toBe('hello from the app\n')
      } finally {
        await c.remove({ force: true })
      }
    }
  } finally {
    await user.remove()
  }
})

test('closed by default, and closed again once the container that asked is gone', async () => {
  const user = await Network.create(`expose-${randomBytes(3).toString('hex')}`, { runtime })
  try {
    const other = await run('bb', ['sleep', '60'], { runtime, network: user.name })
    try {
      const gateway = (await other.inspect()).networkSettings.networks[user.name]!.gateway
      expect(await readFrom(other, gateway)).not.toContain('hello')
      const asking = await run('bb', ['sleep', '60'], { runtime, network: user.name, exposeHostPorts: [port] })
      expect(await readFrom(asking, 'host.minicontainer.internal')).toBe('hello from the app\n')
      await asking.remove({ force: true })
      expect(await readFrom(other, gateway)).not.toContain('hello')
    } finally {
      await other.remove({ force: true })
    }
  } finally {
    await user.remove()
  }
})

test('on the host network the names are 127.0.0.1, which reaches the app; bad ports and gatewayless networks are EINVALID', async () => {
  const c = await run('bb', ['sh', '-c', `grep host.minicontainer.internal /etc/hosts; nc -w 3 host.docker.internal ${port} </dev/null`], { runtime, network: 'host', exposeHostPorts: [port] })
  expect(await c.wait()).toEqual({ exitCode: 0 })
  expect(await text(c.logs())).toBe('127.0.0.1\thost.minicontainer.internal\nhello from the app\n')
  await c.remove()
  for (const [opts, message] of [
    [{ network: 'bridge', exposeHostPorts: [0] }, 'must be an array of ports (1-65535)'],
    [{ network: 'bridge', exposeHostPorts: ['3000'] }, 'must be an array of ports (1-65535)'],
    [{ network: 'none', exposeHostPorts: [port] }, 'exposeHostPorts needs a bridge network or the host\'s, not network "none"'],
  ] as const) {
    const err = await run('bb', ['true'], { runtime, ...(opts as object) }).catch((e: Error) => e)
    expect(err).toMatchObject({ code: 'EINVALID', message: expect.stringContaining(message) })
  }
})

/** The host's nf_tables ruleset, as an observer. */
function ruleset(): string {
  return execFileSync('nft', ['list', 'ruleset'], { encoding: 'utf8' })
}

test("a container of another network does not reach the port through the asking network's gateway; the rule goes with the container", async () => {
  const a = await Network.create(`expose-a-${randomBytes(3).toString('hex')}`, { runtime })
  const b = await Network.create(`expose-b-${randomBytes(3).toString('hex')}`, { runtime })
  try {
    const asking = await run('bb', ['sleep', '60'], { runtime, network: a.name, exposeHostPorts: [port] })
    const other = await run('bb', ['sleep', '60'], { runtime, network: b.name })
    try {
      const gatewayA = (await asking.inspect()).networkSettings.networks[a.name]!.gateway
      expect(await readFrom(asking, gatewayA)).toBe('hello from the app\n')
      expect(await readFrom(other, gatewayA)).not.toContain('hello')
      expect(ruleset()).toContain(`exp:${asking.id}`)
    } finally {
      await asking.remove({ force: true })
      await other.remove({ force: true })
    }
    expect(ruleset()).not.toContain(`exp:${asking.id}`)
  } finally {
    await a.remove()
    await b.remove()
  }
})

test('an app listening on every address is exposed without a relay; a socket on the gateway address alone is EPORTINUSE, with no rule left', async () => {
  const everywhere = net.createServer((s) => s.end('hello from everywhere\n'))
  await new Promise<void>((resolve) => everywhere.listen(0, resolve))
  const user = await Network.create(`expose-${randomBytes(3).toString('hex')}`, { runtime })
  try {
    const wildPort = (everywhere.address() as net.AddressInfo).port
    const c = await run('bb', ['sleep', '60'], { runtime, network: user.name, exposeHostPorts: [wildPort] })
    try {
      const r = await c.exec(['sh', '-c', `nc -w 3 host.docker.internal ${wildPort} </dev/null 2>&1`])
      expect(r.stdout).toBe('hello from everywhere\n')
    } finally {
      await c.remove({ force: true })
    }
    // Something else holds <gateway>:<port> itself: the app on 127.0.0.1 cannot be relayed there.
    const gateway = (await user.inspect()).gateway
    const squatter = net.createServer((s) => s.end('not the app\n'))
    await new Promise<void>((resolve) => squatter.listen(port, gateway, resolve))
    try {
      const err = await run('bb', ['sleep', '60'], { runtime, network: user.name, exposeHostPorts: [port] }).catch((e: Error) => e)
      expect(err).toMatchObject({ code: 'EPORTINUSE', message: expect.stringContaining(`${gateway}:${port}/tcp`) })
      expect(ruleset()).not.toMatch(new RegExp(`daddr ${gateway.replace(/\./g, '\\.')} tcp dport ${port}\\b`))
    } finally {
      squatter.close()
    }
  } finally {
    await user.remove()
    everywhere.close()
  }
})

test('relays started while other containers start bind on the host, not in a container being set up', async () => {
  const user = await Network.create(`expose-${randomBytes(3).toString('hex')}`, { runtime })
  const rounds = 12
  const started: Container[] = []
  try {
    const starts = Array.from({ length: rounds }, (_, i) =>
      run('bb', ['sleep', '60'], { runtime, network: user.name, ...(i % 2 ? {} : { exposeHostPorts: [port] }) }).then((c) => {
        started.push(c)
        return c
      }),
    )
    const results = await Promise.allSettled(starts)
    expect(results.filter((r) => r.status === 'rejected')).toEqual([])
    for (const c of started) {
      if ((await c.inspect()).hostConfig.exposeHostPorts) expect(await readFrom(c, 'host.minicontainer.internal')).toBe('hello from the app\n')
    }
  } finally {
    await Promise.all(started.map((c) => c.remove({ force: true })))
    await user.remove()
  }
})

test("a container that did not ask costs its exit no firewall call (an exposure is closed by the process that opened it; others' rules go with garbage collection)", async () => {
  // Observed, not replaced: the spy calls through.
  const { Firewall } = await import('../../lib/network/nftables')
  const removals = jest.spyOn(Firewall.prototype, 'removeExposures')
  try {
    const plain = await run('bb', ['true'], { runtime, network: 'none' })
    expect(await plain.wait()).toEqual({ exitCode: 0 })
    await plain.remove()
    expect(removals).not.toHaveBeenCalled()
    const asking = await run('bb', ['true'], { runtime, exposeHostPorts: [port] })
    expect(await asking.wait()).toEqual({ exitCode: 0 })
    await asking.remove()
    // remove() resolves once the rules are gone, though the exit's release (still reaping the relay) closed first.
    expect(removals).toHaveBeenCalledWith(asking.id)
    expect(ruleset()).not.toContain(`exp:${asking.id}`)
  } finally {
    removals.mockRestore()
  }
})
