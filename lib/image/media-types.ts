/**
 * Media types of the OCI image spec and Docker's image manifest v2 schema 2
 * that archives and registries carry.
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

/** 'index' for an index or manifest list, 'manifest' for an image manifest, undefined for anything else. */
export function manifestKind(mediaType: string | undefined): 'index' | 'manifest' | undefined {
  if (mediaType === OCI_INDEX || mediaType === DOCKER_LIST) return 'index'
  if (mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST) return 'manifest'
  return undefined
}
