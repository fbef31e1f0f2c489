/**
 * Child Node processes for tests that need a second process (an owner that
 * crashes, processes racing on one store, a script whose event loop must
 * stay alive). Every child loads the library the same way: from the
 * TypeScript sources, like the jest tests themselves, so a stale dist/ can
 * never be what a test exercises.
 */
import * as path from 'node:path'
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { timeScale } from '../helpers'

const register = path.join(__dirname, 'ts-register.js')
const libDir = path.resolve(__dirname, '../../lib')

/**
 * The source of a Node script running `body`, in which `lib()` returns the
 * library's public module and `lib('storage/volumes')` an internal one.
 */
export function nodeScript(body: string): string {
  return `require(${JSON.stringify(register)})
const lib = (mod = 'index') => require(require('node:path').join(${JSON.stringify(libDir)}, mod))
${body}`
}

/**
 * Lines for an async function of a script: a runtime at `root` as `runtime`, and the shim pool's
 * spare shim spawned (a run that ended, then time for the refill), for tests that hold that shim.
 */
export function runtimeWithSpareShim(root: string): string {
  return `const runtime = new Runtime({ root: ${JSON.stringify(root)} })
      const warmup = await run('host', ['true'], { runtime, network: 'none' })
      await warmup.wait()
      await warmup.remove()
      await new Promise((r) => setTimeout(r, 300)) // the pool's spare shim is spawned meanwhile`
}

/** Starts `node -e nodeScript(body)`; extra argv lands in `process.argv.slice(1)`. */
export function spawnNode(body: string, opts: SpawnOptions = {}, argv: string[] = []): ChildProcess {
  return spawn(process.execPath, ['-e', nodeScript(body), ...argv], opts)
}

/** How a synchronous child ended. */
export interface NodeResult {
  status: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Options of a synchronous child. */
export interface NodeSyncOptions {
  /** Kill it after this long (default 60 s, stretched by MC_TEST_TIME_SCALE under emulation). */
  timeoutMs?: number
  /** Variables added to this process's environment. */
  env?: Record<string, string>
}

/** Runs `node -e nodeScript(body)` to its end; the caller checks how it ended. */
export function runNodeSync(body: string, opts: NodeSyncOptions = {}): NodeResult {
  const r = spawnSync(process.execPath, ['-e', nodeScript(body)], { encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000 * timeScale, env: { ...process.env, ...opts.env } })
  if (r.error) throw r.error
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr }
}

/** Runs a script that must succeed; returns its stdout, or throws with its stderr. */
export function nodeOutput(body: string, opts: NodeSyncOptions = {}): string {
  const r = runNodeSync(body, opts)
  if (r.status !== 0) throw new Error(`node child ended with ${r.signal ?? `status ${r.status}`}:\n${r.stderr}`)
  return r.stdout
}

/**
 * The first line a child (spawned with a piped stdout) prints; then the child is SIGKILLed, as a
 * Ctrl-C'd jest worker is (no close(), no handler), and awaited. Rejects if it ends first.
 */
export async function firstLineThenKill(child: ChildProcess): Promise<string> {
  try {
    return await new Promise<string>((resolve, reject) => {
      let out = ''
      child.stdout!.on('data', (d) => {
        out += d
        if (out.includes('\n')) resolve(out.split('\n')[0])
      })
      child.once('exit', (code) => reject(new Error(`the child ended first (${code})`)))
    })
  } finally {
    child.kill('SIGKILL')
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)))
  }
}
