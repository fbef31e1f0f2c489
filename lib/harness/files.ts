/**
 * `files` at create: content or host files placed in the container's
 * filesystem before its program starts (testcontainers' copy-to-container).
 * Files go in as one tar through the files layer's putArchive (staged,
 * confined to the container's root, parents created as needed); a host
 * directory goes through copyTo with `docker cp`'s rules.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as tar from 'tar-stream'
import { InvalidArgumentError } from '../errors'
import { copyTo, putArchive } from '../files'
import { checkUserId } from '../util/user-id'

/** A file to place in the container at create. */
export interface FileSpec {
  /** Absolute path inside the container; missing parent directories are created (mode 0755). */
  target: string
  /** The file's content... */
  content?: string | Buffer
  /** ...or a host file, or a host directory (copied with `docker cp`'s rules; its parent must exist in the image). */
  source?: string
  /** Permission bits (default 0644, or the source file's). */
  mode?: number
  /** Owner (default 0). */
  uid?: number
  /** Group (default 0). */
  gid?: number
}

/** Throws EINVALID for a malformed `files` option. */
export function checkFileSpecs(files: FileSpec[] | undefined): void {
  if (files === undefined) return
  if (!Array.isArray(files)) throw new InvalidArgumentError("files must be an array, e.g. [{ target: '/etc/app.conf', content: 'x=1' }]")
  for (const f of files) {
    if (typeof f?.target !== 'string' || !path.isAbsolute(f.target) || path.posix.normalize(f.target) === '/')
      throw new InvalidArgumentError(`files: target ${JSON.stringify(f?.target)} must be an absolute file path inside the container, e.g. "/etc/app.conf"`)
    if ((f.content === undefined) === (f.source === undefined))
      throw new InvalidArgumentError(`files: ${f.target} needs exactly one of content or source`)
    if (f.mode !== undefined && (!Number.isInteger(f.mode) || f.mode < 0)) throw new InvalidArgumentError(`files: ${f.target}: mode must be a non-negative integer`)
    for (const k of ['uid', 'gid'] as const) if (f[k] !== undefined) checkUserId(f[k], `files: ${f.target}: ${k}`)
  }
}

function isHostDirectory(f: FileSpec): boolean {
  return f.source !== undefined && fs.statSync(f.source).isDirectory()
}

function pack(files: FileSpec[]): Promise<Buffer> {
  const p = tar.pack()
  for (const f of files) {
    const data = f.content !== undefined ? Buffer.from(f.content) : fs.readFileSync(f.source!)
    const mode = f.mode ?? (f.source !== undefined ? fs.statSync(f.source).mode & 0o7777 : 0o644)
    p.entry({ name: path.posix.normalize(f.target).slice(1), type: 'file', mode, uid: f.uid ?? 0, gid: f.gid ?? 0, size: data.length, mtime: new Date() }, data)
  }
  p.finalize()
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    p.on('data', (c: unknown) => void chunks.push(c as Buffer))
    p.on('end', () => resolve(Buffer.concat(chunks)))
    p.on('error', reject)
  })
}

/** Places the files under `root` (the container's filesystem view). */
export async function placeFiles(root: string, files: FileSpec[]): Promise<void> {
  const dirs = files.filter(isHostDirectory)
  const regular = files.filter((f) => !dirs.includes(f))
  if (regular.length) await putArchive(root, '/', await pack(regular))
  for (const d of dirs) await copyTo(root, d.source!, d.target)
}
