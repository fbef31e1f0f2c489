// Netlink attributes, byte for byte as the kernel defines them (include/uapi/linux/netlink.h:
// struct nlattr { __u16 nla_len; __u16 nla_type; }, the value padded to NLA_ALIGNTO = 4,
// nla_len counting header and value but not the padding; NLA_F_NESTED = 1 << 15).
import { attr, attrString, nested, NLA_F_NESTED, parseAttrs, strAttr, u32Attr, u32beAttr, u64beAttr } from '../../lib/network/nlattr'

const hex = (b: Buffer) => b.toString('hex')

describe('encoding', () => {
  test('a 5-byte value: nla_len 9, padded with zeros to 12 bytes', () => {
    expect(hex(attr(3, Buffer.from('abcde')))).toBe('0900' + '0300' + '6162636465' + '000000')
  })
  test('an aligned value gets no padding; an empty one is a bare 4-byte header', () => {
    expect(hex(attr(1, Buffer.from([1, 2, 3, 4])))).toBe('0800010001020304')
    expect(hex(attr(7, Buffer.alloc(0)))).toBe('04000700')
  })
  test('strings are NUL-terminated: "mc_t" is nla_len 9 (as nft sends a table name)', () => {
    expect(hex(strAttr(1, 'mc_t'))).toBe('0900' + '0100' + '6d635f7400' + '000000')
  })
  test('nf_tables integers are big-endian, rtnetlink ones host order; u32 takes negative numbers as two’s complement', () => {
    expect(hex(u32beAttr(2, 0x0a580001))).toBe('080002000a580001')
    expect(hex(u32Attr(2, 0x0a580001))).toBe('080002000100580a')
    expect(hex(u32beAttr(2, -100))).toBe('08000200ffffff9c') // a hook priority of -100
    expect(hex(u64beAttr(3, 0x0102030405060708n))).toBe('0c0003000102030405060708')
  })
  test('nested: NLA_F_NESTED in the type, the children concatenated with their padding, nla_len covering them', () => {
    const n = nested(4, [strAttr(1, 'ab'), u32beAttr(2, 1)])
    expect(NLA_F_NESTED).toBe(0x8000)
    expect(hex(n)).toBe('1400' + '0480' + '0700010061620000' + '0800020000000001')
  })
})

describe('parseAttrs', () => {
  test('walks padded attributes; the nested flag is stripped from the type', () => {
    const buf = Buffer.concat([strAttr(1, 'abc'), attr(2, Buffer.from([9])), nested(3, [u32beAttr(1, 5)])])
    const m = parseAttrs(buf)
    expect([...m.keys()]).toEqual([1, 2, 3])
    expect(attrString(m.get(1))).toBe('abc')
    expect(m.get(2)).toEqual(Buffer.from([9])) // the value without its padding
    expect(parseAttrs(m.get(3)!).get(1)!.readUInt32BE(0)).toBe(5)
  })
  test('a repeated type: the last one wins', () => {
    expect(attrString(parseAttrs(Buffer.concat([strAttr(1, 'first'), strAttr(1, 'last')])).get(1))).toBe('last')
  })
  test('a truncated or malformed attribute ends the walk without reading past the buffer', () => {
    const good = strAttr(1, 'ok')
    const truncated = Buffer.from('2000020041', 'hex') // claims 32 bytes, has 5
    expect([...parseAttrs(Buffer.concat([good, truncated])).keys()]).toEqual([1])
    expect([...parseAttrs(Buffer.from('0200010000000000', 'hex')).keys()]).toEqual([]) // nla_len < 4
    expect([...parseAttrs(Buffer.from('0800', 'hex')).keys()]).toEqual([])
  })
  test('attrString stops at the first NUL, takes an unterminated value whole, and passes undefined through', () => {
    expect(attrString(Buffer.from('ab\0cd'))).toBe('ab')
    expect(attrString(Buffer.from('abc'))).toBe('abc')
    expect(attrString(undefined)).toBeUndefined()
  })
})
