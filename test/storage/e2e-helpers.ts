// End-to-end fixtures for mount tests: a private runtime under /tmp/mc-vol-*, and a busybox image
// with content in the directories the tests mount over.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Image, Runtime } from '../../lib'
import { busyboxRootfs, destroyRuntime } from '../helpers'
import { put } from './helpers'

/** A runtime with its own root; `destroy()` force-removes its containers and deletes the root. */
export function e2eRuntime(): { runtime: Runtime; destroy: () => Promise<void> } {
  const runtime = new Runtime({ root: fs.mkdtempSync('/tmp/mc-vol-') })
  return { runtime, destroy: () => destroyRuntime(runtime) }
}

/** busybox plus an nginx-style html dir (owned 101:101), and a non-empty /srv/content; imported as "mnt:latest". */
export async function mountImage(runtime: Runtime): Promise<Image> {
  const dir = fs.mkdtempSync('/tmp/mc-vol-img-')
  try {
    busyboxRootfs(dir)
    const html = path.join(dir, 'usr/share/nginx/html')
    put(path.join(html, 'index.html'), '<h1>from the image</h1>\n', 0o644)
    put(path.join(html, 'private/conf'), 'secret', 0o640)
    fs.chownSync(path.join(html, 'private/conf'), 1000, 1000)
    fs.chownSync(path.join(html, 'private'), 1000, 1000)
    fs.chmodSync(path.join(html, 'private'), 0o750)
    fs.symlinkSync('index.html', path.join(html, 'home.html'))
    fs.chownSync(html, 101, 101)
    fs.chmodSync(html, 0o775)
    put(path.join(dir, 'srv/content/image-file'), 'image content\n')
    return await Image.import(dir, { runtime, ref: 'mnt:latest' })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Runs `sh -c script` in a new container and returns its exit and output (the container is removed). */
export async function sh(runtime: Runtime, script: string, opts: Record<string, unknown> = {}): Promise<{ exitCode: number; out: string }> {
  const { run } = await import('../../lib')
  const c = await run('mnt', ['sh', '-c', `{ ${script}; } 2>&1`], { runtime, ...opts })
  try {
    const { exitCode } = await c.wait()
    const chunks: Buffer[] = []
    for await (const chunk of c.logs()) chunks.push(Buffer.from(chunk as Buffer))
    return { exitCode, out: Buffer.concat(chunks).toString('utf8') }
  } finally {
    await c.remove({ force: true })
  }
}
