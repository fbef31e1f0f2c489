/**
 * Who a rootless runtime's containers and files are: with a subordinate
 * range (and newuidmap/newgidmap), every container joins the namespace of
 * the runtime's keeper, where 0 is the user and 1..N the subordinate ids,
 * and image files keep the owners their layers give them (uid u inside is
 * subuid start+u-1 on the host), given once per layer in the keeper. Without
 * one, each container maps the user alone, files of other ids are the
 * user's, and one warning says so.
 *
 * @module
 */
import { errnoOf, IdRangeError, InvalidArgumentError, RuntimeClosedError } from '../errors'
import type { InsideIds, OwnerLedger, TreeOwnership } from '../files/owner-ledger'
import { directWrites, type LandingWrites } from '../files/landing'
import { directReads, openedOrRefused, type SourceReads } from '../files/source-reads'
import { removeTreeAt } from '../files/tree'
import { AT_EMPTY_PATH, close, fstatat } from '../sys/fsops'
import { O_DIRECTORY, O_NOFOLLOW, O_PATH } from '../sys/libc'
import type { UsernsKind } from '../shim/spec'
import { debug } from '../util/debug'
import { KeeperLostError, RootlessUnsupportedError } from './errors'
import { insideId, keepIdLines, rootlessIdMaps, type IdMaps, type MapLine } from './id-maps'
import { Keeper } from './keeper'

/** What a rootless runtime does with a layer file owned by an id beyond its subordinate range. */
export type IdOverflow = 'error' | 'squash'

/** The warning's code, for `process.on('warning')` filters: containers map the user alone. */
export const singleUidWarning = 'MINICONTAINER_SINGLE_UID'
/** The warning's code: layer files of ids beyond the range were given to root inside (`idOverflow: 'squash'`). */
export const idSquashedWarning = 'MINICONTAINER_ID_SQUASHED'

const addRange = 'sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 <user> (a range no other user has; see /etc/subuid and /etc/subgid) and install uidmap (newuidmap/newgidmap)'

let warnedSingle = false

/** The `idOverflow` option checked: EINVALID for a value other than 'error' or 'squash'. */
export function idOverflowOption(value: unknown): IdOverflow {
  if (value === undefined || value === 'error' || value === 'squash') return value ?? 'error'
  throw new InvalidArgumentError(`idOverflow must be 'error' or 'squash', not ${JSON.stringify(value)}`)
}

/** The namespace a container start joins, or makes. */
export interface UsernsChoice {
  kind: UsernsKind
  /** With 'range': the keeper's namespace. */
  path?: string
  /** keep-id: the maps of a namespace nested in the keeper's, written by the shim (root there) for the container. */
  nested?: { uid: MapLine[]; gid: MapLine[] }
}

/** A rootless runtime's network namespace and the user namespace owning it (the keeper's, by /proc path). */
export interface RootlessNetns {
  netnsPath: string
  usernsPath: string
}

/** One rootless runtime's ids: its maps, its keeper (started at first need), and the ownership of its files. */
export class RootlessIdentity implements TreeOwnership {
  private found: IdMaps | { missing: string } | undefined
  private keeper: Keeper | undefined
  private closed = false

  /**
   * @param root - the runtime's root, named when a start comes after close().
   * @param idOverflow - see RuntimeOptions.idOverflow.
   */
  constructor(
    private readonly root: string,
    private readonly idOverflow: IdOverflow = 'error',
  ) {}

  /** The runtime's maps, or undefined when containers map the user alone (read once). */
  get maps(): IdMaps | undefined {
    this.found ??= rootlessIdMaps()
    return 'missing' in this.found ? undefined : this.found
  }

  /** The kind of namespace this runtime's containers run in. */
  get kind(): UsernsKind {
    return this.maps ? 'range' : 'single'
  }

  /**
   * For a container start: the keeper's namespace (started now if needed), with `keepId` a namespace
   * nested in it mapping the user's ids to themselves; else a single-id one of the shim's own (warned once).
   */
  forStart(keepId = false): UsernsChoice {
    if (keepId) this.checkKeepId()
    if (!this.maps) {
      this.warnSingle()
      return { kind: 'single' }
    }
    const path = this.running().usernsPath
    if (!keepId) return { kind: 'range', path }
    return { kind: 'range', path, nested: { uid: keepIdLines(process.geteuid?.() ?? 0, this.maps.maxUid)!, gid: keepIdLines(process.getegid?.() ?? 0, this.maps.maxGid)! } }
  }

  /**
   * The runtime's network namespace (the keeper's, started now if needed): where rootless networks'
   * bridges and rules live. EUNSUPPORTED without a subordinate range (checkNetworks).
   */
  networkNamespace(what: string): RootlessNetns {
    this.checkNetworks(what)
    const keeper = this.running(what)
    keeper.holdNetns()
    return { netnsPath: keeper.netnsPath, usernsPath: keeper.usernsPath }
  }

  /** A container's network namespace, made by the keeper inside its user namespace (an fd the caller closes). */
  newContainerNetns(): number {
    this.networkNamespace('start a container on a network')
    return this.running().newNetns()
  }

  /**
   * rtnetlink and nf_tables sockets (fds the caller owns) of the runtime's network namespace, or of a
   * container's `netnsFd` (made by {@link RootlessIdentity.newContainerNetns}), opened by the keeper.
   */
  netlinkSockets(netnsFd?: number): [number, number] {
    this.networkNamespace('use networks')
    return this.running().netlink(netnsFd)
  }

  /**
   * EUNSUPPORTED without a subordinate range: a single-id container cannot join a namespace held for
   * it, and the user alone cannot make one another process can enter.
   */
  checkNetworks(what: string): void {
    if (this.maps) return
    const missing = (this.found as { missing?: string } | undefined)?.missing ?? 'no subordinate range'
    throw new RootlessUnsupportedError(what, `rootless networks need a subordinate id range (${missing}); add one with ${addRange}, or run with network: 'none'`)
  }

  /** keep-id needs the range to reach past the user's own ids (podman's condition too): EUNSUPPORTED naming the fix. */
  checkKeepId(): void {
    const maps = this.maps
    const uid = process.geteuid?.() ?? 0
    const gid = process.getegid?.() ?? 0
    if (maps && keepIdLines(uid, maps.maxUid) && keepIdLines(gid, maps.maxGid)) return
    const why = maps ? `your ${maps.describe} must hold more ids than your uid ${uid} and gid ${gid}` : `it maps your ids onto your subordinate range, and ${(this.found as { missing: string }).missing}`
    throw new RootlessUnsupportedError("run with userns: 'keep-id'", `${why}; add a range with ${addRange}`)
  }

  /** Refuses a non-root user in a single-id namespace, where setuid to it is EINVAL: the fix is a subordinate range. */
  checkUser(kind: UsernsKind, ids: { uid: number; gid: number }, user: string | undefined): void {
    if (kind !== 'single' || (ids.uid === 0 && ids.gid === 0)) return
    const why = this.found && 'missing' in this.found ? `: ${this.found.missing}` : ''
    throw new RootlessUnsupportedError(
      `run as user ${JSON.stringify(user)} (uid ${ids.uid}, gid ${ids.gid})`,
      `without a subordinate id range${why}, a rootless container maps your uid alone and can switch to no other; add one with ${addRange}, or leave the user at root`,
    )
  }

  /** Host ids as this runtime's containers see them: committing a writable layer records those. */
  insideIds(): InsideIds {
    const maps = this.maps
    const uid = process.geteuid?.() ?? 0
    const gid = process.getegid?.() ?? 0
    const uidLines = maps?.uid ?? [[0, uid, 1] as const]
    const gidLines = maps?.gid ?? [[0, gid, 1] as const]
    return { uid: (host) => insideId(uidLines, host), gid: (host) => insideId(gidLines, host) }
  }

  /**
   * What a file operation on a container's files refused with EACCES or EPERM should throw: with a range,
   * files of other ids inside are subordinate ids' on the host, which the user cannot read from outside
   * (copies in and out, archives and statPath, through and into directories only they may search, go through
   * the keeper: {@link RootlessIdentity.landingWrites}, {@link RootlessIdentity.sourceReads}, attributes and entries crossing
   * a mount there included; no case is known to be left), so a refusal met anyway is EUNSUPPORTED naming the way around;
   * anything else as it is.
   */
  explainDenied(err: unknown, what: string): unknown {
    const errno = errnoOf(err)
    if (!this.maps || (errno !== 'EACCES' && errno !== 'EPERM')) return err
    return new RootlessUnsupportedError(
      what,
      `a file or directory on the way belongs to another id inside the container (one of your subordinate ids on the host), which you cannot read from outside (${(err as Error).message}); ` +
        "copies in and out of such files and directories go through the runtime's keeper, but not this step of it: " +
        "copy into a directory of your own in the container first (e.g. one made with mode 0755), or exec a command in the container instead (e.g. exec(['tar', '-x', '-C', '/data/d']))",
    )
  }

  /** Gives an unpacked layer's files their owners inside the namespace: EIDRANGE for an id beyond the range (unless squashing). */
  restoreOwners(dir: string, ledger: OwnerLedger): void {
    if (ledger.size === 0) return
    const maps = this.maps
    if (!maps) return this.warnSingle(ledger)
    this.squashOverflow(ledger, maps)
    if (ledger.size === 0) return
    const n = this.withKeeper((k) => k.chown(dir, ledger.manifest()))
    debug('keeper gave %d entries of %s their owners', n, dir)
  }

  /** Removes a tree as the user, else (files of subordinate ids: EACCES, EPERM) as root of the keeper's namespace. */
  removeTree(dir: string): void {
    this.asUserElseKeeper(removeTreeAt, (k, d) => k.removeTree(d))(dir)
  }

  /**
   * The writes of a copy or putArchive in the directories it lands in: as the user, and when refused
   * (a directory of another id inside the container) by the keeper, root of the namespace, on the same fds.
   */
  landingWrites(): LandingWrites {
    if (!this.maps) return directWrites
    return {
      mkdir: this.asUserElseKeeper(directWrites.mkdir, (k, dirfd, name, mode) => k.mkdirAt(dirfd, name, mode)),
      rename: this.asUserElseKeeper(directWrites.rename, (k, ...args) => k.renameAt(...args)),
      rmdir: this.asUserElseKeeper(directWrites.rmdir, (k, dirfd, name) => k.rmdirAt(dirfd, name)),
      copyMeta: this.asUserElseKeeper(directWrites.copyMeta, (k, ...args) => k.copyMeta(...args)),
      removeTree: this.asUserElseKeeper(directWrites.removeTree, (k, ...args) => k.removeTreeAt(...args)),
      openWrite: this.asUserElseKeeper(directWrites.openWrite, (k, dirfd, name) => k.openWrite(dirfd, name)),
      // The keeper sets user.* alone; other attributes refused to the user (trusted.*) are refused to it too.
      setXattr: this.asUserElseKeeper(directWrites.setXattr, (k, fd, name, value) => (name.startsWith('user.') ? k.setXattr(fd, name, value) : directWrites.setXattr(fd, name, value))),
      fitOwners: (ledger) => this.squashOverflow(ledger, this.maps!),
      giveOwners: (landingfd, ledger) => void this.withKeeper((k) => k.chownAt(landingfd, ledger.manifest())),
    }
  }

  /**
   * The opens of a copy out of the container (copyFrom, getArchive, a commit's walk): as the user, and when refused (a file
   * or directory only another id inside reads) by the keeper on the same directory fd, which sends back
   * the open file; a path through a directory only another id may search, by the keeper from the
   * container's root fd, confined below it (RESOLVE_IN_ROOT).
   */
  sourceReads(): SourceReads {
    if (!this.maps) return directReads
    return {
      openRegular: this.asUserElseKeeper(directReads.openRegular, (k, dirfd, name) => {
        const fd = k.openRead(dirfd, name)
        try {
          return { fd, stat: fstatat(fd, '', AT_EMPTY_PATH) }
        } catch (err) {
          close(fd)
          throw err
        }
      }),
      openDir: this.asUserElseKeeper(directReads.openDir, (k, dirfd, name) => k.openRead(dirfd, name)),
      openPath: this.asUserElseKeeper(directReads.openPath, (k, dirfd, name) => k.openPath(dirfd, name)),
      openIn: this.asUserElseKeeper(directReads.openIn, (k, rootfd, path, flags) => k.openIn(rootfd, path, flags)),
      getxattr: this.asUserElseKeeper(directReads.getxattr, (k, fd, name) => k.getXattr(fd, name)),
      openInLayer: this.asUserElseKeeper(directReads.openInLayer, (k, rootfd, rel, flags) =>
        k.openIn(rootfd, rel, (flags & O_DIRECTORY) | O_NOFOLLOW, { noSymlinks: true, read: (flags & O_PATH) === 0 }),
      ),
      // A directory's entries share its search permission: when the first is refused, the keeper opens them all in one request.
      openEach: (dirfd, names, flags) => {
        if (!names.length) return []
        const first = openedOrRefused(() => directReads.openInLayer(dirfd, names[0] ?? '', flags))
        if (first !== 'refused') return [first, ...directReads.openEach(dirfd, names.slice(1), flags)]
        return this.withKeeper((k) => k.openEach(dirfd, names, (flags & O_PATH) === 0)).map((r) => (r === 'refused' ? undefined : r))
      },
    }
  }

  /** `asUser`, and when the kernel refuses it files of other ids (EACCES, EPERM) with a range, the same work by the keeper. */
  private asUserElseKeeper<A extends unknown[], R>(asUser: (...args: A) => R, byKeeper: (k: Keeper, ...args: A) => R): (...args: A) => R {
    return (...args) => {
      try {
        return asUser(...args)
      } catch (err) {
        const errno = errnoOf(err)
        if (!this.maps || (errno !== 'EACCES' && errno !== 'EPERM')) throw err
        return this.withKeeper((k) => byKeeper(k, ...args))
      }
    }
  }

  /** Ends the keeper. Later file work (a removal after close) uses a keeper of its own, ended at once. */
  close(): void {
    this.closed = true
    this.keeper?.close()
    this.keeper = undefined
  }

  /** Whether the keeper that held the runtime's network namespace ended (it is not replaced: {@link KeeperLostError}). */
  private get keeperLost(): boolean {
    return !!this.keeper?.heldNetns && !this.keeper.alive
  }

  private running(what = 'start a container'): Keeper {
    if (this.closed) throw new RuntimeClosedError(this.root, what)
    if (this.keeper?.alive) return this.keeper
    // A keeper killed from outside is replaced (the namespace is the same map, so files and images are
    // unchanged), unless it held the network namespace: networks, endpoints and relays point into that one.
    if (this.keeper?.heldNetns) throw new KeeperLostError(what, this.keeper.pid)
    this.keeper = Keeper.start(this.maps!)
    return this.keeper
  }

  /** File work needs a keeper of the same map, not the runtime's: after close(), or once the runtime's was lost, one of its own. */
  private withKeeper<T>(work: (k: Keeper) => T): T {
    if (!this.closed && !this.keeperLost) return work(this.running())
    const once = Keeper.start(this.maps!)
    try {
      return work(once)
    } finally {
      once.close()
    }
  }

  /** Ids beyond the maps: EIDRANGE naming the first, or (squash) root's, reported in one warning. */
  private squashOverflow(ledger: OwnerLedger, maps: IdMaps): void {
    const squashed: string[] = []
    for (const [rel, o] of [...ledger.entries()]) {
      if (o.uid <= maps.maxUid && o.gid <= maps.maxGid) continue
      if (this.idOverflow !== 'squash') throw new IdRangeError(`/${rel}`, o.uid > maps.maxUid ? { kind: 'uid', id: o.uid, max: maps.maxUid } : { kind: 'gid', id: o.gid, max: maps.maxGid }, maps.describe)
      squashed.push(`/${rel}`)
      ledger.replace(rel, { uid: o.uid > maps.maxUid ? 0 : o.uid, gid: o.gid > maps.maxGid ? 0 : o.gid, mode: o.mode })
    }
    if (squashed.length)
      process.emitWarning(`idOverflow 'squash': ${squashed.length} layer file(s) owned by ids beyond ${maps.describe} were given to root inside: ${listed(squashed)}`, { code: idSquashedWarning })
  }

  private warnSingle(ledger?: OwnerLedger): void {
    if (warnedSingle) return
    warnedSingle = true
    const squashed = ledger ? [...ledger.entries()].filter(([, o]) => o.uid !== 0 || o.gid !== 0).map(([rel]) => `/${rel}`) : []
    process.emitWarning(
      `rootless containers map root inside to your uid alone (${(this.found as { missing?: string } | undefined)?.missing ?? 'no subordinate range'}): ` +
        `image files owned by other ids are yours${squashed.length ? ` (${listed(squashed)})` : ''}, and a container cannot switch to another user. ` +
        `To map a subordinate range as podman does: ${addRange}.`,
      { code: singleUidWarning },
    )
  }
}

/** The first paths of a list, and how many more. */
function listed(paths: string[]): string {
  return paths.length > 10 ? `${paths.slice(0, 10).join(', ')} and ${paths.length - 10} more` : paths.join(', ')
}
