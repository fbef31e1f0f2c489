/**
 * Every error minicontainer throws is a {@link MiniContainerError} with a
 * stable `code`, so callers can branch on `err.code` without parsing
 * messages. Messages say what went wrong and what to do about it.
 *
 * @module
 */

/** The stable error codes. New codes may be added; existing ones never change meaning. */
export type ErrorCode =
  | 'EINVALID'
  | 'ENOIMAGE'
  | 'ENOCONTAINER'
  | 'EAMBIGUOUS'
  | 'ENAMECONFLICT'
  | 'ENOTRUNNING'
  | 'ERUNNING'
  | 'EPAUSED'
  | 'EPERM'
  | 'ESTART'
  | 'ENOTFOUND'
  | 'EEXIST'
  | 'ENOTDIR'
  | 'EISDIR'
  | 'EROFS'
  | 'EINUSE'
  | 'ENOVOLUME'
  | 'ENONETWORK'
  | 'EPORTINUSE'
  | 'EPORTPRIVILEGED'
  | 'EUNSAFE'
  | 'ENATIVE'
  | 'ESYSCALL'
  | 'EDIGEST'
  | 'EABORTED'
  | 'EINTERNAL'
  | 'EFIREWALL'
  | 'ETIMEOUT'
  | 'EEXITED'
  | 'EUNHEALTHY'
  | 'EAUTH'
  | 'EREGISTRY'
  | 'EUNSUPPORTED'
  | 'ENOPLATFORM'
  | 'ECLOSED'
  | 'EUSERNS'
  | 'EIDRANGE'
  | 'EDEPENDENCY'
  | 'EDOCKERFILE'
  | 'EBUILD'
  | 'ESERVICE'

/**
 * Base class of every error minicontainer throws. Every code has at least one
 * subclass (several where callers tell cases apart: EINUSE is a volume, a
 * network address or an image in use), and the library only throws those;
 * `new MiniContainerError(code, message)` is for code outside the library.
 * The classes are exported from the package's entry point.
 */
export class MiniContainerError extends Error {
  /** Stable, machine-readable error code. */
  readonly code: ErrorCode

  /** @param code - stable code; @param message - what happened and what to do. */
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** An option or argument is malformed (bad name, bad spec string, out-of-range value). */
export class InvalidArgumentError extends MiniContainerError {
  /** @param message - names the offending input and the accepted form. */
  constructor(message: string) {
    super('EINVALID', message)
  }
}

/** `c.mappedPort(port)` of a container port that is not published; names the ones that are. */
export class PortNotPublishedError extends InvalidArgumentError {
  /**
   * @param container - the container's name; @param port - the port asked for, as "6379/tcp";
   * @param published - the container's published ports, as "80/tcp -> 127.0.0.1:49153".
   */
  constructor(
    container: string,
    readonly port: string,
    readonly published: string[],
  ) {
    const has = published.length ? `it publishes ${published.join(', ')}` : 'it publishes no ports'
    super(`container ${container} does not publish port ${port} (${has}); publish it with ports: ['${port.replace('/tcp', '')}'] or publishAll: true`)
  }
}

/** No image matches the given reference. */
export class ImageNotFoundError extends MiniContainerError {
  /** @param ref - the reference that was looked up. */
  constructor(readonly ref: string) {
    super('ENOIMAGE', `no such image: ${ref} (import one with Image.import(path, { ref }) or use Image.fromHost())`)
  }
}

/**
 * No local image matches the reference, and pulling it (run's default pull policy, 'missing')
 * failed too: both are said, the pull's error is the `cause` (EREGISTRY, EAUTH, ENOIMAGE...).
 */
export class LocalImageMissingError extends MiniContainerError {
  /**
   * @param ref - the reference as the store looked it up ("redis:latest");
   * @param pulled - the reference the pull asked the registry for ("docker.io/library/redis:latest");
   * @param cause - why the pull failed.
   */
  constructor(
    readonly ref: string,
    readonly pulled: string,
    cause: MiniContainerError,
  ) {
    super(
      'ENOIMAGE',
      `no local image ${ref}, and pulling ${pulled} failed: ${cause.message}. ` +
        'Import it (Image.import, Image.load, Image.fromHost) or fix the pull (pullOptions, the reference), or pass pull: "never" to use local images only',
      { cause },
    )
  }
}

/** No container matches the given name, id or id prefix, or the container of a handle was removed. */
export class ContainerNotFoundError extends MiniContainerError {
  /**
   * @param ref - the name, id or prefix that was looked up.
   * @param detail - what happened to it, e.g. "it was removed while it was starting".
   * @param cause - the failure the removal caused, when there was one.
   */
  constructor(
    readonly ref: string,
    detail?: string,
    cause?: unknown,
  ) {
    super('ENOCONTAINER', `no such container: ${ref}${detail ? ` (${detail})` : ''}`, cause === undefined ? undefined : { cause })
  }
}

/** An id prefix matches more than one object. */
export class AmbiguousReferenceError extends MiniContainerError {
  /** @param ref - the prefix; @param matches - how many objects it matched; @param kind - what they are ("containers", "images"). */
  constructor(ref: string, matches: number, kind = 'containers') {
    super('EAMBIGUOUS', `"${ref}" matches ${matches} ${kind}; give more characters of the id or the name`)
  }
}

/** Something an operation needs does not exist: a file to import or load, a stored blob, an unpacked layer. */
export class NotFoundError extends MiniContainerError {
  /** @param message - what is missing and what to do. */
  constructor(message: string) {
    super('ENOTFOUND', message)
  }
}

/** A layer of an image has no stored archive (an older version unpacked it without one), so it cannot be exported or pushed. */
export class LayerArchiveMissingError extends NotFoundError {
  /** @param diffId - the layer; @param action - what needed its archive ("export", "push"). */
  constructor(
    readonly diffId: string,
    action: string,
  ) {
    super(`layer ${diffId} has no stored archive to ${action} (it was stored by an older version: import or pull the image again)`)
  }
}

/** `close({ removeRoot: true })` found containers of the root still running (detached ones, or another process's): nothing was removed. */
export class RootInUseError extends MiniContainerError {
  /** @param root - the runtime's root; @param containers - ids of the containers still running. */
  constructor(root: string, containers: string[]) {
    super('EINUSE', `cannot remove the runtime root ${root}: container(s) ${containers.map((c) => c.slice(0, 12)).join(', ')} still run in it; stop or remove them first, then close again with removeRoot`)
  }
}

/** An image cannot be removed while a container uses it (without `force`). */
export class ImageInUseError extends MiniContainerError {
  /** @param image - its first reference or id; @param container - id of a container using it. */
  constructor(image: string, container: string) {
    super('EINUSE', `image ${image} is used by container ${container.slice(0, 12)}; remove the container first or pass { force: true }`)
  }
}

/** A name is already taken by another container (or network, volume). */
export class NameConflictError extends MiniContainerError {
  /** @param kind - what was named; @param name - the taken name; @param owner - id of the current owner. */
  constructor(kind: string, name: string, owner?: string) {
    super('ENAMECONFLICT', `the ${kind} name "${name}" is already in use${owner ? ` by ${owner.slice(0, 12)}` : ''}; remove that ${kind} or choose another name`)
  }
}

/** The operation needs a running container. */
export class NotRunningError extends MiniContainerError {
  /** @param id - container id; @param action - what was attempted; @param hint - how to proceed (default: start it first). */
  constructor(id: string, action: string, hint = 'start it first') {
    super('ENOTRUNNING', `cannot ${action}: container ${id.slice(0, 12)} is not running (${hint})`)
  }
}

/**
 * The runtime was closed (`runtime.close()` has begun): it starts nothing
 * more (create, run, start, exec). What exists can still be read, stopped and removed.
 */
export class RuntimeClosedError extends MiniContainerError {
  /** @param root - the runtime's root; @param what - what was refused. */
  constructor(root: string, what: string) {
    super('ECLOSED', `cannot ${what}: the runtime at ${root} was closed; open a new Runtime({ root }) to go on`)
  }
}

const rootCodes: Record<string, ErrorCode> = { ENOTDIR: 'ENOTDIR', EEXIST: 'ENOTDIR', EROFS: 'EROFS', EACCES: 'EPERM', EPERM: 'EPERM' }

/** The runtime's root directory cannot be used; the code follows what the kernel said (ENOTDIR, EROFS, EPERM, else EINVALID). */
export class RuntimeRootError extends MiniContainerError {
  /** @param root - the root asked for; @param errno - the errno name of the failed mkdir or probe. */
  constructor(
    readonly root: string,
    readonly errno: string,
  ) {
    const why = errno === 'EEXIST' || errno === 'ENOTDIR' ? 'it or a parent is not a directory' : `the file system refused a directory there (${errno})`
    super(rootCodes[errno] ?? 'EINVALID', `cannot use ${root} as the runtime root: ${why}; choose a directory on a writable local file system`)
  }
}

/** The operation cannot be done while the container runs. */
export class RunningError extends MiniContainerError {
  /** @param containerId - container id; @param action - what was attempted; @param hint - how to proceed. */
  constructor(
    readonly containerId: string,
    readonly action: string,
    hint: string,
  ) {
    super('ERUNNING', `cannot ${action}: container ${containerId.slice(0, 12)} is running; ${hint}`)
  }
}

/** The operation cannot be done on a paused container, or a pause/unpause finds it already in that state (as in Docker). */
export class PausedError extends MiniContainerError {
  /** @param id - container id; @param message - what was attempted and how to proceed. */
  constructor(id: string, message: string) {
    super('EPAUSED', `container ${id.slice(0, 12)} ${message}`)
  }
}

/** The caller lacks privileges (minicontainer needs root for namespaces and mounts). */
export class PermissionError extends MiniContainerError {
  /** @param message - what needed privilege. */
  constructor(message: string) {
    super('EPERM', message)
  }
}

/** An operation was cancelled through its `AbortSignal`; what it had made is undone. The signal's reason is the `cause`. */
export class AbortedError extends MiniContainerError {
  /** @param what - the operation that was cancelled; @param reason - the signal's reason. */
  constructor(what: string, reason?: unknown) {
    super('EABORTED', `${what} was aborted through its AbortSignal; nothing it made is left`, { cause: reason })
  }
}

/** Throws {@link AbortedError} when `signal` has fired. @internal */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(what, signal.reason)
}

/** The container's process could not be started. `step` and `errno` say exactly where. */
export class StartError extends MiniContainerError {
  /**
   * @param step - the setup step that failed (e.g. "exec", "mount", "pivot_root")
   * @param errno - the errno name (e.g. "ENOENT")
   * @param detail - the path or value involved
   */
  constructor(
    readonly step: string,
    readonly errno: string,
    readonly detail: string,
  ) {
    super('ESTART', startMessage(step, errno, detail))
  }
}

function startMessage(step: string, errno: string, detail: string): string {
  if (step === 'exec' && detail.startsWith('executable file not found'))
    return `${detail}: the command does not exist in the image; check the command or the image`
  if (step === 'exec' && errno === 'ENOENT') return `exec ${detail}: no such file or directory in the container`
  if (step === 'exec' && errno === 'EACCES') return `exec ${detail}: permission denied (is it executable?)`
  return `container setup failed at "${step}" (${errno}): ${detail}`
}

/** A system call failed where the library did not expect it; carries the errno name. */
export class SyscallError extends MiniContainerError {
  /** @param syscall - the call; @param errno - its errno name; @param path - the object involved. */
  constructor(
    readonly syscall: string,
    readonly errno: string,
    readonly path?: string,
  ) {
    super('ESYSCALL', `${syscall}${path ? ` ${path}` : ''} failed: ${errno}`)
  }
}

/** A bug in minicontainer (an invariant broke, or something threw that should not have): please report it with the `cause`. */
export class InternalError extends MiniContainerError {
  /** @param message - what broke; @param cause - the original error. */
  constructor(message: string, cause?: unknown) {
    super('EINTERNAL', `internal error (please report it): ${message}`, cause === undefined ? undefined : { cause })
  }
}

/** The native part (native/) is missing or was built for another system. */
export class NativeError extends MiniContainerError {
  /** @param message - what is missing and how to build it. */
  constructor(message: string) {
    super('ENATIVE', message)
  }
}

/**
 * The container shim (native/mc-shim) was built from other sources than this
 * library and speaks another version of their protocol: a stale native build.
 * Nothing was started.
 */
export class ShimProtocolError extends NativeError {
  /**
   * @param shimPath - the shim that refused or misread the spec
   * @param shimVersion - the protocol it speaks; 0 for a shim older than protocol versions
   * @param libraryVersion - the protocol this library speaks
   */
  constructor(
    readonly shimPath: string,
    readonly shimVersion: number,
    readonly libraryVersion: number,
  ) {
    super(
      `the container shim ${shimPath} speaks protocol ${shimVersion || '0 (it predates protocol versions)'}, this library protocol ${libraryVersion}: ` +
        'it was built from other sources; rebuild it with `npm rebuild minicontainer` (in a git checkout: `node native/build.js`)',
    )
  }
}

/** Content did not match the digest (or size) it was announced with; nothing was stored. */
export class DigestMismatchError extends MiniContainerError {
  /** @param what - the object (e.g. "blob sha256:ab..."); @param detail - what differed. */
  constructor(what: string, detail: string) {
    super('EDIGEST', `${what}: ${detail}; the content is corrupt or was tampered with, nothing was stored (fetch or export it again)`)
  }
}

/**
 * The error a caller sees for `err`: itself when it is already a
 * MiniContainerError; a {@link SyscallError} (with the original as `cause`)
 * for a Node system error such as a raw `ENOTEMPTY` from fs; else an
 * EINTERNAL error naming the bug.
 * @internal
 */
export function asMiniContainerError(err: unknown): MiniContainerError {
  if (err instanceof MiniContainerError) return err
  const e = err as NodeJS.ErrnoException
  if (e && typeof e.code === 'string' && typeof e.syscall === 'string') {
    const wrapped = new SyscallError(e.syscall, e.code, e.path)
    ;(wrapped as { cause?: unknown }).cause = err
    return wrapped
  }
  return new InternalError((err as Error)?.message ?? String(err), err)
}

/** The errno name an error carries: a {@link SyscallError}'s `errno`, or a Node system error's `code`. @internal */
export function errnoOf(err: unknown): string | undefined {
  return err instanceof SyscallError ? err.errno : (err as NodeJS.ErrnoException | undefined)?.code
}

/** What a failed wait reports: what was awaited, for how long, how the program ended, its last log lines. */
export interface WaitFailure {
  /** Full id of the container waited for: `Container.get(err.containerId)` finds it after `keepOnFailure`. */
  containerId: string
  /** Name of the container waited for. */
  containerName: string
  /** The strategy, described (e.g. "listening ports 6379/tcp"). */
  awaited: string
  /** Milliseconds spent waiting. */
  elapsedMs: number
  /** The program's exit code, when it ended while awaited. */
  exitCode?: number
  /** The last log lines (up to 50), each prefixed by its stream. */
  logs: string[]
}

function waitMessage(headline: string, f: WaitFailure): string {
  const logs = f.logs.length ? `\nlast ${f.logs.length} log lines:\n${f.logs.join('\n')}` : '\n(no log output)'
  return `container ${f.containerName} (${f.containerId.slice(0, 12)}): ${headline}${logs}`
}

/** A wait strategy failed; carries what was awaited, how long it took and the last log lines. */
export abstract class WaitError extends MiniContainerError implements WaitFailure {
  readonly containerId: string
  readonly containerName: string
  readonly awaited: string
  readonly elapsedMs: number
  readonly logs: string[]
  /** @param code - the error code; @param headline - what happened; @param f - the wait's details. */
  constructor(code: ErrorCode, headline: string, f: WaitFailure) {
    super(code, waitMessage(headline, f))
    this.containerId = f.containerId
    this.containerName = f.containerName
    this.awaited = f.awaited
    this.elapsedMs = f.elapsedMs
    this.logs = f.logs
  }
}

/** A container did not become ready within the startup timeout (`c.waitFor`, run's `waitFor`). */
export class WaitTimeoutError extends WaitError {
  /** @param f - what was awaited, for how long, and the last log lines. */
  constructor(f: WaitFailure) {
    super('ETIMEOUT', `timed out after ${f.elapsedMs} ms waiting for ${f.awaited}; raise startupTimeout or check the logs below`, f)
  }
}

/** The container's program ended while a wait strategy was still waiting for it to become ready. */
export class ContainerExitedError extends WaitError {
  /** The program's exit code (128 + the signal number when a signal killed it). */
  readonly exitCode: number
  /** @param f - what was awaited, for how long, the exit code, and the last log lines. */
  constructor(f: WaitFailure & { exitCode: number }) {
    super('EEXITED', `the program exited with code ${f.exitCode} after ${f.elapsedMs} ms while waiting for ${f.awaited}; see the logs below`, f)
    this.exitCode = f.exitCode
  }
}

/** The container's health check reported it unhealthy while a wait strategy waited for it to be healthy. */
export class UnhealthyError extends WaitError {
  /** @param f - what was awaited, for how long, and the last log lines; @param lastCheck - output of the last failing check. */
  constructor(f: WaitFailure, lastCheck: string) {
    super('EUNHEALTHY', `the container became unhealthy after ${f.elapsedMs} ms while waiting for ${f.awaited}; last check said: ${lastCheck.trim() || '(no output)'}`, f)
  }
}

/** The host lacks a kernel feature an option needs (a cgroup controller, a freezer). */
export class UnsupportedError extends MiniContainerError {
  /**
   * @param feature - the missing controller or file, e.g. "memory" or "memory.memsw.limit_in_bytes"
   * @param layout - the host's cgroup layout ("v1", "v2", "hybrid", "none")
   * @param wantedBy - the option that needs it
   * @param remedy - what the user can do about it
   */
  constructor(
    readonly feature: string,
    readonly layout: string,
    wantedBy: string,
    remedy = 'drop the option or enable the controller',
  ) {
    super('EUNSUPPORTED', `${wantedBy} needs the cgroup ${feature} controller, which this host's cgroup ${layout} layout does not have; ${remedy}`)
  }
}

/** The host's kernel is older than one that has a feature minicontainer cannot do without. */
export class KernelUnsupportedError extends MiniContainerError {
  /**
   * @param feature - what is missing, e.g. "openat2 (paths resolved inside a container's root)"
   * @param since - the Linux release that brought it, e.g. "5.6"
   * @param release - this host's kernel release (uname -r)
   */
  constructor(
    readonly feature: string,
    readonly since: string,
    readonly release: string,
  ) {
    super('EUNSUPPORTED', `${feature} needs Linux ${since} or later, and this host runs ${release}: run on a newer kernel (the README's requirements list the kernels minicontainer is tested on)`)
  }
}

/** A directory the library would keep its state in is not safe to use (EUNSAFE): another user's, or writable by others. */
export class UnsafeDirectoryError extends MiniContainerError {
  /** @param dir - the directory; @param problem - what is wrong with it; @param fix - what to do */
  constructor(dir: string, problem: string, fix: string) {
    super('EUNSAFE', `refusing ${dir}: ${problem}; ${fix}`)
  }
}

/**
 * This host or process refuses the user namespaces that rootless mode needs
 * (a sysctl, AppArmor, a seccomp filter such as Docker's, or the namespace
 * limit). The message names the cause and the one fix; `Runtime.preflight()`
 * (or `npx minicontainer doctor`) shows every check.
 */
export class UserNamespaceError extends MiniContainerError {
  /** @param message - what refused the namespace and the fix for it. */
  constructor(message: string) {
    super('EUSERNS', message)
  }
}

/**
 * A rootless runtime unpacked an image file owned by a uid or gid beyond the
 * ids it maps (0 is the user, 1..N its subordinate range): the file could not
 * keep its owner, and giving it to another would change what the image
 * means. The message names the file, the id and the range; the fixes are a
 * larger range, or `new Runtime({ idOverflow: 'squash' })`, which gives such
 * files to root inside (and reports them in a `MINICONTAINER_ID_SQUASHED` warning).
 */
export class IdRangeError extends MiniContainerError {
  /**
   * @param path - the file, as a path in the image.
   * @param owner - which id, its value, and the largest one mapped.
   * @param range - the subordinate ranges, described.
   */
  constructor(
    readonly path: string,
    owner: { kind: 'uid' | 'gid'; id: number; max: number },
    range: string,
  ) {
    super(
      'EIDRANGE',
      `image file ${path} is owned by ${owner.kind} ${owner.id}, beyond the ${owner.kind}s this rootless runtime maps (0-${owner.max}: 0 is you, 1-${owner.max} your ${range}); ` +
        `give your user a larger range (sudo usermod --add-sub${owner.kind}s <start>-<end> <user>), or open the runtime with new Runtime({ idOverflow: 'squash' }) to give such files to root inside`,
    )
  }
}

/**
 * A compose service could not start because a dependency did not reach its
 * `depends_on` condition (it became unhealthy, exited, exited non-zero, or
 * never got ready); `Compose.up()` removed what it had started. The message
 * leads with compose v2's words ("dependency failed to start: container X is
 * unhealthy", "service "migrate" didn't complete successfully: exit 1"),
 * then names the waiting service and the condition, then the cause.
 */
export class DependencyError extends MiniContainerError {
  /**
   * @param service - the service that waited
   * @param dependency - the service it depends on
   * @param condition - the condition that did not hold, e.g. "service_healthy"
   * @param headline - compose v2's words for what happened
   * @param reason - the cause in full (the health log, the exit code, the last log lines)
   */
  constructor(readonly service: string, readonly dependency: string, readonly condition: string, headline: string, reason: string, options?: { cause?: unknown }) {
    super('EDEPENDENCY', `${headline} (service "${service}" depends on "${dependency}" with condition ${condition}): ${reason}`, options)
  }
}

/**
 * A Dockerfile that cannot be built as written (unknown instruction or flag,
 * no FROM, an unknown stage or target, an empty file...): the message is
 * BuildKit's, with the 1-based line when there is one.
 */
export class DockerfileError extends MiniContainerError {
  /**
   * @param line - 1-based line of the instruction, 0 when the whole file is at fault
   * @param reason - BuildKit's wording, e.g. "unknown instruction: FOO"
   */
  constructor(readonly line: number, reason: string) {
    super('EDOCKERFILE', line > 0 ? `dockerfile parse error on line ${line}: ${reason}` : reason)
  }
}

/**
 * A build step failed: a RUN exited non-zero (or a COPY could not be
 * carried out). Carries where (stage, line, instruction), the exit code and
 * the last 50 lines of the step's output; the build left nothing behind.
 */
export class BuildError extends MiniContainerError {
  /**
   * @param stage - the stage's name, or its index as a string
   * @param line - 1-based line of the instruction
   * @param instruction - the instruction as written, e.g. "RUN exit 3"
   * @param exitCode - the process's exit code (undefined when no process ran)
   * @param output - the last 50 lines of the step's output
   * @param reason - what happened, in BuildKit's words
   */
  constructor(readonly stage: string, readonly line: number, readonly instruction: string, readonly exitCode: number | undefined, readonly output: string[], reason: string, options?: { cause?: unknown }) {
    super('EBUILD', `stage ${stage}, line ${line}: ${instruction}: ${reason}${output.length ? `\n${output.join('\n')}` : ''}`, options)
  }
}

/** A service module's command in its container failed (e.g. PostgresContainer's snapshot SQL); the output says why. */
export class ServiceCommandError extends MiniContainerError {
  /**
   * @param what - what was being done, e.g. 'snapshot "seeded"'
   * @param exitCode - the command's exit code
   * @param output - what it printed on stderr (and stdout)
   */
  constructor(what: string, readonly exitCode: number, readonly output: string) {
    super('ESERVICE', `${what} failed (exit code ${exitCode}): ${output.trim() || 'no output'}`)
  }
}
