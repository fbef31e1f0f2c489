/**
 * The media types of the OCI image spec and Docker's image manifest v2
 * schema 2, and what each is.
 *
 * @module
 */

/** OCI image manifest. */
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
/** OCI image index (one manifest per platform). */
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
/** OCI image config. */
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json'
/** Docker schema 2 manifest. */
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json'
/** Docker manifest list (one manifest per platform). */
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json'
/** Docker image config. */
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json'

const schema1 = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
])

/** What a manifest document is. */
export type ManifestKind = 'index' | 'manifest'

/** Which kind a manifest media type is; undefined for a type we do not pull. */
export function manifestKind(mediaType: string): ManifestKind | undefined {
  if (mediaType === OCI_INDEX || mediaType === DOCKER_LIST) return 'index'
  if (mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST) return 'manifest'
  return undefined
}

/** True for Docker's schema 1 manifests, which are refused (deprecated; no config digest). */
export function isSchema1(mediaType: string): boolean {
  return schema1.has(mediaType)
}

/** The Accept header for manifests: everything we can pull (never schema 1). */
export const MANIFEST_ACCEPT = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(', ')
