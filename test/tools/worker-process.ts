/**
 * A worker process for tests of several processes at once (jest workers on
 * one runtime root): it runs a TypeScript script (loaded as the tests load
 * the library), prints one JSON line as its report, holds what it made
 * until released (a line on its stdin), then cleans up and exits 0.
 */
import { spawn } from 'node:child_process'
import * as path from 'node:path'

/** A running worker: its report, the release, and its end. */
export interface WorkerProcess<R> {
  /** The first JSON line it printed; rejects if it exited first (with its stderr). */
  report: Promise<R>
  /** Lets it clean up and exit. */
  release: () => void
  /** Resolves when it exited 0; rejects with its stderr otherwise. */
  done: Promise<void>
}

/** Starts `node -r ts-register script ...args` on the runtime root `root` (MINICONTAINER_ROOT). */
export function startWorker<R>(script: string, args: string[], root: string, timeoutMs = 400_000): WorkerProcess<R> {
  const register = path.join(__dirname, 'ts-register.js')
  const child = spawn(process.execPath, ['-r', register, script, ...args], { env: { ...process.env, MINICONTAINER_ROOT: root }, stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const report = new Promise<R>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d
      const line = stdout.split('\n').find((l) => l.startsWith('{'))
      if (line) resolve(JSON.parse(line) as R)
    })
    child.once('exit', (code) => reject(new Error(`worker ${args.join(' ')} exited (${code}) before reporting:\n${stderr}`)))
  })
  const done = new Promise<void>((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${args.join(' ')} exited with ${code}:\n${stderr}`)))),
  )
  return { report, release: () => child.stdin.end('release\n'), done }
}
