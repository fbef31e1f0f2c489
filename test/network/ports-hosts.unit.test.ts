import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { renderSection, spliceSection, updateHostsFile } from '../../lib/network/hosts'
import { bindingsCollide, exposedToRequest, parseExposeSpec, parsePortSpec } from '../../lib/network/ports'
import { netNames, runtimeTag } from '../../lib/network/names'

describe('port specs', () => {
  test('Docker -p forms', () => {
    expect(parsePortSpec('8888:80')).toEqual([{ hostIp: '', hostPort: 8888, containerPort: 80, proto: 'tcp' }])
    expect(parsePortSpec('127.0.0.1:9999:80/tcp')).toEqual([{ hostIp: '127.0.0.1', hostPort: 9999, containerPort: 80, proto: 'tcp' }])
    expect(parsePortSpec('5353:53/udp')).toEqual([{ hostIp: '', hostPort: 5353, containerPort: 53, proto: 'udp' }])
    expect(parsePortSpec('80')).toEqual([{ hostIp: '', hostPort: 0, containerPort: 80, proto: 'tcp' }])
    expect(parsePortSpec('127.0.0.1::80')).toEqual([{ hostIp: '127.0.0.1', hostPort: 0, containerPort: 80, proto: 'tcp' }])
    expect(parsePortSpec('0.0.0.0:81:80')).toMatchObject([{ hostIp: '' }])
    expect(parsePortSpec('8000-8001:80-81/udp')).toEqual([
      { hostIp: '', hostPort: 8000, containerPort: 80, proto: 'udp' },
      { hostIp: '', hostPort: 8001, containerPort: 81, proto: 'udp' },
    ])
    expect(parsePortSpec('127.0.0.1::90-91').map((r) => [r.hostPort, r.containerPort])).toEqual([[0, 90], [0, 91]])
    expect(exposedToRequest('53/udp')).toEqual({ hostIp: '', hostPort: 0, containerPort: 53, proto: 'udp' })
  })

  test("IPv6 host addresses in brackets, as Docker writes them ('[::1]:8080:80', '[::]::80/udp')", () => {
    expect(parsePortSpec('[::1]:8080:80')).toEqual([{ hostIp: '::1', hostPort: 8080, containerPort: 80, proto: 'tcp' }])
    expect(parsePortSpec('[::]::53/udp')).toEqual([{ hostIp: '::', hostPort: 0, containerPort: 53, proto: 'udp' }])
    expect(parsePortSpec('[fd00::1]:8000-8001:80-81').map((r) => [r.hostIp, r.hostPort, r.containerPort])).toEqual([['fd00::1', 8000, 80], ['fd00::1', 8001, 81]])
    for (const bad of ['::1:8080:80', '[::1]8080:80', '[::1:8080:80', '[1.2.3.4]:8080:80', '[::1]:1:2:3', '[zz::1]:80:80'])
      expect(() => parsePortSpec(bad)).toThrow(expect.objectContaining({ code: 'EINVALID', message: expect.stringContaining('[::1]:8080:80') }))
  })

  test('bad specs are EINVALID', () => {
    for (const bad of ['', '70000:80', '80:0', '8080:80/sctp', 'a:b', '1:2:3:4', '999.1.1.1:80:80', '80/tcp/x', '8000-8002:80-81', '81-80', '1-2-3', '8080:'])
      expect(() => parsePortSpec(bad)).toThrow(expect.objectContaining({ code: 'EINVALID' }))
  })

  test('--expose entries: a container port or range, as port keys', () => {
    expect(parseExposeSpec('8080')).toEqual(['8080/tcp'])
    expect(parseExposeSpec('53/udp')).toEqual(['53/udp'])
    expect(parseExposeSpec('8000-8002/tcp')).toEqual(['8000/tcp', '8001/tcp', '8002/tcp'])
    for (const bad of ['', '0', '70000', '80-x', '81-80', '1-2-3', '80/sctp', '80/tcp/x', '8080:80', ':80'])
      expect(() => parseExposeSpec(bad)).toThrow(expect.objectContaining({ code: 'EINVALID' }))
  })

  test('collisions: any address covers specific ones, protocols are separate', () => {
    const any = { hostIp: '', hostPort: 80, proto: 'tcp' as const }
    expect(bindingsCollide(any, { hostIp: '127.0.0.1', hostPort: 80, proto: 'tcp' })).toBe(true)
    expect(bindingsCollide(any, { hostIp: '', hostPort: 80, proto: 'udp' })).toBe(false)
    expect(bindingsCollide({ hostIp: '127.0.0.1', hostPort: 80, proto: 'tcp' }, { hostIp: '127.0.0.2', hostPort: 80, proto: 'tcp' })).toBe(false)
  })
})

describe('hosts file section', () => {
  test('is appended once, then replaced in place, keeping the rest', () => {
    const a = renderSection([{ ip: '10.0.0.2', names: ['web', 'w'] }])
    const b = renderSection([{ ip: '10.0.0.3', names: ['db'] }])
    const base = '127.0.0.1\tlocalhost\n'
    const once = spliceSection(base, a)
    expect(once).toBe(base + a)
    const twice = spliceSection(once + '10.9.9.9\textra\n', b)
    expect(twice).toBe(base + b + '10.9.9.9\textra\n')
    expect(twice).not.toContain('web')
  })

  test('rewrites keep the inode (bind mounts see the change)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-net-'))
    try {
      const file = path.join(dir, 'hosts')
      fs.writeFileSync(file, '127.0.0.1\tlocalhost\n')
      const ino = fs.statSync(file).ino
      updateHostsFile(file, renderSection([{ ip: '10.0.0.2', names: ['web'] }]))
      updateHostsFile(file, renderSection([{ ip: '10.0.0.3', names: ['db'] }]))
      expect(fs.statSync(file).ino).toBe(ino)
      expect(fs.readFileSync(file, 'utf8')).toMatch(/^127\.0\.0\.1\tlocalhost\n# minicontainer.*\n10\.0\.0\.3\tdb\n# minicontainer.*\n$/)
      updateHostsFile(path.join(dir, 'missing'), 'x') // no file yet: nothing happens
      expect(fs.existsSync(path.join(dir, 'missing'))).toBe(false)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('names', () => {
  test('fit IFNAMSIZ and differ per root', () => {
    const a = netNames(runtimeTag('/tmp/a'))
    const b = netNames(runtimeTag('/tmp/b'))
    expect(a.tag).not.toBe(b.tag)
    for (const n of [a.defaultBridge, a.bridgeFor('f'.repeat(64)), a.newVeth()]) expect(n.length).toBeLessThanOrEqual(15)
    expect(a.newVeth().startsWith(a.bridgePrefix)).toBe(false)
    expect(a.table).toMatch(/^minicontainer_[0-9a-f]{6}$/)
  })
})
