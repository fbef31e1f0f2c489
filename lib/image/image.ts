/**
 * The public face of images.
 * @module
 */
import { DefaultBinding } from '../util/default-binding'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { ImageInUseError, ImageNotFoundError, InvalidArgumentError, NotFoundError } from '../errors'
import { readArchiveDir, readArchiveStream, type ArchiveFiles, type LoadProgress } from './archive/files'
import { loadArchive } from './archive/load'
import { defaultDockerSocket, dockerSaveStream } from './docker-engine'
import { saveArchive, type SaveItem } from './archive/save'
import { removeTreeAt } from '../files/tree'
import { buildHostRootfs } from './host-rootfs'
import { importArchive, importDirectory } from './import-layer'
import { imageHistory, inspectImage, type ImageHistoryEntry, type ImageInspect } from './inspect'
import { normaliseRef, type ImageConfig, type ImageRecord, type ImageStore } from './store'
import { pullImage, type PullOptions } from './registry/pull'
import { pushImage, type PushOptions, type PushResult } from './registry/push'
import { pushSourceOf } from './registry/push-source'
import type { LogTime } from '../util/log-time'

/** What the image API needs from a runtime: its image store. A `Runtime` is one. */
export interface ImageContext {
  /** Layers, images and refs. @internal */
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

/** A step of a build, as {@link BuildOptions.onLog} names it. */
export interface BuildStep {
  /** The stage's name, or its index as a string. */
  stage: string
  /** 1-based line of the instruction. */
  line: number
  /** The instruction as written, e.g. "RUN make". */
  instruction: string
}

/** A progress event of `Image.build` (see {@link BuildOptions.onProgress}). */
export interface BuildProgress extends BuildStep {
  /** 'running' when the instruction starts; then 'cached' (its layer came from the cache), 'done' or 'failed'. */
  status: 'running' | 'cached' | 'done' | 'failed'
  /** Milliseconds the instruction took (0 while running). */
  ms: number
}

/** A build secret read from a file (`docker buildx build --secret id=<id>,src=<path>`). */
export interface BuildSecretFile {
  /** The file whose bytes are the secret. */
  src: string
}

/** A build secret read from an environment variable of this process (`--secret id=<id>,env=<VAR>`). */
export interface BuildSecretEnv {
  /** The variable's name. */
  env: string
}

/** A build secret given as it is. */
export interface BuildSecretValue {
  /** The secret's bytes (a string is written as UTF-8). */
  value: string | Uint8Array
}

/** Where a build secret comes from (see {@link BuildOptions.secrets}). */
export type BuildSecretSource = BuildSecretFile | BuildSecretEnv | BuildSecretValue

/** Options of `Image.build`. */
export interface BuildOptions {
  /** The Dockerfile: a path in the context (default "Dockerfile"), an absolute path, or its text. */
  dockerfile?: string | {
    /** The Dockerfile's text. */
    content: string
  }
  /** Tags for the result, e.g. "app:test". */
  tag?: string | string[]
  /** Values of the Dockerfile's ARGs (`--build-arg`); one no ARG declares changes nothing. */
  buildArgs?: Record<string, string>
  /** The stage to build (`--target`); default the last. Stages it does not need are not built. */
  target?: string
  /** Labels added to the result's config. */
  labels?: Record<string, string>
  /** Network of RUN steps: 'bridge' (default, as Docker), 'none' or 'host'. */
  network?: 'bridge' | 'none' | 'host'
  /** Base images: 'missing' (default) pulls one not stored, 'never' fails instead. */
  pull?: 'missing' | 'never'
  /** Build every step again; the cache is neither read nor written. */
  noCache?: boolean
  /**
   * Secrets for `RUN --mount=type=secret,id=<id>`, by id, as `docker buildx
   * build --secret` gives them: `{ npmrc: { src: '/home/me/.npmrc' } }`,
   * `{ token: { env: 'GITHUB_TOKEN' } }`, `{ key: { value: '...' } }`. They
   * are in no layer and no cache key (a changed secret does not rerun a
   * step, as in BuildKit); a mount of a secret not given is left out, or
   * fails the build (ENOTFOUND) when `required`.
   */
  secrets?: Record<string, BuildSecretSource>
  /**
   * SSH agents for `RUN --mount=type=ssh[,id=<id>]`, by id (default "default"),
   * as `docker buildx build --ssh`: `{ default: process.env.SSH_AUTH_SOCK }`.
   * The RUN reaches the agent through a socket at the mount's target, and
   * SSH_AUTH_SOCK names it; keys never leave the agent.
   */
  ssh?: Record<string, string>
  /**
   * Reproducible builds (SOURCE_DATE_EPOCH, seconds since 1970): history and
   * `created` get this time, and no file or directory in a built layer is
   * newer, so the same inputs give the same image id on any root.
   */
  sourceDateEpoch?: number
  /** Each line of output and progress ("CACHED" for a step taken from the cache), with its step. */
  onLog?: (line: string, step: BuildStep) => void
  /** Each instruction's start and end (cached, done or failed, with its time), in the order they happen. */
  onProgress?: (event: BuildProgress) => void
  /** Aborts the build (EABORTED); nothing it was making is left. */
  signal?: AbortSignal
  /** A `Runtime`; omitted, the default runtime. */
  runtime?: ImageContext
}

/** The builder behind {@link Image.build} and {@link Image.pruneBuildCache} (lib/builder, which sits above the container layer). */
export interface ImageBuilder {
  /** Builds an image (Image.build). */
  build(context: string, opts: BuildOptions): Promise<Image>
  /** Prunes the build cache (Image.pruneBuildCache). */
  pruneCache(opts: BuildCachePruneOptions): Promise<BuildCachePruneResult>
}

/** Options of {@link Image.pruneBuildCache}. */
export interface BuildCachePruneOptions extends ImageRuntimeOption {
  /** Only what was last used before this time: a duration before now ("24h", "90m"), a Date, unix seconds or RFC 3339 (Docker's `until` filter); default: everything. */
  until?: LogTime
}

/** What {@link Image.pruneBuildCache} removed. */
export interface BuildCachePruneResult {
  /** Cached steps forgotten. */
  entriesDeleted: number
  /** Their layers that no image and no remaining step used, removed. */
  layersDeleted: number
  /** RUN --mount=type=cache directories removed. */
  cacheMountsDeleted: number
}

const builder = new DefaultBinding<ImageBuilder>('no image builder: import minicontainer through its entry point')

/** Binds the builder (the runtime module does, once). */
export function useImageBuilder(b: ImageBuilder): void {
  builder.bind(() => b)
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

/** Options of {@link Image.load}. */
export interface LoadOptions extends ImageRuntimeOption {
  /** Cancels the load; nothing is stored. */
  signal?: AbortSignal
  /** Called as each file of the archive is read into the store (`minicontainer load` draws its bars from it on a terminal). */
  onProgress?: (event: LoadProgress) => void
}

/** Options of {@link Image.save}. */
export interface SaveOptions extends ImageRuntimeOption {
  /** 'docker' (default): a docker-archive that is also an OCI layout, as Docker 25+ writes; 'oci': an OCI image layout. */
  format?: 'docker' | 'oci'
  /** Cancels the save; a path is then not written. */
  signal?: AbortSignal
}

/** The tag a save argument names ("bb" -> "bb:latest"), when it is one of the image's tags and not an id. */
function tagOf(store: ImageStore, ref: string, id: string): string | undefined {
  try {
    const tag = normaliseRef(ref)
    return store.refsOf(id).includes(tag) ? tag : undefined
  } catch {
    return undefined
  }
}

/** Options of {@link Image.prune}. */
export interface PruneOptions extends ImageRuntimeOption {
  /** true (default): only images without a tag; false: every image no container uses. */
  dangling?: boolean
}

/** What {@link Image.prune} removed. */
export interface PruneResult {
  /** Ids ("sha256:<hex>") of the removed images. */
  imagesDeleted: string[]
  /** Bytes of the removed images' files (layers shared with remaining images included). */
  spaceReclaimed: number
}

/** Options of {@link Image.pull}: registry access, platform, progress, cancellation, and the runtime. */
export interface ImagePullOptions extends PullOptions, ImageRuntimeOption {}

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
   * Builds an image from a Dockerfile in `context` (a directory), in-process,
   * with BuildKit's semantics: stages and `COPY --from`, RUN in a throwaway
   * container of the stage, COPY of context files (`.dockerignore` applied),
   * and a cache in the runtime root shared by every process using it.
   * EDOCKERFILE for a Dockerfile that cannot be built as written, EBUILD for
   * a failed step (its exit code and last 50 lines), ENOTFOUND for a missing
   * source; a failed build leaves no container or cache entry of its step.
   */
  static async build(context: string, opts: BuildOptions = {}): Promise<Image> {
    return builder.of(undefined).build(context, opts)
  }

  /**
   * Removes build cache (`docker builder prune`): cached steps last used
   * longer ago than `until` (default: all), the layers only they kept, and
   * RUN cache mounts last used that long ago. Images are never touched.
   */
  static async pruneBuildCache(opts: BuildCachePruneOptions = {}): Promise<BuildCachePruneResult> {
    return builder.of(undefined).pruneCache(opts)
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
    if (!st) throw new NotFoundError(`cannot import ${source}: no such file or directory`)
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
      removeTreeAt(skeleton)
    }
  }

  /**
   * Loads every image of an archive (`docker load`): docker save output
   * (also Docker 25+'s OCI-in-docker-archive), an OCI image layout as a tar
   * or a directory; plain, gzip or zstd. Layers are verified against their
   * configs and stored once; a corrupt or truncated archive throws
   * (EDIGEST, EINVALID) and stores nothing.
   */
  static async load(source: string | Readable, opts: LoadOptions = {}): Promise<Image[]> {
    const rt = contextOf(opts)
    const store = rt.images
    let files: ArchiveFiles
    if (typeof source === 'string') {
      const st = fs.statSync(source, { throwIfNoEntry: false })
      if (!st) throw new NotFoundError(`cannot load ${source}: no such file or directory`)
      files = st.isDirectory() ? readArchiveDir(source, store.blobs, opts) : await readArchiveStream(fs.createReadStream(source), store.blobs, opts)
    } else files = await readArchiveStream(source, store.blobs, opts)
    return (await loadArchive(store, files)).map((r) => new Image(rt, r))
  }

  /**
   * Copies an image from the local Docker engine's store (`docker save`'s stream from its API
   * socket, no docker CLI), so what Docker already has runs here offline. `socket` defaults to
   * `$DOCKER_HOST` (unix://) or /var/run/docker.sock. ENOIMAGE when Docker has no such image,
   * ENOTFOUND when no engine answers; nothing is stored then.
   */
  static async fromDocker(ref: string, opts: ImageRuntimeOption & { socket?: string; signal?: AbortSignal } = {}): Promise<Image> {
    const socket = opts.socket ?? defaultDockerSocket()
    const stream = await dockerSaveStream(ref, socket, opts.signal)
    const [image] = await Image.load(stream, { ...(opts.runtime ? { runtime: opts.runtime } : {}), ...(opts.signal ? { signal: opts.signal } : {}) })
    if (!image) throw new InvalidArgumentError(`the Docker engine at ${socket} sent no image for ${ref}`)
    return image
  }

  /**
   * Writes images to one archive (`docker save`): `format: 'docker'`
   * (default) is read by docker load, skopeo (docker-archive:) and OCI tools
   * alike; `'oci'` is an OCI image layout tar. A ref given as name:tag is
   * written as that image's tag. A path is written whole or not at all.
   */
  static async save(refs: string | string[], dest: string | Writable, opts: SaveOptions = {}): Promise<void> {
    const store = contextOf(opts).images
    const items = new Map<string, SaveItem>()
    for (const ref of typeof refs === 'string' ? [refs] : refs) {
      const record = store.resolve(ref)
      const item = items.get(record.id) ?? { record, refs: [] }
      const tag = tagOf(store, ref, record.id)
      if (tag && !item.refs.includes(tag)) item.refs.push(tag)
      items.set(record.id, item)
    }
    if (typeof dest !== 'string') return saveArchive(store, [...items.values()], dest, opts)
    const tmp = `${dest}.${process.pid}.tmp`
    try {
      await saveArchive(store, [...items.values()], fs.createWriteStream(tmp), opts)
      fs.renameSync(tmp, dest)
    } finally {
      fs.rmSync(tmp, { force: true })
    }
  }

  /**
   * Pulls an image from its registry (OCI Distribution API): `redis`,
   * `127.0.0.1:5000/team/app:1.2`, `name@sha256:...`. Picks the platform
   * from a multi-platform image (the host's unless `platform`), downloads
   * only the layers the store lacks, several at once, verifying each.
   * Credentials: `auth`, else ~/.docker/config.json `auths`. A failed or
   * cancelled pull leaves no image and no partial blob behind.
   */
  static async pull(ref: string, opts: ImagePullOptions = {}): Promise<Image> {
    const rt = contextOf(opts)
    const { record } = await pullImage(rt.images, ref, opts)
    return new Image(rt, record)
  }

  /**
   * Pushes the image to a registry as `target` ("127.0.0.1:5000/team/app:1.2";
   * default: the image's first ref): blobs the registry lacks (mounted from
   * another repository of it when the image came from there), then the
   * manifest. Records the pushed digest in the image's repoDigests.
   */
  async push(target?: string, opts: PushOptions = {}): Promise<PushResult> {
    const dest = target ?? this.refs[0]
    if (!dest) throw new InvalidArgumentError('the image has no ref to push to: give a target, e.g. img.push("127.0.0.1:5000/app:1")')
    const source = pushSourceOf(this.runtime.images, this.record)
    const result = await pushImage(source, dest, opts)
    const configBytes = fs.readFileSync(source.config.path)
    this.runtime.images.putImageFromConfig(configBytes, { repoDigests: [`${result.reference.name}@${result.digest}`], manifest: result.manifest })
    return result
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

  /** Points another tag at this image (`docker tag`); moves the tag if it named another image. */
  async tag(ref: string): Promise<void> {
    this.runtime.images.tag(ref, this.id)
  }

  /** Removes a tag (`docker rmi name:tag` on an image with other tags); the image stays, untagged if it was its last. */
  static async untag(ref: string, opts: ImageRuntimeOption = {}): Promise<void> {
    const store = contextOf(opts).images
    if (!store.untag(ref)) throw new ImageNotFoundError(ref)
  }

  /**
   * Removes unused images (`docker image prune`): by default only dangling
   * ones (no tag); `{ dangling: false }` every image no container uses
   * (`-a`). Layers still used by other images stay.
   */
  static async prune(opts: PruneOptions = {}): Promise<PruneResult> {
    const store = contextOf(opts).images
    const result: PruneResult = { imagesDeleted: [], spaceReclaimed: 0 }
    for (const r of store.list()) {
      if ((opts.dangling ?? true) && store.refsOf(r.id).length) continue
      if (store.users(r.id).length) continue
      const size = inspectImage(store, r).size
      store.remove(r.id)
      result.imagesDeleted.push(r.id)
      result.spaceReclaimed += size
    }
    return result
  }

  /** `docker image inspect`: id, tags, digests, platform, config, layers and size. */
  async inspect(): Promise<ImageInspect> {
    return inspectImage(this.runtime.images, this.runtime.images.resolve(this.id))
  }

  /** `docker history`: the steps that built the image, newest first. */
  async history(): Promise<ImageHistoryEntry[]> {
    return imageHistory(this.runtime.images, this.record)
  }

  /**
   * Deletes the image and the layers only it used. Refuses while a
   * container uses it, unless `force`, which only untags it (like
   * `docker rmi -f`): its containers keep their layers.
   */
  async remove(opts: { force?: boolean } = {}): Promise<void> {
    const users = this.runtime.images.users(this.id)
    if (users.length && !opts.force)
      throw new ImageInUseError(this.refs[0] ?? this.id, users[0])
    if (users.length) {
      // Like `docker rmi -f` on an image in use: untag it, keep the layers for its containers.
      for (const ref of this.refs) this.runtime.images.untag(ref)
      return
    }
    this.runtime.images.remove(this.id)
  }
}
