/**
 * posix_spawn off the event loop: 50 starts at once found one spare shim,
 * and each of the 49 others spawned its shim on the event loop, waiting
 * there until the child had exec'd, one after the other.
 */
import * as fs from 'node:fs'
import { spawnProcessAsync, waitPid } from '../../lib/sys/libc'
import { countSyscalls } from '../tools/strace'

test('spawnProcessAsync spawns on a worker thread: the event loop turns before it resolves; the child gets its argv, env and fds', async () => {
  const out = `/tmp/mc-spawn-async-${process.pid}`
  const fd = fs.openSync(out, 'w')
  try {
    const order: string[] = []
    setImmediate(() => order.push('event loop turned'))
    const pid = await spawnProcessAsync('/bin/sh', ['sh', '-c', 'echo "$0 $WHO"; exit 7'], ['WHO=child'], [-1, fd, -1], false)
    order.push('spawned')
    expect(order).toEqual(['event loop turned', 'spawned'])
    expect((waitPid(pid)! >> 8) & 0xff).toBe(7)
    expect(fs.readFileSync(out, 'utf8')).toBe('sh child\n')
  } finally {
    fs.closeSync(fd)
    fs.rmSync(out, { force: true })
  }
})

test('spawnProcessAsync of a missing program rejects with ESYSCALL posix_spawn ENOENT naming it', async () => {
  await expect(spawnProcessAsync('/nonexistent/mc-shim', ['mc-shim'], [], [-1, -1, -1], false)).rejects.toMatchObject({
    code: 'ESYSCALL',
    message: 'posix_spawn /nonexistent/mc-shim failed: ENOENT',
  })
})

test('50 spawnProcessAsync at once: the event loop maps and unmaps no async stack per call beyond the 8 that koffi keeps (at most 8 calls wait on workers)', async () => {
  const spawnAll = async () => {
    const pids = await Promise.all(Array.from({ length: 50 }, () => spawnProcessAsync('/bin/true', ['true'], [], [-1, -1, -1], false)))
    for (const pid of pids) expect(waitPid(pid)).toBe(0)
  }
  await spawnAll() // koffi's resident memory for async calls is made
  const counts = await countSyscalls(process.pid, ['mmap', 'munmap'], spawnAll)
  // Without the bound: about 90 of each (a stack and a heap for each of the 42 calls beyond 8).
  expect(counts.mmap + counts.munmap).toBeLessThan(40)
})
