/**
 * The private Docker engine helper: it runs, its containers talk over
 * docker0, its firewall stays in its own network namespace, and stop()
 * leaves nothing behind.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import { dockerImportBusybox, startPrivateDocker, type PrivateDocker } from './docker-engine'

let engine: PrivateDocker
const hostFilter = () => execFileSync('iptables', ['-S']).toString()
/** The chain policies of the host's filter table (a host Docker engine, as in CI, sets FORWARD to DROP itself). */
const policies = (rules: string) => rules.split('\n').filter((l) => l.startsWith('-P '))
const hostHasDocker0 = () => /\bdocker0\b/.test(execFileSync('ip', ['-o', 'link', 'show']).toString())
let policiesBefore: string[]
let docker0Before: boolean

beforeAll(async () => {
  policiesBefore = policies(hostFilter())
  docker0Before = hostHasDocker0()
  engine = await startPrivateDocker()
  await dockerImportBusybox(engine, 'mc-bb:test')
}, 120000)

afterAll(() => engine?.stop(), 60000)

test('the engine answers and its rules live in its own network namespace only', async () => {
  expect(await engine.ok(['version', '--format', '{{.Server.Os}}'])).toBe('linux')
  const inside = execFileSync('nsenter', [`--net=${engine.netns}`, '--', 'iptables', '-S']).toString()
  expect(inside).toContain('-P FORWARD DROP')
  expect(inside).toContain('-N DOCKER-USER')
  // The engine lives in another network namespace, and the host's firewall and links are as they were
  // (whether or not the host runs a Docker engine of its own).
  expect(fs.readlinkSync(`/proc/${engine.pid}/ns/net`)).not.toBe(fs.readlinkSync('/proc/self/ns/net'))
  expect(policies(hostFilter())).toEqual(policiesBefore)
  expect(hostHasDocker0()).toBe(docker0Before)
})

test('two containers on docker0 reach each other', async () => {
  const a = await engine.ok(['run', '-d', '--name', 'mc-dk-a', 'mc-bb:test', 'sleep', '60'])
  try {
    const ip = await engine.ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', a])
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
    const r = await engine.run(['run', '--rm', 'mc-bb:test', 'ping', '-c', '1', '-W', '2', ip])
    expect(r.stdout).toContain('1 packets received')
    expect(r.code).toBe(0)
  } finally {
    await engine.run(['rm', '-f', a])
  }
})

test('stop() removes the engine, its processes and its files', async () => {
  const other = await startPrivateDocker()
  await dockerImportBusybox(other, 'mc-bb:left')
  // A container left running: stop() must take it, its shim and containerd away too.
  // A duration no other test uses, so that the check below sees only this container's program.
  const marker = String(5000 + Math.floor(Math.random() * 1000))
  await other.ok(['run', '-d', 'mc-bb:left', 'sleep', marker])
  const pidfile = fs.readFileSync(`${other.dir}/docker.pid`, 'utf8')
  expect(pidfile.trim()).toBe('1')
  await other.stop()
  expect(fs.existsSync(other.dir)).toBe(false)
  expect(fs.existsSync(other.socket)).toBe(false)
  const ps = execFileSync('ps', ['-eo', 'args']).toString().split('\n')
  expect(ps.filter((l) => l.includes(other.dir) || l.startsWith(`sleep ${marker}`))).toEqual([])
}, 120000)
