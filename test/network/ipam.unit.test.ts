import { allocateIp, defaultGateway, formatCidr, macForIp, overlaps, parseCidr, parseIp, pickSubnet, validateGateway, validateStaticIp } from '../../lib/network/ipam'

describe('ipam', () => {
  test('parses and formats CIDRs, rejecting host bits and junk', () => {
    expect(formatCidr(parseCidr('192.168.90.0/24'))).toBe('192.168.90.0/24')
    expect(() => parseCidr('192.168.90.1/24')).toThrow(/host bits/)
    expect(() => parseCidr('300.1.1.0/24')).toThrow(expect.objectContaining({ code: 'EINVALID' }))
    expect(() => parseCidr('10.0.0.0')).toThrow(expect.objectContaining({ code: 'EINVALID' }))
    expect(() => parseCidr('10.0.0.0/31')).toThrow(/too small/)
  })

  test('gateway is .1 and containers get .2, .3, then the first hole', () => {
    const c = parseCidr('10.213.1.0/24')
    const gw = defaultGateway(c)
    expect(gw).toBe('10.213.1.1')
    expect(allocateIp(c, gw, [])).toBe('10.213.1.2')
    expect(allocateIp(c, gw, ['10.213.1.2'])).toBe('10.213.1.3')
    expect(allocateIp(c, gw, ['10.213.1.3'])).toBe('10.213.1.2')
  })

  test('a full subnet is an error, not a wrap-around', () => {
    const c = parseCidr('10.213.1.0/30')
    expect(() => allocateIp(c, '10.213.1.1', ['10.213.1.2'])).toThrow(expect.objectContaining({ code: 'ENONETWORK' }))
  })

  test('static addresses: outside the subnet -> EINVALID, taken -> EINUSE', () => {
    const c = parseCidr('10.213.1.0/24')
    const taken = new Map([['10.213.1.2', 'web']])
    expect(() => validateStaticIp(c, '10.213.1.1', '10.213.2.5', taken)).toThrow(expect.objectContaining({ code: 'EINVALID' }))
    expect(() => validateStaticIp(c, '10.213.1.1', '10.213.1.255', taken)).toThrow(expect.objectContaining({ code: 'EINVALID' }))
    expect(() => validateStaticIp(c, '10.213.1.1', '10.213.1.2', taken)).toThrow(expect.objectContaining({ code: 'EINUSE', message: expect.stringContaining('web') }))
    expect(() => validateStaticIp(c, '10.213.1.1', '10.213.1.1', taken)).toThrow(expect.objectContaining({ code: 'EINUSE' }))
    expect(() => validateStaticIp(c, '10.213.1.1', '10.213.1.50', taken)).not.toThrow()
    expect(() => validateGateway(c, '10.213.2.1')).toThrow(expect.objectContaining({ code: 'EINVALID' }))
  })

  test('overlap is symmetric and prefix-aware', () => {
    expect(overlaps(parseCidr('10.0.0.0/8'), parseCidr('10.213.1.0/24'))).toBe(true)
    expect(overlaps(parseCidr('10.213.1.0/24'), parseCidr('10.0.0.0/8'))).toBe(true)
    expect(overlaps(parseCidr('10.213.1.0/24'), parseCidr('10.213.2.0/24'))).toBe(false)
  })

  test('subnet picking skips routed subnets and the Docker/podman ranges', () => {
    const routed = [parseCidr('10.89.0.0/24'), parseCidr('10.89.1.0/24')]
    expect(formatCidr(pickSubnet(['10.89.0.0/16'], routed))).toBe('10.89.2.0/24')
    expect(formatCidr(pickSubnet(['172.17.0.0/16', '172.18.0.0/16'], []))).toBe('172.18.0.0/24')
    expect(formatCidr(pickSubnet(['10.88.0.0/16', '10.213.7.0/24'], []))).toBe('10.213.7.0/24')
    expect(formatCidr(pickSubnet(['10.0.0.0/8'], [parseCidr('10.0.0.0/9')], 16))).toBe('10.128.0.0/16')
    expect(() => pickSubnet(['10.213.7.0/24'], [parseCidr('10.213.0.0/16')])).toThrow(expect.objectContaining({ code: 'ENONETWORK' }))
  })

  test('MACs are derived from the address, Docker style', () => {
    expect([...macForIp('172.17.0.2')]).toEqual([0x02, 0x42, 172, 17, 0, 2])
    expect(parseIp('255.255.255.255')).toBe(0xffffffff)
  })
})
