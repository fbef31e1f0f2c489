/**
 * What a testcontainers user reaches for in their first hour (issue 24):
 * run(image, opts), c.host and c.mappedPort(), Network objects as networks,
 * wait errors naming the container, host-gateway, restart({ timeout }),
 * logs of an exited rm: true container.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as net from 'node:net'
import { randomBytes } from 'node:crypto'
import { Container, LocalImageMissingError, MiniContainerError, Network, parseReference, RegistryError, run, Volume, Wait, type Runtime } from '../../lib'
import { text, useRuntime } from '../helpers'

jest.setTimeout(120_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true, hostImage: false })

/** Sends `line` to 127.0.0.1:port and returns what comes back first. */
function echo(host: string, port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, host, () => s.write(line))
    s.setTimeout(5000, () => s.destroy(new Error('no answer')))
    s.once('data', (d) => (resolve(d.toString()), s.destroy()))
    s.once('error', reject)
  })
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (err) {
    return (err as MiniContainerError).code
  }
  return undefined
}

describe('run(image, opts)', () => {
  test('a non-array second argument is the options: the image command runs in the given runtime', async () => {
    const c = await run('bb', { runtime, network: 'none', entrypoint: ['sh', '-c', 'echo from opts'] })
    expect(await c.wait()).toEqual({ exitCode: 0 })
    expect(await text(c.logs())).toBe('from opts\n')
    await c.remove()
  })

  test('a command that is not an array, with options after it, is EINVALID', async () => {
    const bad = run as unknown as (image: string, cmd: unknown, opts: unknown) => Promise<Container>
    const err = await bad('bb', { name: 'x' }, { runtime }).catch((e: Error) => e)
    expect(err).toMatchObject({ code: 'EINVALID' })
    expect((err as Error).message).toMatch(/run\(image, opts\)/)
  })
})

describe('c.host and c.mappedPort()', () => {
  test('reach a published port; an unpublished one is EINVALID naming the published ones; a stopped container ENOTRUNNING', async () => {
    const c = await run('bb', {
      runtime, ports: ['7000'], entrypoint: ['nc', '-ll', '-p', '7000', '-e', 'cat'], waitFor: Wait.forListeningPorts(), startupTimeout: 20_000,
    })
    try {
      expect(c.host).toBe('127.0.0.1')
      const port = c.mappedPort(7000)
      expect(typeof port).toBe('number')
      expect(port).toBe(Number(c.port(7000)!.hostPort))
      expect(await echo(c.host, port, 'hi\n')).toBe('hi\n')
      let err: MiniContainerError | undefined
      try {
        c.mappedPort(6379)
      } catch (e) {
        err = e as MiniContainerError
      }
      expect(err).toMatchObject({ code: 'EINVALID', port: '6379/tcp' })
      expect(err!.message).toContain(`7000/tcp -> 0.0.0.0:${port}`)
      expect(await codeOf(() => c.mappedPort(7000, 'udp'))).toBe('EINVALID')
      expect(await codeOf(() => c.mappedPort(0))).toBe('EINVALID')
      await c.stop({ timeout: 0 })
      expect(await codeOf(() => c.mappedPort(7000))).toBe('ENOTRUNNING')
    } finally {
      await c.remove({ force: true })
    }
  })
})

describe('Network objects as networks', () => {
  test('network: a Network handle joins that network (inspect shows its name), peers resolve each other; a non-network object is EINVALID', async () => {
    const net = await Network.create(`conv-${randomBytes(3).toString('hex')}`, { runtime })
    try {
      const server = await run('bb', ['nc', '-ll', '-p', '7000', '-e', 'cat'], { runtime, network: net, aliases: ['echo-server'] })
      try {
        expect((await server.inspect()).hostConfig.networkMode).toBe(net.name)
        expect(Object.keys((await server.inspect()).networkSettings.networks)).toEqual([net.name])
        const client = await run('bb', ['sh', '-c', 'sleep 0.3; echo ping | nc -w 2 echo-server 7000'], { runtime, network: net })
        expect(await client.wait()).toEqual({ exitCode: 0 })
        expect(await text(client.logs())).toBe('ping\n')
        await client.remove()
      } finally {
        await server.remove({ force: true })
      }
      const notANetwork = { name: net.name } as unknown as Network
      expect(await codeOf(run('bb', ['true'], { runtime, network: notANetwork }))).toBe('EINVALID')
    } finally {
      await net.remove()
    }
  })
})

describe('wait errors name their container', () => {
  test('ETIMEOUT and EEXITED carry the id and name (in the message too); keepOnFailure without a name: the error finds the kept container', async () => {
    const timedOut = (await run('bb', ['sleep', '30'], {
      runtime, network: 'none', waitFor: Wait.forLogMessage('never printed'), startupTimeout: 300, keepOnFailure: true,
    }).catch((e: unknown) => e)) as MiniContainerError & { containerId: string; containerName: string }
    expect(timedOut).toMatchObject({ code: 'ETIMEOUT' })
    expect(timedOut.containerId).toMatch(/^[0-9a-f]{64}$/)
    expect(timedOut.message).toContain(`container ${timedOut.containerName} (${timedOut.containerId.slice(0, 12)})`)
    const kept = await Container.get(timedOut.containerId, { runtime })
    expect(kept.name).toBe(timedOut.containerName)
    expect((await kept.inspect()).state.running).toBe(true)
    await kept.remove({ force: true })

    const exited = (await run('bb', ['sh', '-c', 'echo bye; exit 3'], {
      runtime, network: 'none', name: `conv-exit-${randomBytes(3).toString('hex')}`, waitFor: Wait.forLogMessage('never printed'),
    }).catch((e: unknown) => e)) as MiniContainerError & { containerId: string; containerName: string }
    expect(exited).toMatchObject({ code: 'EEXITED', exitCode: 3, containerName: expect.stringMatching(/^conv-exit-/) })
    // Without keepOnFailure it was removed.
    expect(await codeOf(Container.get(exited.containerId, { runtime }))).toBe('ENOCONTAINER')
  })
})

describe('extraHosts host-gateway', () => {
  /** A TCP server on the host at `ip` (a bridge gateway of ours) answering "host" to each connection. */
  async function hostServer(ip: string): Promise<net.Server> {
    const server = net.createServer((s) => s.end('host\n'))
    await new Promise<void>((resolve) => server.listen(0, ip, resolve))
    return server
  }

  test('on the default bridge and on a user network: the name is the network gateway, which reaches a host server; fixed entries stay', async () => {
    const net1 = await Network.create(`conv-gw-${randomBytes(3).toString('hex')}`, { runtime })
    try {
      for (const network of ['bridge', net1.name]) {
        const c = await run('bb', ['sleep', '30'], { runtime, network, extraHosts: ['host.docker.internal:host-gateway', 'db:10.0.0.5'] })
        try {
          const gateway = (await c.inspect()).networkSettings.gateway
          expect(gateway).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
          const hosts = (await c.exec(['cat', '/etc/hosts'])).stdout
          expect(hosts).toContain(`${gateway}\thost.docker.internal`)
          expect(hosts).toContain('10.0.0.5\tdb')
          const server = await hostServer(gateway)
          try {
            const port = (server.address() as net.AddressInfo).port
            const r = await c.exec(['sh', '-c', `nc -w 3 host.docker.internal ${port} </dev/null`])
            expect(r.stdout).toBe('host\n')
          } finally {
            server.close()
          }
        } finally {
          await c.remove({ force: true })
        }
      }
    } finally {
      await net1.remove()
    }
  })

  test('on the host network it is 127.0.0.1; with network "none" it is EINVALID', async () => {
    const c = await run('bb', ['cat', '/etc/hosts'], { runtime, network: 'host', extraHosts: ['host.docker.internal:host-gateway'] })
    await c.wait()
    expect(await text(c.logs())).toContain('127.0.0.1\thost.docker.internal')
    await c.remove()
    const err = await run('bb', ['true'], { runtime, network: 'none', extraHosts: ['h:host-gateway'] }).catch((e: Error) => e)
    expect(err).toMatchObject({ code: 'EINVALID', message: expect.stringContaining('host-gateway needs a bridge network') })
  })
})

describe('restart({ timeout })', () => {
  test('a program that ignores SIGTERM is killed after timeout seconds and runs again, its writable layer kept; bad timeouts and rm: true are EINVALID', async () => {
    const c = await run('bb', ['sh', '-c', 'trap "" TERM; echo started; touch -a /kept; while true; do sleep 0.1; done'], { runtime, network: 'none' })
    try {
      await c.exec(['sh', '-c', 'echo layer > /kept'])
      const firstPid = (await c.inspect()).state.pid
      const t0 = performance.now()
      await c.restart({ timeout: 1 })
      const ms = performance.now() - t0
      expect(ms).toBeGreaterThanOrEqual(900)
      expect(ms).toBeLessThan(8000)
      const info = await c.inspect()
      expect(info.state.running).toBe(true)
      expect(info.state.pid).not.toBe(firstPid)
      expect((await c.exec(['cat', '/kept'])).stdout).toBe('layer\n')
      await new Promise((r) => setTimeout(r, 200))
      expect(await text(c.logs())).toBe('started\nstarted\n')
      expect(await codeOf(c.restart({ timeout: -1 }))).toBe('EINVALID')
      await c.stop({ timeout: 0 })
      await c.restart({ timeout: 0 }) // a stopped container is started
      expect((await c.inspect()).state.running).toBe(true)
    } finally {
      await c.remove({ force: true })
    }
    const rm = await run('bb', ['sleep', '30'], { runtime, network: 'none', rm: true })
    expect(await codeOf(rm.restart())).toBe('EINVALID')
    expect((await rm.inspect()).state.running).toBe(true)
    await rm.remove({ force: true })
  })
})

describe('logs of an exited rm: true container', () => {
  test('the handle that ran it still reads them (both streams, filters), bounded to the last 10 000 records', async () => {
    const c = await run('bb', ['sh', '-c', 'echo out; echo err >&2; i=0; while [ $i -lt 12000 ]; do echo line$i; i=$((i+1)); done; echo last'], {
      runtime, network: 'none', rm: true,
    })
    expect(await c.wait()).toEqual({ exitCode: 0 })
    expect(await codeOf(Container.get(c.id, { runtime }))).toBe('ENOCONTAINER')
    // The last 10 000 records (a record is a line, or a piece of one the pipe split): of out, err, line0..line11999, last.
    let records = 0
    for await (const _ of c.logEntries()) records++
    expect(records).toBe(10_000)
    const all = await text(c.logs())
    expect(all.endsWith('line11998\nline11999\nlast\n')).toBe(true)
    const firstWhole = Number(/line(\d+)\n/.exec(all)![1])
    expect(firstWhole).toBeGreaterThanOrEqual(2001)
    expect(firstWhole).toBeLessThan(2100)
    expect(await text(c.logs({ tail: 1 }))).toBe('last\n')
    // "err" comes through its own pipe: received before or among the kept records, as it happened.
    expect(['', 'err\n']).toContain(await text(c.logs({ stdout: false })))
    const entries: string[] = []
    for await (const e of c.logEntries({ tail: 1, follow: true })) entries.push(`${e.stream}:${e.log}`)
    expect(entries).toEqual(['stdout:last\n'])
  })

  test('a short log is kept whole, stderr included', async () => {
    const c = await run('bb', ['sh', '-c', 'echo out; echo err >&2; exit 4'], { runtime, network: 'none', rm: true })
    expect(await c.wait()).toEqual({ exitCode: 4 })
    expect(await text(c.logs({ stderr: false }))).toBe('out\n')
    expect(await text(c.logs({ stdout: false }))).toBe('err\n')
    expect((await text(c.logs())).length).toBe('out\nerr\n'.length)
  })
})

describe('an image neither local nor pullable', () => {
  /** A loopback port nothing listens on (bound, then closed). */
  async function closedPort(): Promise<number> {
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as net.AddressInfo
    await new Promise((resolve) => server.close(resolve))
    return port
  }

  test('says both: no local image, and why the pull failed; at once (an unreachable registry is not retried)', async () => {
    const ref = `127.0.0.1:${await closedPort()}/nosuch`
    const t0 = performance.now()
    const err = (await run(ref, { runtime }).catch((e: unknown) => e)) as LocalImageMissingError
    const ms = performance.now() - t0
    expect(err).toBeInstanceOf(LocalImageMissingError)
    expect(err.code).toBe('ENOIMAGE')
    expect(err.message).toContain(`no local image ${ref}:latest, and pulling ${ref}:latest failed: cannot reach registry`)
    expect(err.message).toContain('ECONNREFUSED')
    expect(err.cause).toBeInstanceOf(RegistryError)
    expect(ms).toBeLessThan(1000)
    console.log(`run() of an image on a closed registry port failed in ${ms.toFixed(0)} ms`)
    // pull: 'never' stays the plain local answer.
    expect(await codeOf(run(ref, { runtime, pull: 'never' }))).toBe('ENOIMAGE')
  })

  test("a short name's message names the local name and Docker Hub's full one (no network: the error alone)", () => {
    const wanted = parseReference('x')
    const err = new LocalImageMissingError(wanted.familiar, wanted.toString(), new RegistryError('cannot reach registry docker.io at https://registry-1.docker.io: EAI_AGAIN'))
    expect(err.message).toMatch(/^no local image x:latest, and pulling docker\.io\/library\/x:latest failed: cannot reach registry docker\.io .*EAI_AGAIN/)
  })
})

describe('Container.prune()', () => {
  test('removes stopped containers (exited, created) by the label and until filters; running ones stay; bad filters are EINVALID', async () => {
    const tag = randomBytes(3).toString('hex')
    const exited = await run('bb', ['true'], { runtime, network: 'none', labels: { prune: tag, kind: 'a' } })
    await exited.wait()
    const created = await Container.create('bb', ['true'], { runtime, network: 'none', labels: { prune: tag, kind: 'b' } })
    const running = await run('bb', ['sleep', '30'], { runtime, network: 'none', labels: { prune: tag } })
    try {
      expect(await Container.prune({ runtime, label: [`prune=${tag}`], until: new Date(0) })).toEqual([])
      expect(await Container.prune({ runtime, label: [`prune=${tag}`, 'kind=a'] })).toEqual([exited.id])
      expect(await Container.prune({ runtime, label: [`prune=${tag}`, 'kind'] })).toEqual([created.id])
      expect(await codeOf(Container.get(created.id, { runtime }))).toBe('ENOCONTAINER')
      expect((await running.inspect()).state.running).toBe(true)
      expect(await codeOf(Container.prune({ runtime, label: [''] }))).toBe('EINVALID')
      expect(await codeOf(Container.prune({ runtime, until: 'yesterday' }))).toBe('EINVALID')
    } finally {
      await running.remove({ force: true })
    }
  })
})

describe('Network.prune() and Volume.prune()', () => {
  test("take Container.prune's label and until filters: only unused matching networks go (their bridges with them); bad filters are EINVALID before anything goes", async () => {
    const tag = randomBytes(3).toString('hex')
    const a = await Network.create(`prune-a-${tag}`, { runtime, labels: { prune: tag, kind: 'a' } })
    const b = await Network.create(`prune-b-${tag}`, { runtime, labels: { prune: tag } })
    const bridgeOf = async (n: Network) => (await n.inspect()).bridge
    const [bridgeA, bridgeB] = [await bridgeOf(a), await bridgeOf(b)]
    const user = await run('bb', ['sleep', '30'], { runtime, network: b })
    try {
      expect(await codeOf(Network.prune({ runtime, label: [''] }))).toBe('EINVALID')
      expect(await codeOf(Network.prune({ runtime, until: 'yesterday' }))).toBe('EINVALID')
      expect(await Network.prune({ runtime, label: [`prune=${tag}`], until: new Date(0) })).toEqual([])
      expect(await Network.prune({ runtime, label: [`prune=${tag}`, 'kind=b'] })).toEqual([])
      expect(await Network.prune({ runtime, label: [`prune=${tag}`] })).toEqual([a.name]) // b is in use
      expect(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })).not.toContain(`${bridgeA}:`)
      expect(execFileSync('ip', ['-o', 'link', 'show', bridgeB], { encoding: 'utf8' })).toContain(bridgeB)
    } finally {
      await user.remove({ force: true })
    }
    expect(await Network.prune({ runtime, label: [`prune=${tag}`], until: '0s' })).toEqual([b.name])
  })

  test('volumes: label and until select among unused ones; EINVALID for a bad filter', async () => {
    const tag = randomBytes(3).toString('hex')
    const kept = await Volume.create(`keep-${tag}`, { runtime, labels: { prune: tag, kind: 'keep' } })
    const old = await Volume.create(`old-${tag}`, { runtime, labels: { prune: tag, kind: 'old' } })
    const [keptDir, oldDir] = [(await kept.inspect()).mountpoint, (await old.inspect()).mountpoint]
    expect(await codeOf(Volume.prune({ runtime, label: [''] }))).toBe('EINVALID')
    expect(await codeOf(Volume.prune({ runtime, until: 'yesterday' }))).toBe('EINVALID')
    expect(await Volume.prune({ runtime, label: [`prune=${tag}`], until: '1h' })).toEqual([]) // both made just now
    expect(await Volume.prune({ runtime, label: [`prune=${tag}`, 'kind=old'] })).toEqual([old.name])
    expect([fs.existsSync(keptDir), fs.existsSync(oldDir)]).toEqual([true, false])
    expect(await Volume.prune({ runtime, label: [`prune=${tag}`] })).toEqual([kept.name])
  })
})
