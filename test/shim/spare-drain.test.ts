// The pool's drain (Runtime.close) ends its spare shim, and the spare ends its old root's helper.
import * as fs from 'node:fs'
import type { Runtime } from '../../lib'
import { childProcesses, commandLine, useRuntime } from '../helpers'
import { eventually } from '../network/helpers'
import { runtimeWithSpareShim, spawnNode } from '../tools/node-child'

let runtime: Runtime

useRuntime((r) => (runtime = r))

/** Whether `pid` is still a process of that name, a zombie included (gone once reaped). */
const stillThere = (pid: number, comm: string) => {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8') === `${comm}\n`
  } catch {
    return false
  }
}

test("a drained spare shim ends and reaps its old root's helper: no orphan left for an init that may reap none", async () => {
  // Killed, the spare left its helper (mc-old-root) an orphan, a zombie of this machine's PID 1 for good.
  const starter = spawnNode(
    `const { Runtime, run } = lib();
    (async () => {
      ${runtimeWithSpareShim(runtime.root)}
      console.log('ready')
      process.stdin.once('data', async () => {
        await runtime.close()
        console.log('closed')
        setTimeout(() => {}, 30_000)
      })
    })()`,
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  let out = ''
  starter.stdout!.on('data', (d) => (out += String(d)))
  try {
    expect(await eventually(() => out.includes('ready'), 30_000)).toBe(true)
    const shims = childProcesses(starter.pid!).filter(([pid, comm]) => comm === 'mc-shim' && commandLine(pid).startsWith('mc-shim run'))
    expect(shims).toHaveLength(1)
    const spare = shims[0][0]
    const helpers = childProcesses(spare).filter(([, comm]) => comm === 'mc-old-root')
    expect(helpers).toHaveLength(1)
    const helper = helpers[0][0]
    starter.stdin!.write('go\n')
    expect(await eventually(() => out.includes('closed'), 30_000)).toBe(true)
    // The spare is gone once the drain resolved; its helper was reaped before it (not even a zombie).
    expect(stillThere(spare, 'mc-shim')).toBe(false)
    expect(stillThere(helper, 'mc-old-root')).toBe(false)
  } finally {
    starter.kill('SIGKILL')
  }
})
