// Parsing of every mount form and every parse error. Pure: nothing touches the disk.
import { parseMounts } from '../../lib/storage/mount-options'
import { parseMountOption, parseTmpfsOption, parseVolumeSpec } from '../../lib/storage/mount-spec'
import { MS_NODEV, MS_NOEXEC, MS_NOSUID } from '../../lib/sys/libc'

function invalid(fn: () => unknown, text: string | RegExp): void {
  let err: any
  try {
    fn()
  } catch (e) {
    err = e
  }
  expect(err).toBeDefined()
  expect(err.code).toBe('EINVALID')
  expect(err.message).toMatch(text)
}

describe('-v specs', () => {
  test('bind host dir, read-write by default', () => {
    expect(parseVolumeSpec('/host/dir:/ctr/dir')).toEqual({ type: 'bind', source: '/host/dir', target: '/ctr/dir', readOnly: false, mode: '', createSource: true })
  })
  test('bind host file :ro', () => {
    expect(parseVolumeSpec('/host/file:/ctr/file:ro')).toMatchObject({ type: 'bind', source: '/host/file', target: '/ctr/file', readOnly: true, mode: 'ro' })
  })
  test(':rw, :z, :Z, rprivate are accepted', () => {
    expect(parseVolumeSpec('/a:/b:rw')).toMatchObject({ readOnly: false, mode: 'rw' })
    expect(parseVolumeSpec('/a:/b:z')).toMatchObject({ readOnly: false, mode: 'z' })
    expect(parseVolumeSpec('/a:/b:ro,Z')).toMatchObject({ readOnly: true, mode: 'ro,Z' })
    expect(parseVolumeSpec('/a:/b:rprivate')).toMatchObject({ readOnly: false })
  })
  test('named volume, rw and ro', () => {
    expect(parseVolumeSpec('named:/data')).toEqual({ type: 'volume', name: 'named', target: '/data', readOnly: false, mode: '', copy: true })
    expect(parseVolumeSpec('named:/data:ro')).toMatchObject({ type: 'volume', name: 'named', readOnly: true })
    expect(parseVolumeSpec('my_vol-1.x:/data:nocopy')).toMatchObject({ name: 'my_vol-1.x', copy: false })
  })
  test('anonymous volume', () => {
    expect(parseVolumeSpec('/anon/path')).toEqual({ type: 'volume', target: '/anon/path', readOnly: false, mode: '', copy: true })
  })
  test('paths are cleaned', () => {
    expect(parseVolumeSpec('/h//x/../y/:/c/./d/')).toMatchObject({ source: '/h/y', target: '/c/d' })
  })
  test('relative container path', () => {
    invalid(() => parseVolumeSpec('/host:ctr'), /"\/host:ctr".*container path "ctr" must be absolute/)
    invalid(() => parseVolumeSpec('named:data:ro'), /must be absolute/)
    invalid(() => parseVolumeSpec('relative/anon'), /"relative\/anon".*must be absolute/)
  })
  test('relative host path that is not a volume name', () => {
    invalid(() => parseVolumeSpec('./data:/data'), /invalid volume name "\.\/data".*"\.\/data:\/data".*absolute path/)
    invalid(() => parseVolumeSpec('data/sub:/data'), /data\/sub/)
  })
  test('volume names with bad characters', () => {
    invalid(() => parseVolumeSpec('bad$name:/data'), /invalid volume name "bad\$name".*\[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]/)
    invalid(() => parseVolumeSpec('_under:/data'), /_under/)
    invalid(() => parseVolumeSpec('-dash:/data'), /-dash/)
  })
  test('malformed specs name the offending text', () => {
    for (const bad of ['', ':', '/a:', ':/b', '/a::/b', '/a:/b:ro:extra', 'a:b:c:d'])
      invalid(() => parseVolumeSpec(bad), JSON.stringify(bad).slice(1, -1))
    invalid(() => parseVolumeSpec('/data:ro'), /"\/data:ro".*anonymous volume takes no mode/)
  })
  test('bad modes', () => {
    invalid(() => parseVolumeSpec('/a:/b:rx'), /"\/a:\/b:rx".*unknown mode "rx"/)
    invalid(() => parseVolumeSpec('/a:/b:ro,rw'), /conflicting modes/)
    invalid(() => parseVolumeSpec('/a:/b:nocopy'), /volumes only/)
    invalid(() => parseVolumeSpec('/a:/b:rshared'), /only private propagation/)
  })
  test('cannot mount over /', () => {
    invalid(() => parseVolumeSpec('/host:/'), /cannot mount over "\/"/)
    invalid(() => parseVolumeSpec('/host:/..'), /cannot mount over/)
  })
  test('non-string', () => {
    invalid(() => parseVolumeSpec(42 as any), /expected a string/)
  })
})

describe('typed mounts', () => {
  test('bind, never creates its source', () => {
    expect(parseMountOption({ type: 'bind', source: '/h', target: '/c', readOnly: true })).toEqual({ type: 'bind', source: '/h', target: '/c', readOnly: true, mode: '', createSource: false })
  })
  test('volume named and anonymous', () => {
    expect(parseMountOption({ type: 'volume', source: 'v1', target: '/d' })).toMatchObject({ type: 'volume', name: 'v1', copy: true })
    expect(parseMountOption({ type: 'volume', target: '/d', noCopy: true })).toMatchObject({ type: 'volume', name: undefined, copy: false })
  })
  test('tmpfs size and mode', () => {
    expect(parseMountOption({ type: 'tmpfs', target: '/t', tmpfsSize: 1 << 20, tmpfsMode: 0o1777 })).toEqual({
      type: 'tmpfs', target: '/t', readOnly: false, flags: MS_NOSUID | MS_NODEV, data: 'size=1048576,mode=1777',
    })
    expect(parseMountOption({ type: 'tmpfs', target: '/t', tmpfsSize: '64m' })).toMatchObject({ data: 'size=64m' })
  })
  test('errors', () => {
    invalid(() => parseMountOption({ type: 'bind', source: 'rel', target: '/c' }), /host path "rel" must be absolute/)
    invalid(() => parseMountOption({ type: 'bind', target: '/c' } as any), /needs a source/)
    invalid(() => parseMountOption({ type: 'bind', source: '/h', target: 'c' }), /container path "c" must be absolute/)
    invalid(() => parseMountOption({ type: 'volume', source: '/abs', target: '/c' }), /invalid volume name "\/abs".*type "bind"/)
    invalid(() => parseMountOption({ type: 'tmpfs', source: 'x', target: '/c' }), /tmpfs takes no source/)
    invalid(() => parseMountOption({ type: 'bind', source: '/h', target: '/c', tmpfsSize: 5 }), /tmpfsSize applies to type "tmpfs" only/)
    invalid(() => parseMountOption({ type: 'tmpfs', target: '/c', tmpfsSize: -1 }), /positive/)
    invalid(() => parseMountOption({ type: 'tmpfs', target: '/c', tmpfsMode: 0o10000 }), /permission bits/)
    invalid(() => parseMountOption({ type: 'nfs' as any, target: '/c' }), /type must be/)
    invalid(() => parseMountOption(null as any), /expected an object/)
  })
})

describe('tmpfs option', () => {
  test('object form', () => {
    expect(parseTmpfsOption({ '/run': 'size=64m,mode=1777' })).toEqual([{ type: 'tmpfs', target: '/run', readOnly: false, flags: MS_NOSUID | MS_NODEV, data: 'size=64m,mode=1777' }])
  })
  test('Docker --tmpfs strings and flag words', () => {
    const [a, b] = parseTmpfsOption(['/run:size=1g,noexec,uid=1000', '/tmp'])
    expect(a).toMatchObject({ target: '/run', flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, data: 'size=1g,uid=1000' })
    expect(b).toMatchObject({ target: '/tmp', data: '' })
    expect(parseTmpfsOption({ '/x': 'ro,dev,suid' })[0]).toMatchObject({ readOnly: true, flags: 0 })
  })
  test('errors', () => {
    invalid(() => parseTmpfsOption({ '/run': 'size=lots' }), /"size=lots".*bad value/)
    invalid(() => parseTmpfsOption({ '/run': 'mode=999' }), /bad value "999"/)
    invalid(() => parseTmpfsOption({ '/run': 'bogus' }), /unknown option "bogus"/)
    invalid(() => parseTmpfsOption({ run: '' }), /must be absolute/)
  })
})

describe('parseMounts', () => {
  test('collects all three forms', () => {
    const r = parseMounts({ volumes: ['/h:/a', 'v:/b'], mounts: [{ type: 'tmpfs', target: '/c' }], tmpfs: { '/d': '' } })
    expect(r.map((m) => `${m.type}:${m.target}`)).toEqual(['bind:/a', 'volume:/b', 'tmpfs:/c', 'tmpfs:/d'])
  })
  test('duplicate targets across forms, after cleaning', () => {
    invalid(() => parseMounts({ volumes: ['/h:/data'], tmpfs: { '/data/': '' } }), /duplicate mount point: \/data/)
    invalid(() => parseMounts({ volumes: ['/a:/x', 'v:/x'] }), /duplicate mount point: \/x/)
  })
  test('non-array', () => {
    invalid(() => parseMounts({ volumes: '/a:/b' as any }), /invalid volumes option/)
  })
})
