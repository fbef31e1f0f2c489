/**
 * The errors particular to builds (EDOCKERFILE and EBUILD live in
 * lib/errors.ts, with every code).
 *
 * @module
 */
import { MiniContainerError, errnoOf } from '../errors'

/** A Dockerfile feature minicontainer does not carry out yet: EUNSUPPORTED, never silently ignored. */
export class UnsupportedDockerfileFeatureError extends MiniContainerError {
  /** @param line - 1-based line; @param feature - what is not supported, and what to do instead */
  constructor(readonly line: number, feature: string) {
    super('EUNSUPPORTED', `Dockerfile line ${line}: ${feature}`)
  }
}

/**
 * A build needs something this host or mode does not give (a rootless read of another id's files,
 * a tmpfs for secrets): EUNSUPPORTED, saying what was asked and what to do instead.
 */
export class BuildUnsupportedError extends MiniContainerError {
  /** @param what - what the build asked for; @param why - why it cannot here, and the way around it */
  constructor(what: string, why: string) {
    super('EUNSUPPORTED', `${what}: ${why}`)
  }
}

/**
 * What a rootless build's read of a stage's or image's layers refused with EACCES or EPERM throws:
 * the layers hold them with subordinate ids, which the runtime's keeper reads for COPY --from,
 * binds and cache seeds read from the layers; a refusal left is EUNSUPPORTED saying what to do.
 * Anything else as it is.
 */
export function rootlessLayerReadError(rootless: boolean, err: unknown, what: string): unknown {
  return refusedToRootless(rootless, err, what, (refusal) =>
    `a rootless build reads a stage's layers through the runtime's keeper, but this read of files only another id inside may read or search was refused (${refusal}); ` +
      'make them readable to others in that stage (e.g. RUN chmod -R o+rX <dir>), or build with a root runtime',
  )
}

/**
 * What a rootless build's read of an image that binds host paths (`Image.fromHost()`), through its container or a
 * copy of a bound path, refused with EACCES or EPERM throws. The keeper reads what only another id inside may read
 * or search; what it is refused too belongs to an id its user namespace does not map: a host file under a bound
 * host path that the user may not read (as `/usr/share/polkit-1/rules.d`, 0700 of the host's polkitd). Only a root
 * runtime reads those: EUNSUPPORTED saying so. Anything else as it is.
 */
export function rootlessHostReadError(rootless: boolean, err: unknown, what: string): unknown {
  return refusedToRootless(rootless, err, what, (refusal) =>
    `a rootless build met a file of the host's own that your user may not read, under a host path the image binds (Image.fromHost()) (${refusal}); ` +
      "the runtime's keeper may not read it either (its user namespace maps only your id and your subordinate ids, never the host's root or system users), so only a root runtime can: " +
      'copy only paths your user may read, or build with a root runtime',
  )
}

/** A refusal (EACCES, EPERM) met by a rootless runtime as EUNSUPPORTED, `why` given the refusal's message; anything else as it is. */
function refusedToRootless(rootless: boolean, err: unknown, what: string, why: (refusal: string) => string): unknown {
  const errno = errnoOf(err)
  if (!rootless || (errno !== 'EACCES' && errno !== 'EPERM')) return err
  return new BuildUnsupportedError(what, why((err as Error).message))
}
