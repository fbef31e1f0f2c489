/** Compose interpolation and the .env format, as compose-go reads them. */
import { interpolateString, interpolateTree, type Unset } from '../../lib/compose/interpolate'
import { parseEnvFile } from '../../lib/compose/env-file'

const vars = { SET: 'v', EMPTY: '' }
const i = (s: string) => interpolateString(s, vars, 'x')

test.each([
  ['${SET}', 'v'], ['$SET', 'v'], ['a-${SET}-b', 'a-v-b'], ['$$SET', '$SET'], ['$${SET}', '${SET}'], ['cost: 5$', 'cost: 5$'],
  ['${UNSET:-d}', 'd'], ['${EMPTY:-d}', 'd'], ['${EMPTY-d}', ''], ['${UNSET-d}', 'd'], ['${SET:-d}', 'v'],
  ['${SET:+x}', 'x'], ['${EMPTY:+x}', ''], ['${EMPTY+x}', 'x'], ['${UNSET+x}', ''],
  ['${UNSET:-${SET}}', 'v'], ['${UNSET:-a ${UNSET2:-b}}', 'a b'], ['${EMPTY?m}', ''],
])('%s -> %s', (input, out) => expect(i(input)).toBe(out))

test('required variables: :? for unset or empty, ? for unset only, with the message', () => {
  expect(() => i('${UNSET:?needs a value}')).toThrow(expect.objectContaining({ code: 'EINVALID', message: expect.stringContaining('UNSET is missing a value: needs a value') }))
  expect(() => i('${EMPTY:?m}')).toThrow(expect.objectContaining({ code: 'EINVALID' }))
  expect(() => i('${UNSET?m}')).toThrow(expect.objectContaining({ code: 'EINVALID' }))
})

test('malformed expressions are EINVALID', () => {
  for (const bad of ['${}', '${SET', '${1A}', '${SET%x}']) expect(() => i(bad)).toThrow(expect.objectContaining({ code: 'EINVALID' }))
})

test('a tree: values interpolated, keys not; unset variables recorded with their path; errors located', () => {
  const unset: Unset[] = []
  expect(interpolateTree({ s: { '${SET}': ['$SET', '$NOPE', 3] } }, vars, unset)).toEqual({ s: { '${SET}': ['v', '', 3] } })
  expect(unset).toEqual([{ name: 'NOPE', at: 's.${SET}[1]' }])
  expect(() => interpolateTree({ a: ['${X:?m}'] }, vars, [], () => 'f.yml:3:7')).toThrow(/^f\.yml:3:7: required variable X/)
})

test('.env: comments, export, quotes, inline comments, empty values', () => {
  expect(parseEnvFile('# c\nA=1\nexport B = two\nC="x y\\n"\nD=\'$lit\'\nE=v # note\nF=\nG\n', '.env')).toEqual({ A: '1', B: 'two', C: 'x y\n', D: '$lit', E: 'v', F: '' })
  expect(() => parseEnvFile('not a line', '.env')).toThrow(expect.objectContaining({ code: 'EINVALID', message: expect.stringContaining('.env:1') }))
})
