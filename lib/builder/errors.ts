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
 * What a rootless build's read of a stage's or image's files refused with EACCES or EPERM throws:
 * the layers hold them with subordinate ids, which the runtime's keeper reads for COPY --from,
 * binds and cache seeds read from the layers; a refusal left (e.g. through the container of an
 * image that binds host paths, Image.fromHost()) is EUNSUPPORTED saying what to do. Anything else as it is.
 */
export function rootlessLayerReadError(rootless: boolean, err: unknown, what: string): unknown {
  const errno = errnoOf(err)
  if (!rootless || (errno !== 'EACCES' && errno !== 'EPERM')) return err
  return new BuildUnsupportedError(
    what,
    `a rootless build reads a stage's layers through the runtime's keeper, but this read of files only another id inside may read or search was refused (${(err as Error).message}); ` +
      'make them readable to others in that stage (e.g. RUN chmod -R o+rX <dir>), or build with a root runtime',
  )
}
