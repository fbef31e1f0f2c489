// Names as bytes in strings (surrogateescape): every byte string survives decode/encode, UTF-8 is untouched.
import * as crypto from 'node:crypto'
import { cName, decodeName, encodeName, hasRawBytes } from '../../lib/sys/byte-names'

test('valid UTF-8 decodes to itself and has no raw bytes', () => {
  for (const s of ['plain', 'h\u00e9llo', '\u65e5\u672c', '\u{1f600}', '\ufffd', '']) {
    expect(decodeName(Buffer.from(s))).toBe(s)
    expect(hasRawBytes(s)).toBe(false)
    expect(cName(s)).toBe(s)
  }
})

test('any bytes survive decode then encode; invalid ones are escaped one by one', () => {
  expect(decodeName(Buffer.from([0xff, 0xfe]))).toBe('\udcff\udcfe')
  expect(decodeName(Buffer.from([0x61, 0xc3, 0xa9, 0xe9, 0x62]))).toBe('a\u00e9\udce9b')
  expect(decodeName(Buffer.from([0xed, 0xb2, 0x80]))).toBe('\udced\udcb2\udc80') // an encoded surrogate is not UTF-8
  for (let i = 0; i < 2000; i++) {
    const bytes = crypto.randomBytes(1 + (i % 24))
    expect(encodeName(decodeName(bytes))).toEqual(bytes)
  }
  expect(cName('\udcff\udcfe')).toEqual(Buffer.from([0xff, 0xfe, 0]))
  expect(encodeName('\ud83d\ude00')).toEqual(Buffer.from('\u{1f600}')) // a valid pair is not an escape
})
