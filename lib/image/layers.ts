/**
 * Unpacked layers, one directory per diffID (the sha256 of the uncompressed
 * layer tar), shared by every image and container that uses the layer:
 *
 *   layers/sha256-<hex>/diff/          the layer as an overlay lower dir
 *   layers/sha256-<hex>/size           bytes of its files (docker's Size)
 *   layers/sha256-<hex>/blobs/<hex>    a recorded stored blob of this layer; holds its media type
 *   layers/by-blob/<hex>               the diffID a recorded blob unpacks to
 *
 * A layer's plain tar is the blob whose digest is its diffID: as an OCI
 * tar it needs no record (its files and index entry cost each layer a build
 * step makes four file creations); another media type is recorded.
 *   layers/tmp/<pid>-<random>/         an unpack in progress
 *
 * A layer is unpacked into scratch and renamed into place whole, under a
 * lock per blob, so concurrent callers (in any process) wait for one unpack
 * and nobody ever sees half a layer.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Readable } from 'node:stream'
import { DigestMismatchError, InvalidArgumentError, LayerArchiveMissingError, NotFoundError } from '../errors'
import { decompressed } from '../files/tar-streams'
import { removeTreeAt } from '../files/tree'
import { OwnerLedger, type TreeOwnership } from '../files/owner-ledger'
import { checkDigest, type BlobStore, type IngestOptions } from './blobs'
import { blobPass, ingestLayerPass, unpackInto } from './layer-ingest'
import type { KeyedLock } from '../util/keyed-lock'
import { removeStaleScratch, scratchName } from './scratch'
import { coalesce } from '../util/coalesce'
import { diskUsage } from '../files/disk-usage'

/** Media types of layers: OCI and Docker, compressed or not. */
export const layerMediaTypes = {
  tar: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const

const knownLayerTypes = new Set<string>([
  ...Object.values(layerMediaTypes),
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
])

/** Throws EINVALID for a media type that is not a layer archive minicontainer can unpack. */
export function checkLayerMediaType(mediaType: string): void {
  if (!knownLayerTypes.has(mediaType))
    throw new InvalidArgumentError(`unknown layer media type "${mediaType}": expected a tar, tar+gzip or tar+zstd layer (OCI or Docker)`)
}

/** A stored blob of a layer. */
export interface LayerBlob {
  digest: string
  mediaType: string
}

const hexOf = (digest: string) => checkDigest(digest).slice('sha256:'.length)

/** The unpacked layers of one runtime root. */
export class LayerStore {
  private readonly dir: string
  private readonly byBlob: string
  private readonly tmpDir: string
  /** Short names of layers for overlay mounts (see {@link LayerStore.mountPath}). */
  private readonly shortDir: string

  constructor(
    root: string,
    private readonly blobs: BlobStore,
    private readonly lock: KeyedLock,
    /** A rootless runtime's: files keep the owners their archive gives (see ../files/owner-ledger). */
    private readonly ownership?: TreeOwnership,
  ) {
    this.dir = path.join(root, 'layers')
    this.byBlob = path.join(this.dir, 'by-blob')
    this.tmpDir = path.join(this.dir, 'tmp')
    this.shortDir = path.join(this.dir, 'l')
    for (const d of [this.byBlob, this.tmpDir, this.shortDir]) fs.mkdirSync(d, { recursive: true })
    removeStaleScratch(this.tmpDir)
  }

  /** The directory of a layer's files (an overlay lower dir). */
  path(diffId: string): string {
    return path.join(this.home(diffId), 'diff')
  }

  /**
   * The name a container's overlay mount gives the layer: a short symlink to
   * its files in one directory, as Docker's overlay2 keeps in `l/`. Before
   * Linux 6.8 the shim passes the lower dirs in the mount's option string,
   * which holds a page: full paths (~110 bytes) fit about 35 layers, and the
   * shim, given names in one directory, mounts from there with 17-byte
   * names, over 200 layers.
   */
  mountPath(diffId: string): string {
    const link = path.join(this.shortDir, hexOf(diffId).slice(0, 16))
    // Made once per layer, asked at every start: an lstat instead of a symlink failing with EEXIST, whose thrown
    // error costs 3.4x as much (9 against 32 µs, load 21). Not remembered: another process may remove the link.
    if (fs.lstatSync(link, { throwIfNoEntry: false })) return link
    try {
      fs.symlinkSync(`../sha256-${hexOf(diffId)}/diff`, link)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    return link
  }

  /** Whether the layer is unpacked. */
  has(diffId: string): boolean {
    return fs.existsSync(this.home(diffId))
  }

  /** Bytes of the layer's files. */
  size(diffId: string): number {
    return Number(fs.readFileSync(path.join(this.home(diffId), 'size'), 'utf8'))
  }

  /** The stored blobs known to unpack to this layer (for save and push), its plain tar among them when stored. */
  blobsOf(diffId: string): LayerBlob[] {
    const dir = path.join(this.home(diffId), 'blobs')
    const names = fs.existsSync(dir) ? fs.readdirSync(dir) : []
    const recorded = names.map((hex) => ({ digest: `sha256:${hex}`, mediaType: fs.readFileSync(path.join(dir, hex), 'utf8') }))
    const plain = recorded.some((b) => b.digest === diffId) ? [] : [{ digest: diffId, mediaType: layerMediaTypes.tar }]
    return [...recorded, ...plain].filter((b) => this.blobs.has(b.digest))
  }

  /**
   * The layer as an uncompressed tar blob (digest = diffID), made once from a
   * compressed blob when only that is stored (docker save writes plain tars).
   */
  async uncompressedBlob(diffId: string): Promise<LayerBlob> {
    const stored = this.blobsOf(diffId)
    const plain = stored.find((b) => b.digest === diffId)
    if (plain) return plain
    if (!stored.length) throw new LayerArchiveMissingError(diffId, 'export')
    const { digest, fresh } = await this.blobs.add(decompressed(fs.createReadStream(this.blobs.path(stored[0].digest))))
    if (digest !== diffId) {
      if (fresh) this.blobs.remove(digest)
      throw new DigestMismatchError(`layer ${diffId}`, `its stored archive ${stored[0].digest} now decompresses to ${digest}; the store is corrupt`)
    }
    const blob = { digest, mediaType: layerMediaTypes.tar }
    this.recordBlob(diffId, blob)
    return blob
  }

  /** The diffID of an already unpacked blob, if any. */
  unpacked(blobDigest: string): string | undefined {
    // A plain tar unpacks to the layer of its own digest (a compressed blob's digest is no layer's diffID).
    if (this.has(blobDigest)) return blobDigest
    let diffId: string
    try {
      diffId = fs.readFileSync(path.join(this.byBlob, hexOf(blobDigest)), 'utf8')
    } catch {
      return undefined
    }
    return this.has(diffId) ? diffId : undefined
  }

  /** Unpacks a stored blob once per layer; returns its diffID. See {@link ImageStore.unpackLayer}. */
  async unpack(blobDigest: string, mediaType?: string): Promise<string> {
    if (mediaType !== undefined) checkLayerMediaType(mediaType)
    const done = this.unpacked(blobDigest)
    if (done) return done
    if (!this.blobs.has(blobDigest)) throw new NotFoundError(`blob ${blobDigest} is not stored: ingest it before unpacking`)
    return this.lock.with(`blob-${hexOf(blobDigest)}`, async () => {
      // 1 MiB reads: a 64 KiB default is 16 times the read(2) calls and stream turns for the same bytes.
      const diffId = this.unpacked(blobDigest) ?? (await this.unpackOnce(blobDigest, fs.createReadStream(this.blobs.path(blobDigest), { highWaterMark: 1 << 20 })))
      this.recordBlob(diffId, { digest: blobDigest, mediaType: mediaType ?? layerMediaTypes.tar })
      return diffId
    })
  }

  /**
   * Ingests a layer blob and unpacks it in one pass over `src` (a download;
   * see ./layer-ingest). The blob is moved into place once
   * its digest (and `opts.size`) verified, and only then is the layer
   * committed: an unverified layer is never visible. When the blob is
   * unpacked already, it is only ingested.
   */
  async ingest(blobDigest: string, mediaType: string, src: Readable | AsyncIterable<Buffer>, opts: IngestOptions = {}): Promise<string> {
    checkLayerMediaType(mediaType)
    return this.lock.with(`blob-${hexOf(blobDigest)}`, async () => {
      let diffId = this.unpacked(blobDigest)
      if (diffId) await this.blobs.ingest(blobDigest, src instanceof Readable ? src : Readable.from(src), opts)
      else diffId = await this.ingestUnpacking(blobDigest, src, opts)
      this.recordBlob(diffId, { digest: blobDigest, mediaType })
      return diffId
    })
  }

  /**
   * Stores a layer tar we produced (a build step, import, commit) as a blob and unpacks it in the
   * same pass over its bytes (writing the blob, then reading it back to unpack, took longer); returns
   * its diffID. An identical layer stored before, or meanwhile by another process, is kept, and this
   * one's files dropped; an archive that does not unpack leaves nothing behind.
   */
  async addTar(tar: Readable): Promise<string> {
    const scratch = this.newScratch()
    const blobTmp = this.blobs.tempPath()
    const diffDir = path.join(scratch, 'diff')
    const mode = this.unpackMode()
    try {
      const result = await ingestLayerPass({ blobTmp, diffDir, blobDigest: '(the layer being stored)', ...mode }, tar)
      if (!result.layer) throw result.unpackError
      const blob = { digest: result.blobDigest, mediaType: layerMediaTypes.tar }
      return await this.lock.with(`blob-${hexOf(blob.digest)}`, async () => {
        const done = this.unpacked(blob.digest)
        if (done) return done // the same layer was stored meanwhile (or before): ours goes
        this.blobs.commitTemp(blobTmp, blob.digest, undefined, { digest: blob.digest, size: result.blobSize })
        this.restoreOwners(diffDir, mode.owners)
        const diffId = this.commit(scratch, result.layer!)
        this.recordBlob(diffId, blob)
        return diffId
      })
    } finally {
      fs.rmSync(blobTmp, { force: true })
      this.removeTree(scratch)
    }
  }

  /**
   * Stores a layer whose writer lays its files out itself: `write` gets an empty directory (the
   * layer's, on the store's filesystem) and returns the layer's plain tar, which must end only once
   * the directory holds what an unpack of it would (a COPY's files, written as their entries go into
   * the tar: the tar is only hashed and written as the blob, never parsed back). A failed tar (the
   * writer's failure) leaves nothing; an identical layer stored before is kept and this one dropped.
   */
  async addWritten(write: (diffDir: string) => Readable): Promise<string> {
    const scratch = this.newScratch()
    const blobTmp = this.blobs.tempPath()
    try {
      const diffDir = path.join(scratch, 'diff')
      const { blobDigest, blobSize } = await blobPass(blobTmp, coalesce(write(diffDir)))
      const size = await diskUsage(diffDir)
      return await this.lock.with(`blob-${hexOf(blobDigest)}`, async () => {
        const done = this.unpacked(blobDigest)
        if (done) return done
        this.blobs.commitTemp(blobTmp, blobDigest, undefined, { digest: blobDigest, size: blobSize })
        return this.commit(scratch, { diffId: blobDigest, size }) // a plain tar: its digest is the diffID, and needs no record
      })
    } finally {
      fs.rmSync(blobTmp, { force: true })
      this.removeTree(scratch)
    }
  }

  /** Whether {@link adopt} can move `dir` into the store: it lies on the store's filesystem. */
  canAdopt(dir: string): boolean {
    return fs.statSync(dir).dev === fs.statSync(this.tmpDir).dev
  }

  /**
   * Stores a layer whose files already lie in `dir` as an unpack of `tar` would lay them out (a RUN's
   * upper dir, made so by ../files/upper-as-layer; `tar`, a plain tar, made from it): `tar` is only written
   * as the blob, and `dir` is moved into place instead of unpacked from it, which wrote every file again.
   * `size` is its files' size as ../files/disk-usage counts them (the walk that prepared `dir` counted it).
   * `dir` must be on the store's filesystem and nothing may write it meanwhile. An identical layer stored
   * before, or meanwhile by another process, is kept and `dir` left where it is; a failure leaves nothing.
   */
  async adopt(dir: string, tar: Readable, size: number): Promise<string> {
    const blobTmp = this.blobs.tempPath()
    const scratch = path.join(this.tmpDir, scratchName())
    try {
      const { blobDigest, blobSize } = await blobPass(blobTmp, coalesce(tar))
      return await this.lock.with(`blob-${hexOf(blobDigest)}`, async () => {
        const done = this.unpacked(blobDigest)
        if (done) return done
        fs.mkdirSync(scratch)
        fs.renameSync(dir, path.join(scratch, 'diff'))
        this.blobs.commitTemp(blobTmp, blobDigest, undefined, { digest: blobDigest, size: blobSize })
        return this.commit(scratch, { diffId: blobDigest, size }) // a plain tar: its digest is the diffID, and needs no record
      })
    } finally {
      fs.rmSync(blobTmp, { force: true })
      this.removeTree(scratch)
    }
  }

  /** Deletes a layer and its blob index entries (the blobs themselves belong to the blob store). */
  remove(diffId: string): void {
    for (const b of this.blobsOf(diffId)) fs.rmSync(path.join(this.byBlob, hexOf(b.digest)), { force: true })
    fs.rmSync(path.join(this.shortDir, hexOf(diffId).slice(0, 16)), { force: true })
    this.removeTree(this.home(diffId))
  }

  /** Removes a layer's tree, through the runtime's user namespace when it holds files of other ids. */
  private removeTree(dir: string): void {
    if (this.ownership) this.ownership.removeTree(dir)
    else removeTreeAt(dir) // fs.rmSync fails on a tree deeper than PATH_MAX (a committed deep dir)
  }

  /** A ledger of the owners an unpack gives, when the owners are given afterwards (rootless). */
  private ledger(): OwnerLedger | undefined {
    return this.ownership ? new OwnerLedger() : undefined
  }

  /** How an unpack writes a layer: a rootless runtime's records owners to give afterwards, and marks opaque directories as its overlay mounts (userxattr) read them. */
  private unpackMode(): { owners?: OwnerLedger; userxattr: boolean } {
    return { owners: this.ledger(), userxattr: !!this.ownership }
  }

  /** The owners an unpack recorded, given in one pass before the layer is committed. */
  private restoreOwners(diffDir: string, owners: OwnerLedger | undefined): void {
    if (owners && this.ownership) this.ownership.restoreOwners(diffDir, owners)
  }

  private home(diffId: string): string {
    return path.join(this.dir, `sha256-${hexOf(diffId)}`)
  }

  /** Unpacks `src` (the blob's bytes) into scratch and commits it by rename. */
  private async unpackOnce(blobDigest: string, src: Readable): Promise<string> {
    const scratch = this.newScratch()
    const diffDir = path.join(scratch, 'diff')
    try {
      const mode = this.unpackMode()
      const layer = await unpackInto(diffDir, src, blobDigest, mode)
      this.restoreOwners(diffDir, mode.owners)
      return this.commit(scratch, layer)
    } finally {
      this.removeTree(scratch)
    }
  }

  /**
   * The unpacking side of {@link ingest}: the blob goes to a temp file and
   * the layer to scratch. A blob failing its digest is EDIGEST
   * even when the unpack failed too (a tampered gzip breaks both); a blob
   * that verified is kept even when it does not unpack, as {@link unpack}
   * would leave it.
   */
  private async ingestUnpacking(blobDigest: string, src: AsyncIterable<Buffer>, opts: IngestOptions): Promise<string> {
    const scratch = this.newScratch()
    const blobTmp = this.blobs.tempPath()
    const diffDir = path.join(scratch, 'diff')
    const mode = this.unpackMode()
    try {
      const result = await ingestLayerPass({ blobTmp, diffDir, blobDigest, ...mode }, until(src, opts.signal))
      this.blobs.commitTemp(blobTmp, blobDigest, opts.size, { digest: result.blobDigest, size: result.blobSize })
      if (!result.layer) throw result.unpackError
      this.restoreOwners(diffDir, mode.owners)
      return this.commit(scratch, result.layer)
    } finally {
      fs.rmSync(blobTmp, { force: true })
      this.removeTree(scratch)
    }
  }

  /** A fresh scratch dir with an empty diff/. */
  private newScratch(): string {
    const scratch = path.join(this.tmpDir, scratchName())
    fs.mkdirSync(scratch)
    fs.mkdirSync(path.join(scratch, 'diff'))
    return scratch
  }

  /** Records its size and renames a finished scratch layer into place (an identical layer already there wins); returns its diffID. */
  private commit(scratch: string, layer: { diffId: string; size: number }): string {
    fs.writeFileSync(path.join(scratch, 'size'), String(layer.size))
    try {
      fs.renameSync(scratch, this.home(layer.diffId))
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err
    }
    return layer.diffId
  }

  /** Records a blob of the layer: compressed, or its plain tar under another media type than OCI's (see the module comment). */
  private recordBlob(diffId: string, blob: LayerBlob): void {
    if (blob.digest === diffId && blob.mediaType === layerMediaTypes.tar) return
    fs.mkdirSync(path.join(this.home(diffId), 'blobs'), { recursive: true })
    fs.writeFileSync(path.join(this.home(diffId), 'blobs', hexOf(blob.digest)), blob.mediaType)
    const index = path.join(this.byBlob, hexOf(blob.digest))
    const tmp = path.join(this.tmpDir, scratchName())
    fs.writeFileSync(tmp, diffId)
    fs.renameSync(tmp, index)
  }
}

/** The chunks of `src`, stopping with the signal's reason once it fires. */
async function* until(src: AsyncIterable<Buffer>, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
  for await (const chunk of src) {
    signal?.throwIfAborted()
    yield chunk
  }
}
