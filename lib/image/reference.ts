/**
 * Image references, normalised the way Docker does (the grammar of
 * distribution/reference): `redis` is `docker.io/library/redis:latest`,
 * `127.0.0.1:5000/team/app:1.2` names a registry by its host, and
 * `name@sha256:<hex>` pins a manifest digest.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'

/** Docker Hub's canonical name; `index.docker.io` is an alias of it. */
export const DOCKER_HUB = 'docker.io'

const MAX_NAME_LENGTH = 255

// The pieces of distribution/reference's grammar.
const pathComponent = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*'
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const host = `(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])`
const domain = `${host}(?::[0-9]+)?`
const tagPattern = /^[\w][\w.-]{0,127}$/
const digestPattern = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/
const sha256Pattern = /^sha256:[0-9a-f]{64}$/
const domainPattern = new RegExp(`^${domain}$`)
const repositoryPattern = new RegExp(`^${pathComponent}(?:/${pathComponent})*$`)
// What Docker refuses as a name: it would be mistaken for an image id.
const bareId = /^[a-f0-9]{64}$/

/** A parsed, normalised image reference. */
export class Reference {
  /**
   * @param registry - registry host[:port], e.g. "docker.io", "127.0.0.1:5000"
   * @param repository - path within the registry, e.g. "library/redis"
   * @param tag - e.g. "latest"; absent when only a digest was given
   * @param digest - "sha256:<hex>" of the manifest, when pinned
   */
  constructor(
    readonly registry: string,
    readonly repository: string,
    readonly tag?: string,
    readonly digest?: string,
  ) {}

  /** Registry and repository without tag or digest: "docker.io/library/redis". */
  get name(): string {
    return `${this.registry}/${this.repository}`
  }

  /** The short form Docker prints: "redis:latest", "me/app:1", "127.0.0.1:5000/app:1". */
  get familiar(): string {
    let name = this.name
    if (this.registry === DOCKER_HUB) {
      name = this.repository.startsWith('library/') ? this.repository.slice('library/'.length) : this.repository
    }
    return name + this.suffix()
  }

  /** The manifest to ask a registry for: the digest when pinned, else the tag. */
  get manifestRef(): string {
    return this.digest ?? this.tag ?? 'latest'
  }

  /** The same repository with another tag (and no digest). */
  withTag(tag: string): Reference {
    if (!tagPattern.test(tag)) throw invalid(tag, 'a tag is 1-128 of [A-Za-z0-9_.-], not starting with "." or "-"')
    return new Reference(this.registry, this.repository, tag)
  }

  /** The same repository pinned to a manifest digest (no tag), e.g. for repoDigests. */
  withDigest(digest: string): Reference {
    if (!digestPattern.test(digest)) throw invalid(digest, 'a digest is "sha256:<64 hex digits>"')
    return new Reference(this.registry, this.repository, undefined, digest)
  }

  /** The fully qualified form: "docker.io/library/redis:latest". */
  toString(): string {
    return this.name + this.suffix()
  }

  private suffix(): string {
    return (this.tag ? `:${this.tag}` : '') + (this.digest ? `@${this.digest}` : '')
  }
}

/**
 * Parses and normalises an image reference like `docker pull` does. A
 * reference with neither tag nor digest gets the tag "latest" unless
 * `defaultTag` is false. Malformed input throws EINVALID ("invalid
 * reference format").
 */
export function parseReference(input: string, opts: { defaultTag?: boolean } = {}): Reference {
  if (typeof input !== 'string' || input === '') throw invalid(String(input), 'give name[:tag][@digest]')
  let rest = input
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!digestPattern.test(digest)) throw invalid(input, 'a digest is "sha256:<64 hex digits>"')
    if (digest.startsWith('sha256:') && !sha256Pattern.test(digest)) throw invalid(input, 'a sha256 digest has 64 lowercase hex digits')
  }
  let tag: string | undefined
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!tagPattern.test(tag)) throw invalid(input, 'a tag is 1-128 of [A-Za-z0-9_.-], not starting with "." or "-"')
  }
  const { registry, repository } = splitName(input, rest)
  if (!digest && !tag && opts.defaultTag !== false) tag = 'latest'
  return new Reference(registry, repository, tag, digest)
}

/** True for a string that is a well-formed "sha256:<64 hex>" digest. */
export function isSha256Digest(s: string): boolean {
  return sha256Pattern.test(s)
}

/** Splits a name into registry and repository; the first component is a registry when it looks like a host. */
function splitName(input: string, name: string): { registry: string; repository: string } {
  if (name.length > MAX_NAME_LENGTH) throw invalid(input, `repository name must not be longer than ${MAX_NAME_LENGTH} characters`)
  let registry = DOCKER_HUB
  let repository = name
  const slash = name.indexOf('/')
  const first = name.slice(0, slash)
  // Docker's rule: the first component is a host if it has a "." or ":", is "localhost", or has uppercase letters.
  if (slash >= 0 && (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase())) {
    registry = first === 'index.docker.io' ? DOCKER_HUB : first
    repository = name.slice(slash + 1)
    if (!domainPattern.test(registry)) throw invalid(input, `"${registry}" is not a registry host[:port]`)
  }
  if (!repositoryPattern.test(repository)) {
    const lower = repository.toLowerCase()
    throw invalid(input, lower !== repository && repositoryPattern.test(lower) ? 'repository name must be lowercase' : 'give name[:tag][@digest] with a lowercase name')
  }
  if (registry === DOCKER_HUB && bareId.test(repository))
    throw invalid(input, 'a repository name cannot be a 64-digit hexadecimal string (that is an image id)')
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`
  return { registry, repository }
}

function invalid(input: string, hint: string): InvalidArgumentError {
  return new InvalidArgumentError(`invalid reference format: "${input}" (${hint})`)
}
