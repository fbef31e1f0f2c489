import { checkUserId, parseUserId } from '../../lib/util/user-id'

test('ids are decimal digits in 0-2147483647, as Docker accepts', () => {
  for (const [text, id] of [['0', 0], ['1000', 1000], ['2147483647', 2147483647], ['007', 7]] as const) expect(parseUserId(text, 'uid')).toBe(id)
  for (const text of ['2147483648', '4294967295', '4294967296', '99999999999', '1'.repeat(400), '-1', '+1', '1e3', '0x10', ' 1', '', '1.0'])
    expect(() => parseUserId(text, 'the uid')).toThrow(expect.objectContaining({ code: 'EINVALID', message: expect.stringContaining('0-2147483647') }))
  for (const id of [-1, 1.5, 2 ** 31, 2 ** 32, NaN, Infinity, '1', null]) expect(() => checkUserId(id, 'chown.uid')).toThrow(expect.objectContaining({ code: 'EINVALID' }))
})
