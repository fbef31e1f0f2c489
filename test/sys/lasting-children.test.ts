/**
 * Children handed to the lasting thread (lib/sys/lasting-children.ts, native/spawn.c): reaped() says
 * when that thread reaped one, by a pipe the thread closes as it reaps, which the event loop watches
 * (before, a 2 ms timer asked the thread again and again).
 */
import * as fs from 'node:fs'
import { closeQuietly, pipe, spawnProcess } from '../../lib/sys/libc'
import { adoptChild } from '../../lib/sys/lasting-children'
import { sleep } from '../helpers'

/** Timers of this thread's event loop. */
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length

test('reaped() resolves once the lasting thread reaped the child (its pid gone, not a zombie), with no timer asking meanwhile', async () => {
  const [stdin, writer] = pipe()
  // Runs until our end of its stdin closes.
  const pid = spawnProcess('/bin/sh', ['sh', '-c', 'read line'], [], [stdin, -1, -1], false)
  closeQuietly(stdin)
  const child = adoptChild(pid, -1)
  let reaped = false
  let done: Promise<unknown>
  try {
    const before = timers()
    done = child.reaped().then(() => (reaped = true))
    expect(timers()).toBe(before)
    await sleep(200)
    expect(reaped).toBe(false) // still running: not reaped
    expect(fs.existsSync(`/proc/${pid}`)).toBe(true)
  } finally {
    closeQuietly(writer) // it reads EOF and exits
  }
  await done
  expect(fs.existsSync(`/proc/${pid}`)).toBe(false)
  // Once reaped, at once; twice as well.
  await Promise.all([child.reaped(), child.reaped()])
})

test('two reaped() of one running child both resolve once it is reaped', async () => {
  const [stdin, writer] = pipe()
  const pid = spawnProcess('/bin/sh', ['sh', '-c', 'read line'], [], [stdin, -1, -1], false)
  closeQuietly(stdin)
  const child = adoptChild(pid, -1)
  const both = Promise.all([child.reaped(), child.reaped()])
  closeQuietly(writer)
  await both
  expect(fs.existsSync(`/proc/${pid}`)).toBe(false)
})
