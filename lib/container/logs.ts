/**
 * Reading a container's output. The program writes straight into
 * stdout.log and stderr.log (no copy through Node or the shim), so logs
 * survive the Node process and cost nothing while nobody reads them.
 * Following uses inotify (fs.watch), never polling.
 *
 * @module
 */
import * as fs from 'node:fs'
import { Readable } from 'node:stream'

const chunkSize = 64 * 1024

async function readNew(file: string, offset: number): Promise<Buffer> {
  let handle: fs.promises.FileHandle
  try {
    handle = await fs.promises.open(file, 'r')
  } catch {
    return Buffer.alloc(0)
  }
  try {
    const buf = Buffer.alloc(chunkSize)
    const { bytesRead } = await handle.read(buf, 0, chunkSize, offset)
    return buf.subarray(0, bytesRead)
  } finally {
    await handle.close()
  }
}

/** A chunk of output and the index of the file it came from. */
export interface TailChunk {
  index: number
  chunk: Buffer
}

/**
 * The files' bytes as they grow, chunk by chunk. With `follow`, waits for
 * more (inotify) until `ended` resolves; a watcher that is not `persistent`
 * does not keep the Node process alive.
 */
export async function* tail(files: string[], follow: boolean, ended: Promise<unknown>, persistent = true): AsyncGenerator<TailChunk> {
  const offsets = files.map(() => 0)
  let finished = false
  // Set by every inotify event: one that arrives while a pass is reading must not be lost.
  let changed = false
  let wake: (() => void) | undefined
  const notify = () => {
    changed = true
    wake?.()
  }
  void ended.then(() => {
    finished = true
    notify()
  })
  const watchers = follow ? files.map((f) => fs.watch(f, { persistent }, notify)) : []
  try {
    for (;;) {
      const wasFinished = finished
      changed = false
      let progressed = false
      for (let i = 0; i < files.length; i++) {
        const chunk = await readNew(files[i], offsets[i])
        if (chunk.length === 0) continue
        offsets[i] += chunk.length
        progressed = true
        yield { index: i, chunk }
      }
      if (progressed) continue
      // Stop after a full pass that began once the container had exited: nothing more can come.
      if (!follow || wasFinished) return
      await new Promise<void>((resolve) => {
        wake = resolve
        if (finished || changed) resolve()
      })
      wake = undefined
    }
  } finally {
    for (const w of watchers) w.close()
  }
}

/**
 * A stream of the given log files' bytes. With `follow`, it stays open and
 * delivers new output until `ended` resolves (the container exited).
 */
export function logStream(files: string[], follow: boolean, ended: Promise<unknown>): Readable {
  ensureFiles(files)
  return Readable.from(chunksOf(tail(files, follow, ended)), { objectMode: false })
}

async function* chunksOf(chunks: AsyncIterable<TailChunk>): AsyncGenerator<Buffer> {
  for await (const { chunk } of chunks) yield chunk
}

/** Creates log files the program has not opened yet, so they can be watched. */
export function ensureFiles(files: string[]): void {
  for (const f of files) if (!fs.existsSync(f)) fs.writeFileSync(f, '', { flag: 'a' })
}
