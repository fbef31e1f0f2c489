/**
 * The public face of images.
 * @module
 */
import { DefaultBinding } from '../util/default-binding'
import { guardPublicMethods } from '../util/public-boundary'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { InvalidArgumentError, MiniContainerError } from '../errors'
import { buildHostRootfs } from './host-rootfs'
import { importArchive, importDirectory } from './import-layer'
import { normaliseRef, type ImageConfig, type ImageRecord, type ImageStore } from './store'

/** What the image API needs from a runtime: its image store. A `Runtime` is one. */
export interface ImageContext {
  /** Layers, images and refs. */
  readonly images: ImageStore
}

/** Which runtime's images an operation applies to (default: `Runtime.default()`). */
export interface ImageRuntimeOption {
  /** A `Runtime` (or anything with its image store); omitted, the default runtime. */
  runtime?: ImageContext
}

const defaultContext = new DefaultBinding<ImageContext>()

/** Binds the runtime used when an image operation gets none (called once by the runtime module). */
export function useDefaultImageContext(provider: () => ImageContext): void {
  defaultContext.bind(provider)
}

function contextOf(opts?: ImageRuntimeOption): ImageContext {
  return defaultContext.of(opts?.runtime)
}

/** Options of {@link Image.import}. */
export interface ImportOptions extends ImageRuntimeOption {
  /** Reference to tag the image with, e.g. "bb:latest". */
  ref?: string
  /** Defaults for containers of this image (cmd, env, workdir, user, exposedPorts). */
  config?: ImageConfig
}

/** A stored image: read-only layers plus container defaults. */
export class Image {
  private constructor(
    private readonly runtime: ImageContext,
    private readonly record: ImageRecord,
  ) {}

  /** "sha256:..." id. */
  get id(): string {
    return this.record.id
  }

  /** The refs ("name:tag") that point at this image. */
  get refs(): string[] {
    return this.runtime.images.refsOf(this.record.id)
  }

  /** Defaults given to containers. */
  get config(): ImageConfig {
    return this.record.config
  }

  /** Layer directories, top-most first (as overlayfs wants them). */
  get layerDirs(): string[] {
    return this.runtime.images.layerDirs(this.record)
  }

  /** The stored record (layers, config, host binds). */
  get details(): ImageRecord {
    return this.record
  }

  /**
   * Imports a root filesystem — a directory, a .tar, .tar.gz or .tar.zst — as
   * a single-layer image. The source is copied, so later changes to it do not
   * affect the image.
   */
  static async import(source: string, opts: ImportOptions = {}): Promise<Image> {
    const rt = contextOf(opts)
    const refs = opts.ref ? [normaliseRef(opts.ref)] : []
    const st = fs.statSync(source, { throwIfNoEntry: false })
    if (!st) throw new MiniContainerError('ENOTFOUND', `cannot import ${source}: no such file or directory`)
    if (!st.isDirectory() && !st.isFile()) throw new InvalidArgumentError(`cannot import ${source}: expected a directory or a tar(.gz) archive`)
    const diffId = st.isDirectory() ? await importDirectory(rt.images.layers, source) : await importArchive(rt.images.layers, source)
    const history = [{ comment: 'imported from a root filesystem' }]
    return new Image(rt, rt.images.putImage([diffId], opts.config ?? { cmd: ['sh'] }, { refs, history }))
  }

  /**
   * The host's programs as an image: a small skeleton layer plus the host's
   * /usr (and /bin, /lib... where they are not symlinks into it) bound
   * read-only. Anything installed on the host runs isolated, with no download.
   */
  static async fromHost(opts: ImageRuntimeOption & { ref?: string } = {}): Promise<Image> {
    const rt = contextOf(opts)
    const refs = [normaliseRef(opts.ref ?? 'host')]
    const skeleton = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-host-'))
    try {
      const { hostBinds, config } = buildHostRootfs(skeleton)
      const diffId = await importDirectory(rt.images.layers, skeleton)
      return new Image(rt, rt.images.putImage([diffId], config, { hostBinds, refs, history: [{ comment: 'the host skeleton' }] }))
    } finally {
      fs.rmSync(skeleton, { recursive: true, force: true })
    }
  }

  /** Looks up an image by ref ("bb", "bb:latest"), id, or unique id prefix; throws ENOIMAGE. */
  static async get(ref: string, opts: ImageRuntimeOption = {}): Promise<Image> {
    const rt = contextOf(opts)
    return new Image(rt, rt.images.resolve(ref))
  }

  /** Every stored image. */
  static async list(opts: ImageRuntimeOption = {}): Promise<Image[]> {
    const rt = contextOf(opts)
    return rt.images.list().map((r) => new Image(rt, r))
  }

  /**
   * Deletes the image and the layers only it used. Refuses while a
   * container uses it, unless `force`, which only untags it (like
   * `docker rmi -f`): its containers keep their layers.
   */
  async remove(opts: { force?: boolean } = {}): Promise<void> {
    const users = this.runtime.images.users(this.id)
    if (users.length && !opts.force)
      throw new MiniContainerError('EINUSE', `image ${this.refs[0] ?? this.id} is used by container ${users[0].slice(0, 12)}; remove the container first or pass { force: true }`)
    if (users.length) {
      // Like `docker rmi -f` on an image in use: untag it, keep the layers for its containers.
      for (const ref of this.refs) this.runtime.images.untag(ref)
      return
    }
    this.runtime.images.remove(this.id)
  }
}

guardPublicMethods(Image)
