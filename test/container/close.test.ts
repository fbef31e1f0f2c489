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
import { Image, Runtime } from '../../lib'
import { childProcesses } from '../helpers'
import { runtimeWithSpareShim, spawnNode } from '../tools/node-child'

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
    expect(childProcesses(child.pid!).map(([, comm]) => comm)).toEqual(['mc-shim']) // the spare, waiting for a spec
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
