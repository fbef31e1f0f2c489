/**
 * Runs minicontainer (the worktree's TypeScript sources) in a child node
 * process inside another network namespace, e.g. a private Docker
 * engine's, so the library meets that namespace's firewall exactly as it
 * would on a host running Docker. The child also gets a private mount
 * namespace whose /sys/class/net shows that network namespace's
 * interfaces (as `ip netns exec` does), keeping the rest of /sys.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as readline from 'node:readline'

/** A minicontainer process inside another network namespace. */
export interface NetnsAgent {
  /**
   * Runs `code` as the body of an async function of `(mc, helpers, ctx, require)`:
   * `mc` is the library, `helpers` test/helpers.ts, `ctx` an object kept
   * between calls. Resolves with its (JSON) result; rejects with its error.
   */
  eval<T = unknown>(code: string, timeoutMs?: number): Promise<T>
  /** Ends the process (it exits when its stdin closes) and removes its scratch dir. */
  stop(): Promise<void>
}

/** Starts the agent in the network namespace at `netnsPath` (`nsenter --net=` syntax). */
export async function startNetnsAgent(netnsPath: string): Promise<NetnsAgent> {
  const sysDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-agent-sys-'))
  const script = [
    `mount -t sysfs sysfs ${sysDir}`,
    `mount --bind ${sysDir}/class/net /sys/class/net`,
    `mount --bind ${sysDir}/devices/virtual/net /sys/devices/virtual/net`,
    `exec ${process.execPath} ${path.join(__dirname, 'netns-agent-child.js')}`,
  ].join(' && ')
  const child: ChildProcess = spawn('nsenter', [`--net=${netnsPath}`, '--', 'unshare', '--mount', '--propagation=private', '--', 'sh', '-c', script], { stdio: ['pipe', 'pipe', 'inherit'] })
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  let nextId = 1
  const lines = readline.createInterface({ input: child.stdout! })
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('netns agent did not start')), 180000)
    child.once('exit', (code) => reject(new Error(`netns agent exited with ${code}`)))
    lines.on('line', (line) => {
      const msg = JSON.parse(line) as { ready?: boolean; id?: number; value?: unknown; error?: string; code?: string }
      if (msg.ready) {
        clearTimeout(timer)
        return resolve()
      }
      const p = pending.get(msg.id ?? 0)
      pending.delete(msg.id ?? 0)
      if (msg.error !== undefined) p?.reject(Object.assign(new Error(msg.error), { code: msg.code }))
      else p?.resolve(msg.value)
    })
  })
  child.once('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`netns agent exited with ${code}`))
    pending.clear()
  })
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r))
      child.stdin!.end()
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000)
      await gone
      clearTimeout(timer)
    }
    fs.rmSync(sysDir, { recursive: true, force: true })
  }
  try {
    await ready
  } catch (err) {
    await stop()
    throw err
  }
  return {
    eval: <T>(code: string, timeoutMs = 60000) =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++
        const timer = setTimeout(() => {
          pending.delete(id)
          reject(new Error(`netns agent: no answer within ${timeoutMs} ms`))
        }, timeoutMs)
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer)
            resolve(v as T)
          },
          reject: (e) => {
            clearTimeout(timer)
            reject(e)
          },
        })
        child.stdin!.write(JSON.stringify({ id, code }) + '\n')
      }),
    stop,
  }
}
