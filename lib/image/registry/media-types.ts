/**
 * What a registry client adds to the image media types (../media-types):
 * the Accept header for manifests, and Docker's schema 1, which is refused.
 *
 * @module
 */
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST } from '../media-types'

const schema1 = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
])

/** True for Docker's schema 1 manifests, which are refused (deprecated; no config digest). */
export function isSchema1(mediaType: string): boolean {
  return schema1.has(mediaType)
}

/** The Accept header for manifests: everything we can pull (never schema 1). */
export const MANIFEST_ACCEPT = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(', ')
