/**
 * inotify as an observer of which files of a directory are opened while a
 * function runs (python3's ctypes reads the events in a child process; the
 * library never runs it). O_PATH opens raise no event; reads do.
 */
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

const watcher = `
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(0)
IN_OPEN, IN_ISDIR = 0x20, 0x40000000
if fd < 0 or libc.inotify_add_watch(fd, sys.argv[1].encode(), IN_OPEN) < 0: sys.exit('inotify: errno %d' % ctypes.get_errno())
print('ready', flush=True)
while True:
    buf = os.read(fd, 65536)
    i = 0
    while i < len(buf):
        wd, mask, cookie, n = struct.unpack_from('iIII', buf, i)
        name = buf[i + 16:i + 16 + n].rstrip(b'\\0').decode()
        i += 16 + n
        if name and not mask & IN_ISDIR: print(name, flush=True)
`

/**
 * The names of the files directly in `dir` opened while `during` ran, once per open event, sorted; fails when
 * python3 or inotify is missing. inotify merges an event identical to the last one still queued, so two opens
 * of one file in a row may count once: a count tells opens apart only when other opens come between.
 */
export async function filesOpenedDuring(dir: string, during: () => Promise<unknown>): Promise<string[]> {
  const child = spawn('python3', ['-c', watcher, dir], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += String(d)))
  child.stderr.on('data', (d) => (err += String(d)))
  const seen = (line: string) => out.split('\n').includes(line)
  const until = async (what: string, ok: () => boolean) => {
    for (const t0 = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 10))) if (Date.now() - t0 > 20_000 || child.exitCode !== null) throw new Error(`inotify watcher: no ${what} (${err})`)
  }
  try {
    await until('ready', () => seen('ready'))
    await during()
    // A marker opened last: once the watcher printed it, every earlier open has been printed too.
    const marker = `.opened-marker-${process.pid}`
    fs.closeSync(fs.openSync(path.join(dir, marker), 'w'))
    await until('marker', () => seen(marker))
    fs.rmSync(path.join(dir, marker))
    return out.split('\n').filter((l) => l && l !== 'ready' && l !== marker).sort()
  } finally {
    child.kill('SIGKILL')
  }
}
