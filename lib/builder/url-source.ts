/**
 * `ADD <url>`: the file is fetched with Node's http client (redirects
 * followed), streamed to a temp file under the runtime root and hashed from
 * there like any source, so an unchanged download is a cache hit. As
 * BuildKit: named after the URL path's last part, mode 0600, the mtime of
 * its Last-Modified header, never extracted. A failed download is ENOTFOUND
 * naming the URL and the status.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as https from 'node:https'
import * as path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { scratchPath } from './build-scratch'
import { NotFoundError } from '../errors'
import type { Source } from './context'
import { openFd } from '../sys/libc'

const maxRedirects = 10

/** A fetched URL as a source, with the function that removes its temp file. */
export interface UrlSource {
  readonly source: Source
  dispose(): void
}

/** Whether an ADD source names a URL. */
export function isUrl(word: string): boolean {
  return /^https?:\/\//i.test(word)
}

/** Downloads `url` into the build's scratch directory on `root` (build-scratch.ts) and returns it as a source. */
export async function fetchUrlSource(url: string, root: string, signal?: AbortSignal): Promise<UrlSource> {
  const file = scratchPath(root, 'add-url')
  try {
    const res = await get(url, signal)
    await pipeline(res, fs.createWriteStream(file, { mode: 0o600 }), { signal })
    const size = fs.statSync(file).size
    const modified = res.headers['last-modified'] ? new Date(res.headers['last-modified']) : new Date()
    const name = path.posix.basename(new URL(url).pathname) || '__unnamed__'
    const source: Source = {
      path: name,
      entries: [{ rel: '', type: 'file', mode: 0o600, mtime: Number.isNaN(modified.getTime()) ? new Date() : modified, size }],
      open: () => openFd(file, fs.constants.O_RDONLY),
    }
    return { source, dispose: () => fs.rmSync(file, { force: true }) }
  } catch (err) {
    fs.rmSync(file, { force: true })
    throw err
  }
}

function get(url: string, signal: AbortSignal | undefined, hops = 0): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const client = url.toLowerCase().startsWith('https:') ? https : http
    const req = client.get(url, { signal }, (res) => {
      const status = res.statusCode ?? 0
      if (status >= 300 && status < 400 && res.headers.location && hops < maxRedirects) {
        res.resume()
        resolve(get(new URL(res.headers.location, url).toString(), signal, hops + 1))
      } else if (status < 200 || status >= 300) {
        res.resume()
        reject(new NotFoundError(`ADD ${url}: the server answered ${status} ${res.statusMessage ?? ''}`.trim()))
      } else resolve(res)
    })
    req.on('error', (err) => reject(signal?.aborted ? err : new NotFoundError(`ADD ${url}: cannot fetch it (${err.message})`)))
  })
}
