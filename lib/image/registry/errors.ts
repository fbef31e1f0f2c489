/**
 * Errors of the registry client. Each names the registry, the repository
 * and what to do.
 *
 * @module
 */
import { MiniContainerError } from '../../errors'

/** The registry refused the credentials (or their absence) for a scope. */
export class RegistryAuthError extends MiniContainerError {
  /**
   * @param registry - host[:port]
   * @param realm - the realm of the challenge (basic realm or token endpoint)
   * @param scope - the scope asked for, e.g. "repository:team/app:pull"
   * @param detail - what the registry or token service said
   */
  constructor(
    readonly registry: string,
    readonly realm: string,
    readonly scope: string,
    detail: string,
  ) {
    super(
      'EAUTH',
      `authentication to ${registry} failed (realm "${realm}", scope "${scope || 'none'}"): ${detail}; ` +
        'pass { auth: { username, password } } or { auth: { token } }, or log in so ~/.docker/config.json has the registry under "auths"',
    )
  }
}

/** The registry answered with an error the client cannot recover from, or could not be reached. */
export class RegistryError extends MiniContainerError {
  /**
   * @param message - the operation, the registry's answer and what to do
   * @param status - the HTTP status, when there was an answer
   */
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super('EREGISTRY', message, options)
  }
}

/** A manifest of a kind minicontainer does not pull (schema 1, an unknown media type). */
export class UnsupportedManifestError extends MiniContainerError {
  /** @param ref - the reference; @param mediaType - what the registry sent; @param hint - what to do. */
  constructor(
    ref: string,
    readonly mediaType: string,
    hint: string,
  ) {
    super('EUNSUPPORTED', `${ref}: unsupported manifest media type "${mediaType}"; ${hint}`)
  }
}

/** An image index has no manifest for the requested platform. */
export class PlatformNotFoundError extends MiniContainerError {
  /** @param ref - the reference; @param platform - what was asked; @param available - what the index has. */
  constructor(
    ref: string,
    readonly platform: string,
    readonly available: string[],
  ) {
    super(
      'ENOPLATFORM',
      `${ref} has no image for platform ${platform} (it has: ${available.join(', ') || 'none'}); pass { platform } with one of those`,
    )
  }
}

/** The registry has no manifest for the reference (unknown repository, tag or digest). */
export class ManifestNotFoundError extends MiniContainerError {
  /** @param ref - the reference asked for; @param detail - what the registry said. */
  constructor(
    readonly ref: string,
    detail: string,
  ) {
    super('ENOIMAGE', `${ref}: manifest not found in the registry (${detail}); check the repository name and tag or digest`)
  }
}
