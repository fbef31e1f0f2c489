/**
 * strace as an observer that holds a process at a chosen system call, for tests of races (a
 * removal, a kill or an owner's death landing at an exact step). The library never runs it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'

/**
 * Attaches strace to `pid` and delays the first `syscall` of each traced process (the `nth`, when
 * given) by `delayMs` before it runs; with `follow` (the default) its threads and the children it
 * makes from now on are traced too. Resolves once attached; fails when strace is missing
 * (apt-get install strace).
 */
export function holdAt(pid: number, syscall: string, delayMs: number, opts: { follow?: boolean; nth?: number } = {}): Promise<ChildProcess> {
  const follow = opts.follow === false ? [] : ['-f']
  const nth = opts.nth ?? 1
  const args = [...follow, '-o', '/dev/null', '-e', `trace=${syscall}`, '-e', `inject=${syscall}:delay_enter=${delayMs * 1000}:when=${nth}..${nth}`, '-p', String(pid)]
  const tracer = spawn('strace', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let said = ''
  tracer.stderr!.on('data', (d) => (said += String(d)))
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearInterval(poll)
      tracer.kill('SIGKILL')
      reject(new Error(why))
    }
    const t0 = Date.now()
    const poll = setInterval(() => {
      if (said.includes(`Process ${pid} attached`)) {
        clearInterval(poll)
        resolve(tracer)
      } else if (Date.now() - t0 > 20_000) fail(`strace did not attach to ${pid} within 20 s: ${said}`)
    }, 20)
    tracer.once('error', (e) => fail(`strace is needed for this test (apt-get install strace): ${e.message}`))
  })
}

/**
 * strace's output (its -o file) with `args` while `fn` runs: attached to `pid` before `fn`, stopped
 * after it; fails when strace is missing (apt-get install strace).
 */
async function tracedOutput(pid: number, args: string[], fn: () => Promise<void>): Promise<string> {
  const out = `/tmp/mc-strace-${process.pid}-${Date.now()}`
  const tracer = spawn('strace', ['-o', out, ...args, '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] })
  let said = ''
  tracer.stderr!.on('data', (d) => (said += String(d)))
  const exited = new Promise<void>((resolve) => tracer.once('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    tracer.once('error', (e) => reject(new Error(`strace is needed for this test (apt-get install strace): ${e.message}`)))
    const poll = setInterval(() => said.includes('attached') && (clearInterval(poll), resolve()), 20)
  })
  try {
    await fn()
  } finally {
    tracer.kill('SIGINT')
    await exited
  }
  try {
    return fs.readFileSync(out, 'utf8')
  } finally {
    fs.rmSync(out, { force: true })
  }
}

/**
 * Counts the calls of each of `syscalls` that the thread `pid` makes while `fn` runs (strace -c
 * attached to it); fails when strace is missing (apt-get install strace).
 */
export async function countSyscalls(pid: number, syscalls: string[], fn: () => Promise<void>): Promise<Record<string, number>> {
  const output = await tracedOutput(pid, ['-c', '-e', `trace=${syscalls.join(',')}`], fn)
  const counts: Record<string, number> = Object.fromEntries(syscalls.map((s) => [s, 0]))
  for (const line of output.split('\n')) {
    const cols = line.trim().split(/\s+/)
    const name = cols[cols.length - 1]
    if (name in counts) counts[name] = Number(cols[3])
  }
  return counts
}

/**
 * The system calls that any thread of `pid` makes on any of `files` while `fn` runs (strace -f -P: the
 * path as given, or an fd open on it), one line each as strace prints them; fails when strace is missing.
 */
export async function syscallsOnPaths(pid: number, files: string[], fn: () => Promise<void>): Promise<string[]> {
  const output = await tracedOutput(pid, ['-f', ...files.flatMap((f) => ['-P', f])], fn)
  // Only the calls: the threads' exits and signals (no path) are printed whatever -P says.
  return output.split('\n').filter((l) => /^\d+\s+(\w+\(|<\.\.\.)/.test(l))
}
