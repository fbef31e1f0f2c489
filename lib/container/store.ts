/**
 * Containers on disk. Everything about a container lives in its directory,
 * so any process (this one, a later one, another one) sees the same truth:
 *
 *   containers/<id>/config.json   what was asked for (written once)
 *   containers/<id>/state.json    what is happening (status, pid, exit)
 *   containers/<id>/exit          written by the shim when the program ends
 *   containers/<id>/{upper,work}  the writable layer (and merged/, the root of an image without layers, made at its start)
 *   rootfs-mount/                 the empty directory each container's overlay is mounted on, in the container's own mount namespace
 *   containers/<id>/<id>-json.log (the shim's json-file log, rotated to .1, .2...), hostname, hosts, resolv.conf
 *   containers/<id>/health.json   the health check's state, when one is configured
 *   containers/.creating-<x>-<pid> a create's directory being built, or the spare made ahead for the next create (spare-dir.ts)
 *   containers/<id>/prestarted    instead of config.json: a container pre-started for a later run to claim (prestarts.ts), its owner process
 *   containers/<id>/work          the overlay's work dir; its flock(2) is held by whoever mounts the writable layer (lockLayer)
 *   names/<name>                  the id owning a name (created with O_EXCL; a name too long for a file: its prefix, "+" and its sha256)
 *   names/.lock                   flock(2) held to take over a stale name or to free one (nameLock)
 *   trash/<id>.*                  removed containers whose files are still being deleted (with their names' files)
 *
 * The root and containers/ carry ext4's top-directory flag (`chattr +T`,
 * ../sys/file-flags): each container's directory, and the files made in it,
 * land in a block group of their own.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { AmbiguousReferenceError, ContainerNotFoundError, errnoOf, InvalidArgumentError, NameConflictError } from '../errors'
import { removeTreeAt, removeTreeConcurrently } from '../files/tree'
import { debug } from '../util/debug'
import type { TreeOwnership } from '../files/owner-ledger'
import { KeyedLock } from '../util/keyed-lock'
import { PendingWork } from '../util/pending-work'
import { createJson, readJson, updateJson } from '../util/json-file'
import { validName } from '../util/ids'
import { boundedFileName } from '../util/file-name'
import { markTopDirectory } from '../sys/file-flags'
import { withFileLockSync } from '../util/file-lock-sync'
import { tryLockExclusive } from '../sys/libc'
import { backgroundAsyncCalls } from '../sys/koffi-async'
import { removeTreeOffThread } from '../sys/removals'
import type { ContainerRecord, ContainerState } from './types'
import type { EtcFiles } from './etc-files'
import { SpareDirs } from './spare-dir'
import { randomHex } from '../util/random-pool'
import { livesOn, thisProcess, type ProcessIdentity } from '../util/process-identity'

/** `chattr +T` on `dir`, a hint: a filesystem or a caller that refuses it only gets a debug line. */
function markTop(dir: string): void {
  const refused = markTopDirectory(dir)
  if (refused) debug(`chattr +T ${dir}: ${refused}`)
}

/** A container directory being built by create(). */
const creatingPrefix = '.creating-'

/** The name's file of a removed container, moved into its directory in `trash/` (releaseName). */
const releasedNameFile = 'released-name'

/** The file of a pre-started container's directory that names its owner, where a claimed one has its config.json. */
const prestartedFile = 'prestarted'

/** How long a name whose owner has no directory stays its owner's: a create in progress makes the directory later. */
const staleNameMs = 10_000

/**
 * How long a name's file without a whole id in it (empty: its claimer was killed between the O_EXCL create and
 * the write) stays taken: that write follows the create at once, so a file still empty after this has no owner.
 */
const unwrittenNameMs = 2_000

/** What a name's file holds once written: its owner's id (../util/ids). */
const wholeId = /^[0-9a-f]{64}$/

/** Where a container's files are. */
export interface ContainerPaths {
  dir: string
  config: string
  state: string
  exit: string
  upper: string
  work: string
  /** The root of an image without layers: this directory itself, bound on itself (made at start; no overlay then). */
  merged: string
  /**
   * Where the shim mounts the overlay of an image with layers: one empty directory of the root for every
   * container, each mounted on in its own mount namespace (never the host's), so a create makes no mount
   * point of its own (a directory costs an inode and a block to make and to delete).
   */
  overlayMountPoint: string
  /** The json-file log the shim writes (native/logger.h). */
  log: string
  hostname: string
  hosts: string
  resolvConf: string
  health: string
}

/** Reads and writes container records under `<root>/containers` and `<root>/names`. */
export class ContainerStore {
  private readonly containersDir: string
  private readonly namesDir: string
  private readonly trashDir: string
  private readonly overlayMountPoint: string
  private readonly layerLocks: KeyedLock
  /** Deletions of removed containers' files under way (and what goes with them): Runtime.close() waits for them. @internal */
  readonly removals = new PendingWork()
  /** The container directory made ahead for the next create. */
  private readonly spares: SpareDirs

  /** @param ownership - a rootless runtime's: removes trees holding files of its subordinate ids. */
  constructor(
    root: string,
    private readonly ownership?: TreeOwnership,
  ) {
    this.containersDir = path.join(root, 'containers')
    this.namesDir = path.join(root, 'names')
    this.trashDir = path.join(root, 'trash')
    this.overlayMountPoint = path.join(root, 'rootfs-mount')
    // Each container's directory in a block group of its own, and the root's directories (names/) out of the
    // group of the root's parent: ext4 skips every inode deleted in its last minutes when it picks one in a
    // group, so a create in a group that containers (or anything else) churn costs up to ~0.3 ms, 10x a quiet one.
    markTop(root)
    fs.mkdirSync(this.trashDir, { recursive: true })
    fs.mkdirSync(this.containersDir, { recursive: true })
    fs.mkdirSync(this.namesDir, { recursive: true })
    fs.mkdirSync(this.overlayMountPoint, { recursive: true })
    markTop(this.containersDir)
    // The lock is the overlay's work dir itself (what it protects): no lock file to create per container.
    this.layerLocks = new KeyedLock(this.containersDir, { existing: true })
    this.spares = new SpareDirs(
      () => path.join(this.containersDir, `${creatingPrefix}spare${randomHex(8)}-${process.pid}`),
      (work) => void this.removals.track(work),
      (dir) => this.deleteUnattended(path.basename(dir)),
    )
  }

  /**
   * Holds the lock of a container's writable layer, across processes, until
   * the returned function is called. overlayfs empties its workdir when it
   * mounts, so a second mount of one upper and work dir breaks every later
   * copy-up of the first with ENOENT (two copyTo's at once into a stopped
   * container: 30 of 60 failed): a start and the views of a stopped container
   * mount it one at a time. The work dir goes with the container; rejects
   * (ENOENT) once the container is gone.
   */
  lockLayer(id: string): Promise<() => void> {
    return this.layerLocks.acquire(`${id}/work`)
  }

  /** The file layout of a container. */
  paths(id: string): ContainerPaths {
    const dir = path.join(this.containersDir, id)
    // Joined by hand: the names below are plain, and a start asks for these paths a dozen times.
    const f = (name: string) => `${dir}/${name}`
    return {
      dir, config: f('config.json'), state: f('state.json'), exit: f('exit'), upper: f('upper'), work: f('work'),
      merged: f('merged'), log: f(`${id}-json.log`), hostname: f('hostname'), hosts: f('hosts'),
      resolvConf: f('resolv.conf'), health: f('health.json'), overlayMountPoint: this.overlayMountPoint,
    }
  }

  /** The file holding the id that owns `name` (hashed when the name is too long for a file name). */
  private nameFile(name: string): string {
    return path.join(this.namesDir, boundedFileName(name))
  }

  /**
   * Every change to an existing name's file (a stale name's takeover, a removal's release) is made holding this
   * lock, across processes, after checking the file again: two processes that both found a name stale would
   * both have taken it, and a removal could have moved away the file a takeover had just written. A fresh
   * name's claim (O_EXCL) needs no lock: it cannot replace a file.
   */
  private nameLock<T>(fn: () => T): T {
    return withFileLockSync(path.join(this.namesDir, '.lock'), fn)
  }

  /** The id in a name's file; undefined when the name is free. */
  private nameOwner(file: string): string | undefined {
    try {
      return fs.readFileSync(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  /**
   * Whether a name is free again (after a grace period): left by a create that crashed before making its
   * directory, or by a claim killed before it wrote its id.
   */
  private isStale(file: string, owner: string): boolean {
    const written = wholeId.test(owner)
    if (written && fs.existsSync(this.paths(owner).dir)) return false
    const stat = fs.statSync(file, { throwIfNoEntry: false })
    return !!stat && Date.now() - stat.mtimeMs > (written ? staleNameMs : unwrittenNameMs)
  }

  /**
   * Creates a name's file holding `id` (O_EXCL): 'exists' when there is one. 'lost' when, between the create
   * and the write, the file was taken over as unwritten (this claimer stopped for seconds): being replaced
   * or replaced already. The write and the check that the file is still the name's are made holding the
   * file's flock, which a takeover holds from its check of the file to its replacement (takeOverStale):
   * a check made before a takeover's rename would otherwise give the name to both.
   */
  private claimFresh(file: string, id: string): 'claimed' | 'exists' | 'lost' {
    let fd: number
    try {
      fd = fs.openSync(file, 'wx')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'exists'
      throw err
    }
    try {
      if (!tryLockExclusive(fd)) return 'lost'
      fs.writeSync(fd, id)
      return fs.fstatSync(fd).nlink > 0 ? 'claimed' : 'lost'
    } finally {
      fs.closeSync(fd) // drops the flock
    }
  }

  /** Claims a name for an id atomically; throws ENAMECONFLICT when another container has it. */
  reserveName(name: string, id: string): void {
    if (!validName.test(name))
      throw new InvalidArgumentError(`invalid container name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`)
    const file = this.nameFile(name)
    for (;;) {
      const claim = this.claimFresh(file, id)
      if (claim === 'claimed') return
      if (claim === 'lost') throw new NameConflictError('container', name, this.nameOwner(file))
      const owner = this.nameOwner(file)
      if (owner === undefined) continue // freed meanwhile: claimed afresh
      if (owner === id) return
      if (!this.isStale(file, owner)) throw new NameConflictError('container', name, owner)
      if (this.takeOverStale(name, file, id)) return
    }
  }

  /**
   * Gives a stale name to `id` if, under the name lock, it still is stale: true once taken, false when the
   * name was freed meanwhile (the caller claims it afresh); throws ENAMECONFLICT when another took it.
   */
  private takeOverStale(name: string, file: string, id: string): boolean {
    return this.nameLock(() =>
      this.withNameFile(file, false, (fd) => {
        // Its claimer is writing it (claimFresh) right now: alive, so the name is taken.
        if (!tryLockExclusive(fd)) throw new NameConflictError('container', name, this.nameOwner(file) ?? '')
        // Read again holding the file's flock: its claimer may have written its id since the check before.
        const owner = this.nameOwner(file)
        if (owner === undefined) return false
        if (owner !== id && !this.isStale(file, owner)) throw new NameConflictError('container', name, owner)
        // Written whole then renamed over: a reader never sees the file empty, and its mtime restarts the grace.
        const tmp = path.join(this.namesDir, `.claim-${id}-${process.pid}`)
        fs.writeFileSync(tmp, id)
        fs.renameSync(tmp, file)
        return true
      }),
    )
  }

  /**
   * `use` of an fd of a name's file (whose flock its claimer holds while writing it), or `absent` when the
   * name is free. The fd is closed after `use`, dropping a flock `use` took: after a rename, a claimer that
   * takes it next finds its file unlinked.
   */
  private withNameFile<T>(file: string, absent: T, use: (fd: number) => T): T {
    let fd: number
    try {
      fd = fs.openSync(file, 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return absent
      throw err
    }
    try {
      return use(fd)
    } finally {
      fs.closeSync(fd)
    }
  }

  /**
   * Frees a name if `id` still owns it. `into`: the removed container's directory in `trash/`, where
   * the name's file is moved, to be deleted with it. Throws ESYSCALL (flock ETIMEDOUT) when another
   * process has held the names' lock for 5 s: the name stays `id`'s until a later release (another
   * remove()) or its stale-name grace.
   */
  releaseName(name: string, id: string, into?: string): void {
    const file = this.nameFile(name)
    try {
      // Under the name lock: the container's directory is gone already, so another process may be taking the name over.
      this.nameLock(() => this.moveOwnNameFile(file, id, into))
    } catch (err) {
      // The name's file (or the root with it) already gone: the name is free. Anything else leaves it taken.
      if (errnoOf(err) !== 'ENOENT') throw err
    }
  }

  /** releaseName's move (or unlink) of the name's file, if it still holds `id`; throws when it is gone. */
  private moveOwnNameFile(file: string, id: string, into: string | undefined): void {
    if (fs.readFileSync(file, 'utf8') !== id) return
    // This runs before an rm: true container's wait() answers. A rename frees the name as an unlink
    // does, but leaves the file's block to the background deletion: once written back (an overlay's
    // unmount syncs its upper filesystem), unlinking it frees the block, which on a filesystem mounted
    // with `discard` waits for the device (0.14 ms p50, several ms p95, against 0.02 ms for the rename).
    if (into) {
      try {
        return fs.renameSync(file, path.join(into, releasedNameFile))
      } catch {
        /* unlinked below: the name is freed either way */
      }
    }
    fs.unlinkSync(file)
  }

  /**
   * Creates the container's directory with its config and its /etc files. It
   * is built under a name that names its creator (`.creating-<id>-<pid>`) and
   * renamed into place whole, so a creator killed half-way leaves a directory
   * that the next recovery removes as soon as that process is gone, not after
   * a grace. The directory is the spare made in the background after the
   * create before (spare-dir.ts) when one is ready.
   */
  create(record: ContainerRecord, etc: EtcFiles): ContainerPaths {
    return this.makeDir(record.id, etc, (dir) => createJson(path.join(dir, 'config.json'), record))
  }

  /** Makes container `id`'s directory (see {@link create}), `describe` writing what says what it is into it before it is in place. */
  private makeDir(id: string, etc: EtcFiles, describe: (dir: string) => void): ContainerPaths {
    const p = this.paths(id)
    const files = { hostname: etc.hostname, hosts: etc.hosts, 'resolv.conf': etc.resolvConf }
    const spare = this.spares.take()
    try {
      if (!spare || !this.placed(spare.dir, p.dir, describe, files, spare.files)) {
        const tmp = path.join(this.containersDir, `${creatingPrefix}${id}-${process.pid}`)
        fs.mkdirSync(tmp, { mode: 0o710 })
        for (const d of ['upper', 'work']) fs.mkdirSync(path.join(tmp, d))
        this.placed(tmp, p.dir, describe, files)
      }
    } finally {
      // What most creates of a process share (not the hostname): written again only when a container's differs.
      this.spares.refill({ hosts: etc.hosts, 'resolv.conf': etc.resolvConf })
    }
    return p
  }

  /**
   * Creates the directory of a container pre-started for a later run (prestarts.ts): as {@link create}
   * does, with its owner in `prestarted` instead of a config, so that it is no container to list, get
   * or prune, and the next recovery on this root removes it once its owner has died.
   */
  createPrestarted(id: string, etc: EtcFiles): ContainerPaths {
    const owner: ProcessIdentity = thisProcess()
    return this.makeDir(id, etc, (dir) => createJson(path.join(dir, prestartedFile), owner))
  }

  /**
   * A run claims pre-started container `record.id` (its directory made by {@link createPrestarted}
   * with `written`): its /etc files are written again where they differ (in place: the container's
   * bind mounts are of these files), and its config makes it a container like any, in one step.
   */
  claimPrestarted(record: ContainerRecord, etc: EtcFiles, written: EtcFiles): void {
    const p = this.paths(record.id)
    for (const [file, name] of [[p.hostname, 'hostname'], [p.hosts, 'hosts'], [p.resolvConf, 'resolvConf']] as const)
      if (written[name] !== etc[name]) fs.writeFileSync(file, etc[name])
    createJson(p.config, record)
    // On the threadpool, after the config: an unlink costs a claim ~0.08 ms here, and while both files
    // are there the config decides (a container with a config is a container to list, get and recover).
    fs.unlink(path.join(p.dir, prestartedFile), () => {})
  }

  /** Whether `id` is a pre-started container whose owner lives: its cgroup and directory are in use. */
  prestartHeld(id: string): boolean {
    const owner = this.prestartOwner(id)
    return !!owner && livesOn(owner.pid, owner.start)
  }

  /** The owner recorded by {@link createPrestarted}, while the container is unclaimed. */
  private prestartOwner(id: string): ProcessIdentity | undefined {
    return readJson<ProcessIdentity>(path.join(this.containersDir, id, prestartedFile))
  }

  /**
   * Whether an unfinished directory (see {@link unfinished}) is left by a process that is gone, or one
   * older than `maxAgeMs`: a pre-started container's only once its owner has died, whatever its age.
   */
  abandoned(name: string, maxAgeMs: number): boolean {
    const dir = path.join(this.containersDir, name)
    // One read: a pre-started container's marker names its owner.
    const owner = this.prestartOwner(name)
    if (owner) return !livesOn(owner.pid, owner.start)
    const made = fs.statSync(dir, { throwIfNoEntry: false })?.mtimeMs
    return made !== undefined && (this.creatorGone(name) || Date.now() - made > maxAgeMs)
  }

  /**
   * Writes `files` and (`describe`) the config into a directory being built (`present`: what a spare holds already)
   * and renames it to `dest`. False when a spare is gone (another process's recovery collected it:
   * unused too long).
   */
  private placed(dir: string, dest: string, describe: (dir: string) => void, files: Record<string, string>, present?: ReadonlyMap<string, string>): boolean {
    try {
      for (const [name, content] of Object.entries(files)) if (present?.get(name) !== content) fs.writeFileSync(path.join(dir, name), content)
      describe(dir)
      fs.renameSync(dir, dest)
      return true
    } catch (err) {
      if (!present || errnoOf(err) !== 'ENOENT') throw err
      return false
    }
  }

  /** Removes the spare directory (Runtime.close()); a closed runtime creates nothing more. */
  dropSpare(): Promise<void> {
    return this.spares.drop()
  }

  /** Whether an unfinished create's creator is known to have exited (its pid is gone). */
  private creatorGone(name: string): boolean {
    const pid = name.startsWith(creatingPrefix) ? name.slice(name.lastIndexOf('-') + 1) : ''
    return /^\d+$/.test(pid) && !fs.existsSync(`/proc/${pid}`)
  }

  /** Saves a changed record (resources after `update()`). */
  writeRecord(record: ContainerRecord): void {
    // Rare and possibly larger than a page: temp file and rename, so readers see the old or the new record.
    const file = this.paths(record.id).config
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(record, null, 1))
    fs.renameSync(`${file}.tmp`, file)
  }

  /** The record of a container by exact id. */
  read(id: string): ContainerRecord | undefined {
    return readJson<ContainerRecord>(this.paths(id).config)
  }

  /** The last saved state. */
  readState(id: string): ContainerState {
    return readJson<ContainerState>(this.paths(id).state) ?? { status: 'created' }
  }

  /** Saves a state (a missing state file means "created"). */
  writeState(id: string, state: ContainerState): void {
    updateJson(this.paths(id).state, state)
  }

  /** Every container id with a complete record. */
  ids(): string[] {
    return fs.readdirSync(this.containersDir).filter((id) => !id.startsWith(creatingPrefix) && this.read(id) !== undefined)
  }

  /** Names of directories left by a create that never finished (or is under way). */
  unfinished(): string[] {
    return fs.readdirSync(this.containersDir).filter((id) => id.startsWith(creatingPrefix) || this.read(id) === undefined)
  }

  /** Resolves a name, a full id, or a unique id prefix to an id. */
  resolve(ref: string): string {
    if (!ref) throw new InvalidArgumentError('empty container reference: pass a name or an id')
    try {
      // Only a valid name can name a file here: no "../" lookups.
      const id = validName.test(ref) ? fs.readFileSync(this.nameFile(ref), 'utf8') : ''
      if (id && this.read(id)) return id
    } catch {
      /* not a name */
    }
    if (/^[0-9a-f]+$/.test(ref)) {
      const matches = this.ids().filter((id) => id.startsWith(ref))
      if (matches.length === 1) return matches[0]
      if (matches.length > 1) throw new AmbiguousReferenceError(ref, matches.length)
    }
    throw new ContainerNotFoundError(ref)
  }

  /**
   * Deletes a container: its directory leaves `containers/` at once, by one
   * atomic rename into `trash/` (so no reader ever sees half a container, and
   * a shim still writing its exit file cannot make the removal fail), its
   * name is freed (its file moved into that directory), and the files
   * themselves (a writable layer can be large) are deleted in the
   * background, off the start path, once `filesFree`
   * resolves (an `rm: true` container's shim still holds its layer mounted
   * and may still write its exit file). What a process that exits first
   * leaves in `trash/` is deleted by the next runtime's recovery. Throws
   * what {@link releaseName} throws once the container is gone: its name
   * is then still taken, and a second delete frees it.
   */
  delete(id: string, name?: string, filesFree: Promise<unknown> = Promise.resolve()): void {
    const trash = path.join(this.trashDir, `${id}.${process.pid}.${Date.now()}`)
    let trashed = false
    try {
      fs.renameSync(this.paths(id).dir, trash)
      trashed = true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    try {
      // The name's file joins the trashed directory and is deleted with it (or by the next ready()).
      if (name) this.releaseName(name, id, trashed ? trash : undefined)
    } finally {
      if (trashed) void this.removals.track(filesFree.then(() => removeInBackground(trash, this.ownership)))
    }
  }

  /**
   * {@link delete} where nobody waits for the answer (an exit's auto-removal, recovery, a failed create's
   * cleanup): a name left taken is logged, and free again once its stale-name grace has passed.
   */
  deleteUnattended(id: string, name?: string, filesFree?: Promise<unknown>): void {
    try {
      this.delete(id, name, filesFree)
    } catch (err) {
      if (!this.nameLeftBehind(id)) throw err
      debug('container %s removed, its name %s not freed: %s', id.slice(0, 12), name, (err as Error).message)
    }
  }

  /** After {@link delete} threw: whether the container is gone and only its name's release failed. */
  nameLeftBehind(id: string): boolean {
    return !fs.existsSync(this.paths(id).dir)
  }

  /** Deletes what removals of processes that exited before finishing left in `trash/`. */
  async emptyTrash(): Promise<void> {
    for (const entry of fs.readdirSync(this.trashDir)) await removeInBackground(path.join(this.trashDir, entry), this.ownership)
  }
}

/**
 * Removes a trashed container dir on the threadpool: in one native call from the main thread (the
 * event loop's share, one callback where a walk costs one per entry, is what a start next to it
 * pays), a few calls at a time from a worker_thread (which may not make background native calls:
 * ../sys/koffi-async); a tree the walk cannot remove (deeper than PATH_MAX, or than the fds one per
 * level allows) is removed by fd instead, and one holding files of a rootless runtime's subordinate
 * ids (which the user may not unlink) through its user namespace.
 */
async function removeInBackground(dir: string, ownership: TreeOwnership | undefined): Promise<void> {
  await (backgroundAsyncCalls ? removeTreeOffThread(dir) : removeTreeConcurrently(dir)).catch(() => {
    try {
      if (ownership) ownership.removeTree(dir)
      else removeTreeAt(dir)
    } catch (err) {
      debug('could not remove %s: %s', dir, (err as Error).message)
    }
  })
}
