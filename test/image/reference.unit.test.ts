import { isSha256Digest, parseReference } from '../../lib/image/reference'
import { MiniContainerError } from '../../lib/errors'

const hex = 'a'.repeat(64)

describe('parseReference normalises like docker', () => {
  test.each([
    ['redis', 'docker.io', 'library/redis', 'latest', undefined, 'redis:latest'],
    ['redis:7', 'docker.io', 'library/redis', '7', undefined, 'redis:7'],
    ['library/redis:7', 'docker.io', 'library/redis', '7', undefined, 'redis:7'],
    ['docker.io/redis', 'docker.io', 'library/redis', 'latest', undefined, 'redis:latest'],
    ['index.docker.io/library/redis', 'docker.io', 'library/redis', 'latest', undefined, 'redis:latest'],
    ['me/app:1.0', 'docker.io', 'me/app', '1.0', undefined, 'me/app:1.0'],
    ['127.0.0.1:5000/team/app:1.2', '127.0.0.1:5000', 'team/app', '1.2', undefined, '127.0.0.1:5000/team/app:1.2'],
    ['localhost/app', 'localhost', 'app', 'latest', undefined, 'localhost/app:latest'],
    ['localhost:5000/app', 'localhost:5000', 'app', 'latest', undefined, 'localhost:5000/app:latest'],
    ['ghcr.io/o/r/x', 'ghcr.io', 'o/r/x', 'latest', undefined, 'ghcr.io/o/r/x:latest'],
    ['[::1]:5000/app:v', '[::1]:5000', 'app', 'v', undefined, '[::1]:5000/app:v'],
    ['a_b/c-d.e__f', 'docker.io', 'a_b/c-d.e__f', 'latest', undefined, 'a_b/c-d.e__f:latest'],
    [`redis@sha256:${hex}`, 'docker.io', 'library/redis', undefined, `sha256:${hex}`, `redis@sha256:${hex}`],
    [`redis:7@sha256:${hex}`, 'docker.io', 'library/redis', '7', `sha256:${hex}`, `redis:7@sha256:${hex}`],
  ])('%s', (input, registry, repository, tag, digest, familiar) => {
    const r = parseReference(input)
    expect([r.registry, r.repository, r.tag, r.digest, r.familiar]).toEqual([registry, repository, tag, digest, familiar])
    expect(r.toString()).toBe(`${registry}/${repository}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`)
    // Normalisation is idempotent: the full form and the familiar form parse to the same thing.
    expect(parseReference(r.toString()).toString()).toBe(r.toString())
    expect(parseReference(r.familiar).toString()).toBe(r.toString())
  })

  test('name only when defaultTag is false', () => {
    expect(parseReference('redis', { defaultTag: false }).toString()).toBe('docker.io/library/redis')
  })

  test('manifestRef, withTag, withDigest', () => {
    const r = parseReference('127.0.0.1:5000/app:1')
    expect(r.manifestRef).toBe('1')
    expect(r.withTag('2').toString()).toBe('127.0.0.1:5000/app:2')
    expect(r.withDigest(`sha256:${hex}`).toString()).toBe(`127.0.0.1:5000/app@sha256:${hex}`)
    expect(r.withDigest(`sha256:${hex}`).manifestRef).toBe(`sha256:${hex}`)
    expect(() => r.withTag('-x')).toThrow(/invalid reference format/)
  })

  test('isSha256Digest', () => {
    expect(isSha256Digest(`sha256:${hex}`)).toBe(true)
    expect(isSha256Digest(`sha256:${hex.slice(1)}`)).toBe(false)
    expect(isSha256Digest(hex)).toBe(false)
  })

  test.each([
    ['UPPER:case', /repository name must be lowercase/],
    ['', /invalid reference format/],
    ['a//b', /invalid reference format/],
    ['-a', /invalid reference format/],
    ['a:-tag', /tag/],
    [`a:${'t'.repeat(129)}`, /tag/],
    ['a@sha256:abc', /digest/],
    [`a@sha256:${'A'.repeat(64)}`, /sha256/],
    [hex, /hexadecimal/],
    ['bad_host.com:x/app', /invalid reference format/],
    ['host:5000/App', /lowercase/],
    [`${'a'.repeat(256)}`, /255/],
    ['a b', /invalid reference format/],
  ])('refuses %s with EINVALID', (input, message) => {
    let err: unknown
    try {
      parseReference(input)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(MiniContainerError)
    expect((err as MiniContainerError).code).toBe('EINVALID')
    expect((err as Error).message).toMatch(/invalid reference format/)
    expect((err as Error).message).toMatch(message)
  })
})
