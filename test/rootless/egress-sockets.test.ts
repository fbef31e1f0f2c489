/**
 * A helper's pipes when this event loop cannot take them (lib/rootless/egress.ts spawnHelper): a
 * `net.Socket` constructor that throws (as it does with EMFILE, or a handle it cannot open) must
 * leave no pipe end open and no helper running. The constructor is made to throw on its second
 * call, slirp4netns's ready fd, the first (its stderr) having been made.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import type * as netModule from 'node:net'
import { attachEgress } from '../../lib/rootless/egress'
import { childProcesses } from '../helpers'
import { eventually } from '../network/helpers'
import { requireTool } from '../tools/registry'

// The module object itself (an `import * as` copy's properties cannot be replaced): egress.ts reads its Socket per call.
const net = require('node:net') as typeof netModule

const ns = `mcegsock${process.pid % 100000}`
beforeAll(() => execFileSync('ip', ['netns', 'add', ns]))
afterAll(() => execFileSync('ip', ['netns', 'del', ns]))

/** This process's open pipe ends, by fd. */
function pipeFds(): string[] {
  return fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('pipe:')
    } catch {
      return false // the directory's own fd, closed by now
    }
  })
}

test("a Socket constructor throwing on slirp4netns's ready fd: attachEgress answers why, every pipe end is closed, the helper is stopped", async () => {
  requireTool('slirp4netns', 'slirp4netns')
  const RealSocket = net.Socket
  let made = 0
  const spy = jest.spyOn(net, 'Socket').mockImplementation((opts?: netModule.SocketConstructorOpts) => {
    if (++made === 2) throw Object.assign(new Error('socket refused (test)'), { code: 'EMFILE' })
    return new RealSocket(opts)
  })
  const before = pipeFds()
  try {
    const r = await attachEgress({ netns: `/run/netns/${ns}` }, { helpers: ['slirp4netns'] })
    expect(r).toEqual({ ok: false, reason: expect.stringContaining('socket refused (test)') })
  } finally {
    spy.mockRestore()
  }
  expect(made).toBe(2) // the stderr socket was made, and the ready one refused
  // A destroyed socket's fd closes on the loop's next turn.
  expect(await eventually(() => pipeFds().length === before.length, 2000)).toBe(true)
  expect(pipeFds().sort()).toEqual(before.sort())
  expect(childProcesses(process.pid).filter(([, comm]) => comm === 'slirp4netns')).toEqual([])
})
