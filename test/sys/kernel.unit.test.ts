import { KernelUnsupportedError } from '../../lib/errors'
import { kernelAtLeast, missingKernelFeature, requireKernelFeatures } from '../../lib/sys/kernel'

test('releases compare by major.minor, suffixes and revisions ignored', () => {
  expect(kernelAtLeast('6.1.0-27-amd64', '5.8')).toBe(true)
  expect(kernelAtLeast('5.14.0-427.el9.x86_64', '5.14')).toBe(true)
  expect(kernelAtLeast('5.7.19', '5.8')).toBe(false)
  expect(kernelAtLeast('4.19.0', '5.3')).toBe(false)
  expect(kernelAtLeast('10.0', '5.8')).toBe(true)
})

test('the first missing feature is named with the release that brought it', () => {
  expect(missingKernelFeature('5.15.0-208-generic')).toBeUndefined()
  expect(missingKernelFeature('5.10.223')).toBeUndefined()
  expect(missingKernelFeature('5.7.0')?.since).toBe('5.8')
  expect(missingKernelFeature('5.4.0-150-generic')?.feature).toMatch(/^openat2/)
  expect(missingKernelFeature('4.18.0-553.el8')?.feature).toMatch(/^pidfd_open/)
  let err: unknown
  try {
    requireKernelFeatures({ release: '5.4.0-150-generic' })
  } catch (e) {
    err = e
  }
  expect(err).toBeInstanceOf(KernelUnsupportedError)
  expect(err).toMatchObject({ code: 'EUNSUPPORTED', since: '5.6', release: '5.4.0-150-generic' })
  expect((err as Error).message).toMatch(/openat2 .* needs Linux 5\.6 or later, and this host runs 5\.4\.0-150-generic/)
})

test('a rootless runtime also needs overlay in a user namespace (5.11); a rootful one does not', () => {
  expect(missingKernelFeature('5.10.223')).toBeUndefined()
  expect(missingKernelFeature('5.10.223', true)).toMatchObject({ since: '5.11' })
  expect(missingKernelFeature('5.14.0-427.el9', true)).toBeUndefined()
  expect(() => requireKernelFeatures({ rootless: true, release: '5.10.0-32-amd64' })).toThrow(/overlay mounts in a user namespace.* needs Linux 5\.11 or later, and this host runs 5\.10\.0-32-amd64/)
})
