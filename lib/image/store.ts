/**
 * Content-addressed storage for layers and images, in the spirit of
 * containerd's content store: layers are immutable directories named by
 * the digest of their content, images are small JSON records naming their
 * layers, and refs ("name:tag") are one file each, so a lookup reads one
 * file and a retag is one atomic rename.
 *
 * Layout under the runtime root:
 *   layers/<digest>/diff/     the layer's files
 *   images/<id>.json          ImageRecord
 *   refs/<encoded ref>        the image id a ref points to
 *
 * @module
 */
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { ImageNotFoundError, InvalidArgumentError, MiniContainerError } from '../errors'
import { readJson, writeJson } from '../util/json-file'

/** Defaults an image gives its containers (a subset of the OCI image config). */
export interface ImageConfig {
  cmd?: string[]
  entrypoint?: string[]
  env?: string[]
  workdir?: string
  user?: string
  /** e.g. ["80/tcp"], used by publishAll. */
  exposedPorts?: string[]
  labels?: Record<string, string>
}

/** A host path bound read-only into every container of the image (used by Image.fromHost()). */
export interface HostBind {
  source: string
  target: string
}

/** An image as stored on disk. */
export interface ImageRecord {
  /** "sha256:<hex>" of the record's content. */
  id: string
  /** Layer digests, bottom-most first. */
  layers: string[]
  config: ImageConfig
  hostBinds: HostBind[]
  created: string
}

const refPattern = /^[a-z0-9][a-z0-9._\/-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/

/** "busybox" -> "busybox:latest"; validates the reference. */
export function normaliseRef(ref: string): string {
  if (!refPattern.test(ref))
    throw new InvalidArgumentError(`invalid image reference "${ref}": use lowercase name[:tag], e.g. "bb:latest"`)
  const lastSlash = ref.lastIndexOf('/')
  return ref.indexOf(':', lastSlash) >= 0 ? ref : `${ref}:latest`
}

/** Storage of layers, images and refs under one runtime root. */
export class ImageStore {
  private readonly layersDir: string
  private readonly imagesDir: string
  private readonly refsDir: string

  /**
   * @param root - the runtime root
   * @param usersOf - ids of the containers using an image (the container layer knows; the store does not import it)
   */
  constructor(
    root: string,
    private readonly usersOf: (imageId: string) => string[] = () => [],
  ) {
    this.layersDir = path.join(root, 'layers')
    this.imagesDir = path.join(root, 'images')
    this.refsDir = path.join(root, 'refs')
    for (const d of [this.layersDir, this.imagesDir, this.refsDir]) fs.mkdirSync(d, { recursive: true })
  }

  /** Directory holding a layer's files. */
  layerPath(digest: string): string {
    return path.join(this.layersDir, digest.replace(':', '-'), 'diff')
  }

  /** An image's layer directories, top-most first (as overlayfs wants them). */
  layerDirs(image: ImageRecord): string[] {
    return [...image.layers].reverse().map((l) => this.layerPath(l))
  }

  /** A fresh scratch directory to build a layer in, on the same filesystem (so commit is a rename). */
  scratchLayer(): string {
    const dir = path.join(this.layersDir, `tmp-${crypto.randomBytes(8).toString('hex')}`)
    fs.mkdirSync(path.join(dir, 'diff'), { recursive: true })
    return dir
  }

  /** Deletes a scratch layer that will not be committed. */
  discardScratch(scratch: string): void {
    fs.rmSync(scratch, { recursive: true, force: true })
  }

  /** Moves a scratch layer to its content address; an identical existing layer wins. */
  commitLayer(scratch: string, digest: string): string {
    const final = path.dirname(this.layerPath(digest))
    try {
      fs.renameSync(scratch, final)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err
      fs.rmSync(scratch, { recursive: true, force: true })
    }
    return digest
  }

  /** Stores an image record and points `refs` at it; returns the record. */
  putImage(layers: string[], config: ImageConfig, hostBinds: HostBind[], refs: string[]): ImageRecord {
    const content = { layers, config, hostBinds }
    const id = `sha256:${crypto.createHash('sha256').update(JSON.stringify(content)).digest('hex')}`
    const existing = this.readImage(id)
    const record: ImageRecord = existing ?? { id, ...content, created: new Date().toISOString() }
    if (!existing) writeJson(this.imageFile(id), record)
    for (const ref of refs) this.tag(ref, id)
    return record
  }

  /** Points a ref at an image (moving it if it pointed elsewhere, like `docker tag`). */
  tag(ref: string, id: string): void {
    const file = path.join(this.refsDir, encodeURIComponent(normaliseRef(ref)))
    const tmp = `${file}.${process.pid}.tmp`
    fs.writeFileSync(tmp, id)
    fs.renameSync(tmp, file)
  }

  /** Removes a ref (the image stays). */
  untag(ref: string): void {
    fs.rmSync(path.join(this.refsDir, encodeURIComponent(normaliseRef(ref))), { force: true })
  }

  /** Resolves a ref, a full id ("sha256:..."), or a unique id prefix. */
  resolve(ref: string): ImageRecord {
    const byId = this.findById(ref)
    if (byId) return byId
    let id: string | undefined
    try {
      id = fs.readFileSync(path.join(this.refsDir, encodeURIComponent(normaliseRef(ref))), 'utf8')
    } catch {
      /* not a ref we know */
    }
    const record = id && this.readImage(id)
    if (!record) throw new ImageNotFoundError(ref)
    return record
  }

  /** Ids of the containers created from an image. */
  users(id: string): string[] {
    return this.usersOf(id)
  }

  /** Every stored image. */
  list(): ImageRecord[] {
    return fs
      .readdirSync(this.imagesDir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => readJson<ImageRecord>(path.join(this.imagesDir, f)))
      .filter((r): r is ImageRecord => !!r)
  }

  /** The refs pointing at an image. */
  refsOf(id: string): string[] {
    return fs
      .readdirSync(this.refsDir)
      .filter((f) => !f.endsWith('.tmp'))
      .filter((f) => fs.readFileSync(path.join(this.refsDir, f), 'utf8') === id)
      .map(decodeURIComponent)
  }

  /** Deletes an image, its refs, and every layer no other image uses. */
  remove(id: string): void {
    for (const ref of this.refsOf(id)) fs.rmSync(path.join(this.refsDir, encodeURIComponent(ref)), { force: true })
    const record = this.readImage(id)
    fs.rmSync(this.imageFile(id), { force: true })
    if (!record) return
    const stillUsed = new Set(this.list().flatMap((r) => r.layers))
    for (const layer of record.layers)
      if (!stillUsed.has(layer)) fs.rmSync(path.dirname(this.layerPath(layer)), { recursive: true, force: true })
  }

  private findById(ref: string): ImageRecord | undefined {
    const hex = ref.replace(/^sha256:/, '')
    if (!/^[0-9a-f]{4,64}$/.test(hex)) return undefined
    const matches = fs.readdirSync(this.imagesDir).filter((f) => f.startsWith(`sha256-${hex}`) && f.endsWith('.json'))
    if (matches.length > 1) throw new MiniContainerError('EAMBIGUOUS', `image id prefix "${ref}" matches ${matches.length} images; give more digits`)
    return matches.length ? readJson<ImageRecord>(path.join(this.imagesDir, matches[0])) : undefined
  }

  private readImage(id: string): ImageRecord | undefined {
    return readJson<ImageRecord>(this.imageFile(id))
  }

  private imageFile(id: string): string {
    return path.join(this.imagesDir, `${id.replace(':', '-')}.json`)
  }
}
