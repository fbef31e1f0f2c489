/**
 * `sysctls` (`docker run --sysctl`): the values are set in the container's
 * own namespaces before its program runs, read back from its /proc/sys, and
 * the host's stay as they were; parameters a container may not set are
 * EINVALID at create, leaving no container.
 */
import * as fs from 'node:fs'
import { Container, run, type Runtime } from '../../lib'
import { text, useRuntime } from '../helpers'

let runtime: Runtime
useRuntime((r) => (runtime = r), { busybox: true, hostImage: false })

const hostValue = (name: string) => fs.readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8')

test('net.*, IPC and mqueue parameters are the container\'s from its first instruction; the host keeps its own', async () => {
  const wanted = { 'net.ipv4.ip_unprivileged_port_start': '81', 'net.ipv4.tcp_syncookies': '0', 'kernel.shmmax': '123456789', 'fs.mqueue.msg_max': '17', 'kernel.domainname': 'example.test' }
  const before = Object.fromEntries(Object.keys(wanted).map((k) => [k, hostValue(k)]))
  expect(Object.entries(wanted).filter(([k, v]) => before[k] === `${v}\n`)).toEqual([])
  const files = Object.keys(wanted).map((k) => `/proc/sys/${k.replace(/\./g, '/')}`).join(' ')
  const c = await run('bb', ['sh', '-c', `cat ${files}`], { runtime, sysctls: wanted })
  await c.wait()
  expect(await text(c.logs())).toBe(Object.values(wanted).map((v) => `${v}\n`).join(''))
  expect((await c.inspect()).hostConfig.sysctls).toEqual(wanted)
  await c.remove()
  for (const k of Object.keys(wanted)) expect(hostValue(k)).toBe(before[k])
})

test('a parameter of the host, net.* on the host network, kernel.hostname or a bad name is EINVALID; nothing is created', async () => {
  const count = async () => (await Container.list({ runtime, all: true })).length
  const before = await count()
  const refused = (sysctls: Record<string, string>, network?: string) => expect(run('bb', ['true'], { runtime, sysctls, network })).rejects.toMatchObject({ code: 'EINVALID' })
  await refused({ 'kernel.panic': '1' })
  await refused({ 'vm.swappiness': '1' })
  await refused({ 'net.ipv4.ip_forward': '1' }, 'host')
  await refused({ 'kernel.hostname': 'x' })
  await refused({ '../../etc/x': '1' })
  await expect(run('bb', ['true'], { runtime, sysctls: { 'net.ipv4.ip_forward': 1 as unknown as string } })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('must be a string') })
  expect(await count()).toBe(before)
})

test('a value the kernel refuses fails the start naming the parameter, and leaves no container', async () => {
  const before = (await Container.list({ runtime, all: true })).length
  await expect(run('bb', ['true'], { runtime, sysctls: { 'net.ipv4.ip_unprivileged_port_start': 'not-a-number' } })).rejects.toMatchObject({ message: expect.stringContaining('/proc/sys/net/ipv4/ip_unprivileged_port_start') })
  expect((await Container.list({ runtime, all: true })).length).toBe(before)
})
