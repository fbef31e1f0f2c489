/**
 * The errors particular to builds (EDOCKERFILE and EBUILD live in
 * lib/errors.ts, with every code).
 *
 * @module
 */
import { MiniContainerError } from '../errors'

/** A Dockerfile feature minicontainer does not carry out yet: EUNSUPPORTED, never silently ignored. */
export class UnsupportedDockerfileFeatureError extends MiniContainerError {
  /** @param line - 1-based line; @param feature - what is not supported, and what to do instead */
  constructor(readonly line: number, feature: string) {
    super('EUNSUPPORTED', `Dockerfile line ${line}: ${feature}`)
  }
}
