/** Manifest parsing and platform choice (pure logic). */
import { parseManifest, selectPlatform, type ImageIndex } from '../../lib/image/registry/manifest'
import { hostPlatform, parsePlatform } from '../../lib/image/platform'
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST } from '../../lib/image/media-types'
import { MiniContainerError } from '../../lib/errors'

const d = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`
const manifest = (mediaType = OCI_MANIFEST, layerType = 'application/vnd.oci.image.layer.v1.tar+gzip') => ({
  schemaVersion: 2,
  mediaType,
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d(1), size: 10 },
  layers: [{ mediaType: layerType, digest: d(2), size: 20 }],
})
const entry = (n: number, architecture: string, variant?: string, extra: object = {}) => ({
  mediaType: OCI_MANIFEST,
  digest: d(n),
  size: 100,
  platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) },
  ...extra,
})
const buf = (o: object) => Buffer.from(JSON.stringify(o))

function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    return (e as MiniContainerError).code
  }
  return 'none'
}

test('OCI and Docker schema 2 manifests and indexes parse; the header wins over the document', () => {
  expect(parseManifest('r', buf(manifest()), OCI_MANIFEST).kind).toBe('manifest')
  expect(parseManifest('r', buf(manifest(DOCKER_MANIFEST, 'application/vnd.docker.image.rootfs.diff.tar.gzip')), DOCKER_MANIFEST).kind).toBe('manifest')
  expect(parseManifest('r', buf({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [] }), `${DOCKER_LIST}; charset=utf-8`).kind).toBe('index')
  // A registry that sends a generic type: the document's mediaType, else its shape, decides.
  expect(parseManifest('r', buf({ schemaVersion: 2, manifests: [] }), 'application/json').kind).toBe('index')
  expect(parseManifest('r', buf({ ...manifest(), mediaType: undefined }), null).kind).toBe('manifest')
})

test('schema 1, unknown media types, non-image configs and bad layers are refused with codes', () => {
  expect(codeOf(() => parseManifest('r', buf({ schemaVersion: 1, name: 'x' }), 'application/vnd.docker.distribution.manifest.v1+prettyjws'))).toBe('EUNSUPPORTED')
  expect(codeOf(() => parseManifest('r', buf({ schemaVersion: 1 }), null))).toBe('EUNSUPPORTED')
  expect(codeOf(() => parseManifest('r', buf(manifest()), 'application/vnd.example.thing+json'))).toBe('EUNSUPPORTED')
  expect(codeOf(() => parseManifest('r', buf({ ...manifest(), config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: d(1), size: 1 } }), OCI_MANIFEST))).toBe('EUNSUPPORTED')
  expect(codeOf(() => parseManifest('r', buf(manifest(OCI_MANIFEST, 'application/x-foo')), OCI_MANIFEST))).toBe('EUNSUPPORTED')
  expect(codeOf(() => parseManifest('r', Buffer.from('not json'), OCI_MANIFEST))).toBe('EREGISTRY')
  expect(codeOf(() => parseManifest('r', buf({ ...manifest(), layers: [{ mediaType: 'x', digest: 'md5:00', size: 1 }] }), OCI_MANIFEST))).toBe('EUNSUPPORTED')
})

test('platform choice: exact variant, default variants, attestations skipped, ENOPLATFORM names what exists', () => {
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      entry(3, 'unknown', undefined, { platform: { os: 'unknown', architecture: 'unknown' } }),
      entry(4, 'amd64'),
      entry(5, 'arm64'),
      entry(6, 'arm', 'v6'),
      entry(7, 'arm', 'v7'),
      entry(8, 'amd64', undefined, { annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } }),
    ],
  }
  expect(selectPlatform('r', index, parsePlatform('linux/amd64')).digest).toBe(d(4))
  expect(selectPlatform('r', index, parsePlatform('linux/arm64/v8')).digest).toBe(d(5))
  expect(selectPlatform('r', index, parsePlatform('linux/arm/v7')).digest).toBe(d(7))
  expect(selectPlatform('r', index, parsePlatform('linux/arm/v6')).digest).toBe(d(6))
  expect(selectPlatform('r', index, parsePlatform('linux/x86_64')).digest).toBe(d(4))
  let err: MiniContainerError | undefined
  try {
    selectPlatform('r', index, parsePlatform('linux/s390x'))
  } catch (e) {
    err = e as MiniContainerError
  }
  expect(err?.code).toBe('ENOPLATFORM')
  expect(err?.message).toMatch(/linux\/s390x.*linux\/amd64, linux\/arm64, linux\/arm\/v6, linux\/arm\/v7/)
  expect(err?.message).not.toMatch(/unknown/)
})

test('platform strings and the host platform', () => {
  expect(codeOf(() => parsePlatform('amd64'))).toBe('EINVALID')
  expect(codeOf(() => parsePlatform('linux/amd64/v2/x'))).toBe('EINVALID')
  expect(hostPlatform().os).toBe('linux')
  expect(hostPlatform().architecture).toBe(process.arch === 'x64' ? 'amd64' : process.arch)
})
