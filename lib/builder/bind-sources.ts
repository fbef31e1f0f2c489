/**
 * The host paths behind RUN's `--mount=type=bind`, as BuildKit gives them:
 * a context path (`..` and symlinks resolved, never outside the context),
 * or a path in another stage's or image's files (`from=`). Read-only binds
 * of the context are the context itself; anything else is a private copy
 * in the build's scratch directory (build-scratch.ts; the layers are never exposed, and a `rw` bind's
 * writes are discarded with the copy, as BuildKit discards them), removed
 * by {@link BindSources.dispose}.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { NotFoundError } from '../errors'
import { copyFromLayers } from '../storage/volume-seed'
import { removeTreeAt } from '../files/tree'
import { scratchPath } from './build-scratch'
import { rootlessHostReadError, rootlessLayerReadError } from './errors'
import type { HostBind } from '../image/store'
import { OwnerLedger, type InsideIds, type TreeOwnership } from '../files/owner-ledger'
import type { SourceReads } from '../files/source-reads'

/** What a rootless runtime's identity lends the copies: ids inside, and owners given (and trees removed) through its user namespace. */
export interface RootlessOwnership extends TreeOwnership {
  insideIds(): InsideIds
  /** Opens files only another id inside may read or search, through the user namespace. */
  sourceReads(): SourceReads
}

/** Where a `from=` bind reads: the layer directories of the stage or image (top-most first), and the host paths it binds. */
export interface BindOrigin {
  /** The stage or image as written in `from=`, for messages. */
  readonly name: string
  readonly layerDirs: string[]
  /** Host directories its containers see (an `Image.fromHost()` image's /usr): what lies below one is read there, not in the layers. */
  readonly hostBinds: HostBind[]
}

/** One bind to make: its source path (in the context, or in `origin`) and whether it is writable. */
export interface BindRequest {
  readonly source: string
  readonly readWrite: boolean
  readonly origin?: BindOrigin
}

/** The host paths of one RUN's bind mounts, and the copies made for them. */
export class BindSources {
  private readonly copies: string[] = []

  /**
   * @param contextDir - the build context
   * @param root - the runtime root, whose build scratch directory takes the copies (beside the layers)
   * @param rootless - a rootless runtime's identity: copies of files of other ids get their owners through its user namespace, and go the same way
   */
  constructor(
    private readonly contextDir: string,
    private readonly root: string,
    private readonly rootless?: RootlessOwnership,
  ) {}

  /** The host path to bind for `bind`; ENOTFOUND naming the source when it does not exist. */
  hostPath(bind: BindRequest): string {
    if (bind.origin) return this.fromLayers(bind.origin, bind.source, bind.readWrite)
    const real = contextPath(this.contextDir, bind.source)
    if (!bind.readWrite) return real
    const copy = this.newCopyPath()
    fs.cpSync(real, copy, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true })
    return copy
  }

  /** Removes the copies (a rw bind's writes go with them). */
  dispose(): void {
    for (const copy of this.copies.splice(0)) (this.rootless ? this.rootless.removeTree(copy) : removeTreeAt(copy))
  }

  /** Copies `source` of `origin` to `dest` (which must not exist): a cache mount's seed; ENOTFOUND naming it when missing. */
  copyOut(origin: BindOrigin, source: string, dest: string, what = 'type=bind'): void {
    const p = path.posix.resolve('/', source)
    const host = hostPathIn(origin.hostBinds, p)
    if (host) this.copyHostPath(`RUN --mount=${what},from=${origin.name}`, host, dest)
    else if (!this.copyFromLayersAs(`RUN --mount=${what},from=${origin.name}`, origin.layerDirs, p, dest)) throw new NotFoundError(`RUN --mount=${what},from=${origin.name}: "${source}" does not exist in ${origin.name}; check the source= path`)
  }

  /** Copies a host path an image binds (made as the caller: rootless, a host file the user may not read is EUNSUPPORTED saying so). */
  private copyHostPath(what: string, host: string, dest: string): void {
    try {
      fs.cpSync(host, dest, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true })
    } catch (err) {
      throw rootlessHostReadError(!!this.rootless, err, what)
    }
  }

  private copyFromLayersAs(what: string, layerDirs: string[], p: string, dest: string): boolean {
    try {
      return this.copyFromLayers(layerDirs, p, dest)
    } catch (err) {
      throw rootlessLayerReadError(!!this.rootless, err, what)
    }
  }

  /** copyFromLayers with the owners of the layers' files: given as it copies, or rootless, through the user namespace after it. */
  private copyFromLayers(layerDirs: string[], p: string, dest: string): boolean {
    if (!this.rootless) return copyFromLayers(layerDirs, p, dest)
    const ledger = new OwnerLedger()
    if (!copyFromLayers(layerDirs, p, dest, { ids: this.rootless.insideIds(), ledger, reads: this.rootless.sourceReads() })) return false
    this.rootless.restoreOwners(dest, ledger)
    return true
  }

  private fromLayers(origin: BindOrigin, source: string, readWrite: boolean): string {
    // The host's own files (an Image.fromHost() image's /usr) are bound as they are, read-only; only a rw bind copies them.
    const host = hostPathIn(origin.hostBinds, path.posix.resolve('/', source))
    if (host && !readWrite) return host
    const copy = this.newCopyPath()
    this.copyOut(origin, source, copy)
    return copy
  }

  private newCopyPath(): string {
    const copy = scratchPath(this.root, 'bind')
    this.copies.push(copy)
    return copy
  }
}

/** A bind source in the context: `..` and symlinks resolved, and refused when the result is outside it. */
function contextPath(contextDir: string, source: string): string {
  const root = fs.realpathSync(contextDir)
  let real: string
  try {
    real = fs.realpathSync(path.join(root, path.posix.normalize(`/${source}`)))
  } catch {
    throw new NotFoundError(`RUN --mount=type=bind: "${source}" does not exist in the build context`)
  }
  if (real !== root && !real.startsWith(`${root}/`)) throw new NotFoundError(`RUN --mount=type=bind: "${source}" resolves outside the build context`)
  return real
}

/**
 * The host path behind `p` when it is at or below one of the binds' targets
 * (the last bind wins, as mounts stack), symlinks resolved and never
 * leaving the bound host directory (a link out of /usr is refused rather
 * than read on the host).
 */
function hostPathIn(binds: HostBind[], p: string): string | undefined {
  const bind = [...binds].reverse().find((b) => p === b.target || p.startsWith(`${b.target.replace(/\/$/, '')}/`))
  if (!bind) return undefined
  const top = fs.realpathSync(bind.source)
  let real: string
  try {
    real = fs.realpathSync(path.join(top, path.posix.relative(bind.target, p)))
  } catch {
    throw new NotFoundError(`RUN --mount from= the host image: "${p}" does not exist on the host`)
  }
  if (real !== top && !real.startsWith(`${top}/`)) throw new NotFoundError(`RUN --mount from= the host image: "${p}" resolves outside ${bind.target} on the host`)
  return real
}
