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
 * the layers hold them with subordinate ids, and a file or directory only another id inside may
 * read or search is not read through the runtime's keeper here yet. Anything else as it is.
 */
export function rootlessLayerReadError(rootless: boolean, err: unknown, what: string): unknown {
  const errno = errnoOf(err)
  if (!rootless || (errno !== 'EACCES' && errno !== 'EPERM')) return err
  return new BuildUnsupportedError(
    what,
    `a rootless build does not yet read a stage's or image's files that only another id inside may read or search (${(err as Error).message}); ` +
      'make them readable to others in that stage (e.g. RUN chmod -R o+rX <dir>), or build with a root runtime',
  )
}
