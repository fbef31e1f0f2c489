/**
 * What `runtime.close()` leaves in the process: nothing. The spare shim the
 * pool keeps warm for the next start ends with it. A spare that outlived
 * close() was a process per copy of the library, and in a jest worker (one
 * copy per test file) it also held that copy's objects for the worker's life.
 * Observed from outside: the process's children in /proc.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, Image, Network, Runtime, RuntimeClosedError, Wait, run } from '../../lib'
import { childProcesses, commandLine } from '../helpers'
import { SHIM_PROTOCOL_VERSION } from '../../lib/shim/protocol'
import { useSubnets } from '../net-helpers'
import { hostLinks, nftTables } from '../network/helpers'
import { runtimeWithSpareShim, spawnNode } from '../tools/node-child'

const [bridgeNet, keptNet] = useSubnets(2)

test('close() ends the spare shim, and the process then exits by itself', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-close-'))
  const setup = new Runtime({ root })
  await Image.fromHost({ runtime: setup }) // the child's run needs the image here: nothing is pulled
  await setup.close()
  const child = spawnNode(
    `const { Runtime, run } = lib();
    (async () => {
      ${runtimeWithSpareShim(root)}
      console.log('ready')
      // Closes on the first line; lets go of stdin (its last handle) on the second, once observed.
      process.stdin.once('data', () => runtime.close().then(() => (console.log('closed'), process.stdin.once('data', () => process.stdin.destroy()))))
    })()`,
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  let out = ''
  const said = (line: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => out.includes(line) && resolve()
      child.stdout!.on('data', (d) => ((out += String(d)), check()))
      void exited.then(() => reject(new Error(`the child exited before saying "${line}": ${out}`)))
      check()
    })
  try {
    await said('ready')
    // The zygote (lib/shim/zygote.ts) and the spare it forked, waiting for a spec.
    expect(childProcesses(child.pid!).map(([pid]) => commandLine(pid)).sort()).toEqual([`mc-shim run ${child.pid}`, `mc-shim zygote ${child.pid} ${SHIM_PROTOCOL_VERSION}`])
    child.stdin!.write('close\n')
    await said('closed')
    expect(childProcesses(child.pid!)).toEqual([])
    child.stdin!.write('done\n')
    // Nothing holds its event loop: it ends on its own, promptly.
    const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('still running after 10 s'), 10_000).unref())
    expect(await Promise.race([exited, timeout])).toBe(0)
  } finally {
    child.kill('SIGKILL')
    fs.rmSync(root, { recursive: true, force: true })
  }
})

/** Pids of the processes whose command line contains `marker` (the tests' programs carry one as sleep's argument). */
function processesWith(marker: string): number[] {
  const pids: number[] = []
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) pids.push(Number(entry))
    } catch {
      /* ended meanwhile */
    }
  }
  return pids
}

/** A runtime with the host image whose default bridge is on this file's test subnet; `use` gets it; its root goes afterwards. */
async function withRuntime(use: (rt: Runtime) => Promise<void>): Promise<void> {
  const rt = new Runtime({ root: fs.mkdtempSync(path.join(os.tmpdir(), 'mc-close-')), subnetPool: [bridgeNet.cidr] })
  try {
    await Image.fromHost({ runtime: rt })
    await use(rt)
  } finally {
    for (const c of await Container.list({ runtime: rt, all: true })) await c.remove({ force: true }).catch(() => {})
    await rt.close()
    fs.rmSync(rt.root, { recursive: true, force: true })
  }
}

/** What close() must leave of the runtime's network: no bridge, no veth, no nf_tables table. */
function expectNoNetworkLeft(rt: Runtime): void {
  const names = rt.networks.names
  expect(hostLinks(names.bridgePrefix)).toEqual([])
  expect(hostLinks(names.vethPrefix)).toEqual([])
  expect(nftTables()).not.toContain(`table ip ${names.table}`)
}

describe('close() while containers are still starting', () => {
  test('runs called just before close(), one bridged: none runs on afterwards, no bridge or table is left, and they fail with ECLOSED', async () => {
    await withRuntime(async (rt) => {
      const marker = `${Date.now()}${process.pid}`
      const runs = [run('host', ['sleep', `1${marker}`], { runtime: rt, network: 'none' }), run('host', ['sleep', `2${marker}`], { runtime: rt })]
      // Their refusals may come while close() is still under way: handled from the start, not left unhandled till then.
      const settled = Promise.allSettled(runs)
      await rt.close()
      const outcomes = await settled
      expect(processesWith(marker)).toEqual([])
      expectNoNetworkLeft(rt)
      // Refused between their create and their start, and removed again (a run that fails leaves nothing).
      for (const o of outcomes) expect(o).toMatchObject({ status: 'rejected', reason: { code: 'ECLOSED' } })
      expect(await Container.list({ runtime: rt, all: true })).toEqual([])
    })
  })

  test('a bridged start in flight when close() begins is waited for, then its program killed; its network goes with the runtime', async () => {
    await withRuntime(async (rt) => {
      const marker = `${Date.now()}${process.pid}`
      const c = await Container.create('host', ['sleep', `3${marker}`], { runtime: rt })
      const starting = c.start()
      await rt.close()
      await starting // it was under way: it completes, and close() then stops it
      expect(processesWith(marker)).toEqual([])
      expect((await c.inspect()).state).toMatchObject({ running: false, exitCode: 137 })
      expectNoNetworkLeft(rt)
    })
  })

  test('after close(), create, run, start and exec are ECLOSED (RuntimeClosedError) and start nothing; reading and removing still work', async () => {
    await withRuntime(async (rt) => {
      const created = await Container.create('host', ['sleep', '1000'], { runtime: rt, network: 'none' })
      const running = await run('host', ['sleep', '1000'], { runtime: rt, network: 'none', detach: true })
      await rt.close()
      await expect(run('host', ['true'], { runtime: rt, network: 'none' })).rejects.toBeInstanceOf(RuntimeClosedError)
      await expect(Container.create('host', ['true'], { runtime: rt })).rejects.toMatchObject({ code: 'ECLOSED', message: expect.stringContaining('new Runtime') })
      await expect(created.start()).rejects.toMatchObject({ code: 'ECLOSED' })
      await expect(running.exec(['true'])).rejects.toMatchObject({ code: 'ECLOSED' })
      expect((await created.inspect()).state.running).toBe(false)
      expect((await Container.list({ runtime: rt, all: true })).map((c) => c.id).sort()).toEqual([created.id, running.id].sort())
      // The detached one outlives close(), as documented; it can still be removed.
      expect((await running.inspect()).state.running).toBe(true)
      await running.remove({ force: true })
      await created.remove()
    })
  })
  test("a detached container's health checks go on after close(): they are not execs refused with ECLOSED", async () => {
    await withRuntime(async (rt) => {
      const healthcheck = { test: ['CMD', 'true'], interval: 50, retries: 1 }
      const c = await run('host', ['sleep', '1000'], { runtime: rt, network: 'none', detach: true, healthcheck, waitFor: Wait.forHealthCheck() })
      await rt.close()
      const closedAt = Date.now()
      let after: { exitCode: number }[] = []
      for (let i = 0; i < 30 && after.length < 3; i++) {
        await new Promise((r) => setTimeout(r, 100))
        after = (await c.inspect()).state.health!.log.filter((r) => Date.parse(r.start) > closedAt)
      }
      expect(after.length).toBeGreaterThanOrEqual(3) // checks ran after close...
      expect(after.filter((r) => r.exitCode !== 0)).toEqual([]) // ...and passed
      expect((await c.inspect()).state.health!.status).toBe('healthy')
    })
  })
})

describe('close() and the user networks of another process on the same root', () => {
  test("keeps a network another live process created (record, bridge, table), which it can still use; after that process is gone, the next close() removes it", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-close-'))
    const rt = new Runtime({ root, subnetPool: [bridgeNet.cidr] })
    await Image.fromHost({ runtime: rt }) // the child's run needs the image here: nothing is pulled
    const name = `kept-${process.pid}`
    // The child creates the network, then on each line of stdin runs a container on it; stdin's end lets it exit (no close()).
    const child = spawnNode(
      `const { Network, Runtime, run } = lib();
      (async () => {
        const runtime = new Runtime({ root: ${JSON.stringify(root)}, subnetPool: [${JSON.stringify(bridgeNet.cidr)}] })
        await Network.create(${JSON.stringify(name)}, { runtime, subnet: ${JSON.stringify(keptNet.cidr)} })
        console.log('ready')
        process.stdin.on('data', async () => {
          const c = await run('host', ['true'], { runtime, network: ${JSON.stringify(name)} })
          const { exitCode } = await c.wait()
          await c.remove()
          console.log('ran ' + exitCode)
        })
        process.stdin.once('end', () => process.exit(0))
      })().catch((err) => (console.error(err), process.exit(1)))`,
      { stdio: ['pipe', 'pipe', 'inherit'] },
    )
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    let out = ''
    child.stdout!.on('data', (d) => (out += String(d)))
    const said = async (line: string) => {
      for (let i = 0; i < 600 && !out.includes(line); i++) await new Promise((r) => setTimeout(r, 50))
      expect(out).toContain(line)
    }
    const names = rt.networks.names
    try {
      await said('ready')
      const { bridge } = await (await Network.get(name, { runtime: rt })).inspect()
      await rt.close()
      expect((await Network.list({ runtime: rt })).map((n) => n.name)).toContain(name)
      expect(hostLinks(bridge)).toEqual([bridge])
      expect(nftTables()).toContain(`table ip ${names.table}`)
      child.stdin!.write('run\n')
      await said('ran 0')

      child.stdin!.end()
      await exited
      const next = new Runtime({ root, subnetPool: [bridgeNet.cidr] })
      await next.close()
      expect((await Network.list({ runtime: next })).map((n) => n.name)).not.toContain(name)
      expectNoNetworkLeft(next)
    } finally {
      child.kill('SIGKILL')
      await exited
      await new Runtime({ root }).close({ removeRoot: true })
    }
  })
})
