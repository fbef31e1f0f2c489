/**
 * Answers overrunning a netlink socket's receive buffer: the kernel drops them and reports ENOBUFS,
 * which the `netlink` package emits as an 'error' event from its native poll handler; unheard, that
 * is a C++ exception there, and the process aborts ("terminate called after throwing an instance of
 * 'Napi::Error'"), which no JS handler can catch. nf_tables answers every command of a batch at once,
 * so a big batch (a container publishing ~140 ports: ~280 rules) overran the default 208 KB.
 * Each scenario runs in a child process (an abort must not take jest's worker) in a network namespace
 * of its own (`unshare -n`), so nothing reaches the host's tables.
 */
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import { Container, Runtime } from '../../lib'
import { useSubnets } from '../net-helpers'
import { makeRoot } from './helpers'
import { nodeScript } from '../tools/node-child'

/** Runs `body` (an async function's lines, `nl` an nf_tables socket) in a new network namespace; returns its outcome. */
function inOwnNetns(body: string): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const script = nodeScript(`;(async () => {
      const { NfNetlink, NftMsg } = lib('network/nfnetlink')
      const { strAttr } = lib('network/nlattr')
      const nl = new NfNetlink()
      const table = [{ msg: NftMsg.NEWTABLE, flags: 0x400, attrs: [strAttr(1, 't')] }]
      const chain = (name, table = 't') => ({ msg: NftMsg.NEWCHAIN, flags: 0x400, attrs: [strAttr(1, table), strAttr(3, name)] })
      try {
        ${body}
      } finally {
        nl.close()
      }
    })().catch((e) => { console.log(JSON.stringify({ code: e.code, errno: e.errno, message: e.message })); process.exitCode = 3 })`)
  const r = spawnSync('unshare', ['-n', process.execPath, '-e', script], { encoding: 'utf8', timeout: 60_000 })
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr }
}

test('a batch whose acks overrun the default receive buffer (1000 commands) is applied: the socket makes room for its acks', () => {
  const r = inOwnNetns(`
        await nl.batch('many chains', [...table, ...Array.from({ length: 1000 }, (_, i) => chain('c' + i))])
        const chains = await nl.dump(NftMsg.GETCHAIN, [strAttr(1, 't')])
        console.log(JSON.stringify({ chains: chains.length }))`)
  expect(r.stderr).not.toMatch(/terminate called/)
  expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null })
  expect(JSON.parse(r.stdout.trim())).toEqual({ chains: 1000 })
})

test('a batch whose acks need more than net.core.rmem_max gets its room all the same (SO_RCVBUFFORCE, as root)', () => {
  // SO_RCVBUF stops at rmem_max (global, not per namespace: this host's may be raised), beyond which the
  // acks were dropped unseen and an applied batch failed ETIMEDOUT. Commands enough to need more than it,
  // each short (the datagram must fit the send buffer); the kernel reads back twice the size set.
  const rmemMax = Number(fs.readFileSync('/proc/sys/net/core/rmem_max', 'utf8'))
  const commands = Math.ceil(rmemMax / 1024) + 200
  const r = inOwnNetns(`
        await nl.batch('many chains', [...table, ...Array.from({ length: ${commands} }, (_, i) => chain('c' + i))])
        console.log(JSON.stringify({ buffer: nl.sock.socket.getRecvBufferSize() }))`)
  expect({ status: r.status, signal: r.signal, stdout: r.stdout }).toMatchObject({ status: 0, signal: null })
  expect(JSON.parse(r.stdout.trim()).buffer).toBeGreaterThan(2 * rmemMax)
})

test('answers that overrun the buffer even so (big error answers, each carrying its request) are dropped unreported: the batch fails with its first error, and the process lives on', () => {
  // Every command fails (no such table, and a name over the limit); an error answer carries the whole
  // request (1 KB here), so the answers are far bigger than the acks the buffer was sized for.
  const r = inOwnNetns(`
        const long = (i) => 'x'.repeat(1000) + i
        await nl.batch('failing chains', Array.from({ length: 100 }, (_, i) => chain(long(i), 'missing')))
        console.log(JSON.stringify({ applied: true }))`)
  expect(r.stderr).not.toMatch(/terminate called/)
  expect({ status: r.status, signal: r.signal }).toEqual({ status: 3, signal: null })
  expect(JSON.parse(r.stdout.trim())).toMatchObject({ code: 'ESYSCALL', errno: 'ERANGE', message: 'nf_tables failing chains failed: ERANGE' })
})

test('a batch over the send buffer fails EMSGSIZE: the package emits it as an error event, which aborted the process unheard', () => {
  const r = inOwnNetns(`
        await nl.batch('huge', [...table, ...Array.from({ length: 1000 }, (_, i) => chain('x'.repeat(240) + i))])
        console.log(JSON.stringify({ applied: true }))`)
  expect(r.stderr).not.toMatch(/terminate called|Unhandled 'error' event/)
  expect({ status: r.status, signal: r.signal }).toEqual({ status: 3, signal: null })
  expect(JSON.parse(r.stdout.trim())).toMatchObject({ code: 'ESYSCALL', errno: 'EMSGSIZE', message: 'nf_tables huge failed: EMSGSIZE' })
})

const pool = useSubnets(1)[0].cidr

test('a container publishing a range of 150 ports (one batch of 300 rules) runs, in a process that lives on', async () => {
  const root = makeRoot()
  try {
    const script = nodeScript(`;(async () => {
      const { Runtime, Image, run } = lib()
      const runtime = new Runtime({ root: ${JSON.stringify(root)}, subnetPool: [${JSON.stringify(pool)}] })
      await Image.fromHost({ runtime })
      for (let attempt = 0; ; attempt++) {
        const low = 46000 + Math.floor(Math.random() * 3000)
        try {
          const c = await run('host', ['sleep', '30'], { runtime, ports: ['127.0.0.1:' + low + '-' + (low + 149) + ':' + low + '-' + (low + 149)] })
          console.log(JSON.stringify({ status: (await c.inspect()).state.status }))
          await c.remove({ force: true })
          break
        } catch (e) {
          if (e.code !== 'EPORTINUSE' || attempt === 5) throw e
        }
      }
      await runtime.close()
    })().catch((e) => { console.log(JSON.stringify({ code: e.code, message: e.message })); process.exitCode = 3 })`)
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 90_000 })
    expect(r.stderr).not.toMatch(/terminate called/)
    expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null })
    expect(JSON.parse(r.stdout.trim())).toEqual({ status: 'running' })
  } finally {
    // What an aborted child left: its container, network and rules go with the root.
    const runtime = new Runtime({ root, subnetPool: [pool] })
    for (const c of await Container.list({ runtime, all: true })) await c.remove({ force: true })
    await runtime.close({ removeRoot: true })
    fs.rmSync(root, { recursive: true, force: true })
  }
}, 120_000)
