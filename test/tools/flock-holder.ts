/**
 * flock(1) as a peer that holds a lock file of the library (names/.lock), as a process of the same
 * root stopped mid-section would. The library never runs it.
 */
import { spawn } from 'node:child_process'

/** A held lock: `release()` kills its holder and resolves once it has exited (the kernel dropped the flock). */
export interface HeldLock {
  release(): Promise<void>
}

/** Takes an exclusive flock of `file` in a flock(1) process; resolves once it holds it. Fails when flock is missing. */
export async function holdFileLock(file: string): Promise<HeldLock> {
  // -o: the lock stays with flock itself, not with its command; its group is killed whole on release.
  const holder = spawn('flock', ['-x', '-o', file, '-c', 'echo held; exec sleep 60'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true })
  const exited = new Promise<void>((resolve) => holder.once('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once('data', () => resolve())
    holder.once('error', reject)
    void exited.then(() => reject(new Error(`flock -x ${file} exited before it held the lock`)))
  })
  return {
    async release() {
      if (holder.exitCode === null && holder.signalCode === null) process.kill(-holder.pid!, 'SIGKILL')
      await exited
    },
  }
}
