/**
 * The spare run shim makes a warm network namespace ahead of a start only when starts take one of
 * their own (network none): after a bridge start the next spares are bare (zygote request 'B'),
 * since a bridge start would only make that namespace and destroy it (under the rtnl lock).
 */
import * as fs from 'node:fs'
import { run, type Runtime } from '../../lib'
import { childProcesses, commandLine } from '../helpers'
import { useSubnets } from '../net-helpers'
import { eventually, useBridgeRuntime } from '../network/helpers'

let runtime: Runtime
const [bridgeNet] = useSubnets(1)
useBridgeRuntime(bridgeNet.cidr, (r) => (runtime = r))

/** This process's spare run shims: run shims of ours with no container (only their old root's helper). */
function allSpares(): number[] {
  return childProcesses(process.pid)
    .filter(([pid, comm]) => comm === 'mc-shim' && commandLine(pid) === `mc-shim run ${process.pid}`)
    .filter(([pid]) => childProcesses(pid).every(([, comm]) => comm === 'mc-old-root'))
    .map(([pid]) => pid)
}

/** Spares of other copies of the library in this jest worker (an earlier file's runtime left open): not this file's pool. */
let others: Set<number>
beforeAll(() => (others = new Set(allSpares())))

/** This file's pool's spares. */
const spares = () => allSpares().filter((pid) => !others.has(pid))

const netnsOf = (pid: number) => fs.readlinkSync(`/proc/${pid}/ns/net`)
const hostNetns = fs.readlinkSync('/proc/self/ns/net')

/** Whether the pool's one spare is (warm) or is not (bare) in a network namespace other than ours. */
function spareIs(warm: boolean): boolean {
  const found = spares()
  try {
    return found.length === 1 && (netnsOf(found[0]) !== hostNetns) === warm
  } catch {
    return false // it was taken meanwhile
  }
}

test('spares follow the last start: a warm network namespace after network none, none after a bridge start', async () => {
  const start = async (network: string) => expect(await (await run('host', ['true'], { runtime, network, rm: true })).wait()).toEqual({ exitCode: 0 })
  await start('none')
  expect(await eventually(() => spareIs(true), 15_000)).toBe(true)
  await start('bridge')
  expect(await eventually(() => spareIs(false), 15_000)).toBe(true)
  // A bare spare serves a start on network none too (its clone makes the namespace), and the next spare is warm again.
  await start('none')
  expect(await eventually(() => spareIs(true), 15_000)).toBe(true)
})
