/**
 * Resolution confined to a root on a busy host: with RESOLVE_IN_ROOT, a
 * ".." makes openat2 fail with EAGAIN whenever a rename anywhere on the
 * system may have raced with the lookup. The library retries (the man
 * page's remedy); before it did, docker cp paths with ".." failed now and
 * then with ESYSCALL while other test suites ran.
 */
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { openat2, RESOLVE_IN_ROOT } from '../../lib/sys/libc'

test('openat2 with ".." under RESOLVE_IN_ROOT succeeds while another process renames files in a loop', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-resolve-root-'))
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-resolve-mv-'))
  fs.mkdirSync(path.join(root, 'a/b/c'), { recursive: true })
  fs.writeFileSync(path.join(root, 'f'), 'x')
  fs.writeFileSync(path.join(scratch, 'x'), '')
  // The renamer: bounded, in its own directory.
  // Its own process group, so that the mv running at the end dies with the loop.
  const mover = spawn('sh', ['-c', 'i=0; while [ $i -lt 100000 ]; do mv x y; mv y x; i=$((i+1)); done'], { cwd: scratch, stdio: 'ignore', detached: true })
  const moverGone = new Promise((resolve) => mover.once('exit', resolve))
  const dirfd = fs.openSync(root, 'r')
  const failures = new Map<string, number>()
  let opened = 0
  try {
    await new Promise((r) => setTimeout(r, 100))
    for (const t0 = Date.now(); Date.now() - t0 < 4000; ) {
      try {
        // Escapes upwards are clamped at the root: this is /f.
        fs.closeSync(openat2(dirfd, 'a/b/c/../../../../../../f', 0, 0, RESOLVE_IN_ROOT))
        opened++
      } catch (err) {
        const code = String((err as { errno?: string }).errno ?? err)
        failures.set(code, (failures.get(code) ?? 0) + 1)
      }
    }
  } finally {
    process.kill(-mover.pid!, 'SIGKILL')
    await moverGone
    fs.closeSync(dirfd)
    fs.rmSync(root, { recursive: true, force: true })
    // A last mv of the group may still be between its rename and its exit: retry a non-empty directory.
    fs.rmSync(scratch, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 })
  }
  expect(Object.fromEntries(failures)).toEqual({})
  expect(opened).toBeGreaterThan(100)
}, 30_000)
