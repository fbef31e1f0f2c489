/** The dependency graph: undefined dependencies, cycles, start order. */
import { checkGraph, findCycle, startOrder } from '../../lib/compose/graph'

const g = (o: Record<string, string[]>) => new Map(Object.entries(o))

test('a cycle is found and reported with its path', () => {
  expect(findCycle(g({ a: ['b'], b: ['c'], c: ['a'] }))).toEqual(['a', 'b', 'c', 'a'])
  expect(findCycle(g({ a: ['a'] }))).toEqual(['a', 'a'])
  expect(findCycle(g({ a: ['b', 'c'], b: ['c'], c: [] }))).toBeUndefined()
  expect(() => checkGraph(g({ a: ['b'], b: ['a'] }))).toThrow(expect.objectContaining({ code: 'EINVALID', message: expect.stringContaining('a -> b -> a') }))
})

test('a dependency on an undefined service is EINVALID with compose v2 wording', () => {
  expect(() => checkGraph(g({ a: ['nope'] }))).toThrow('service "a" depends on undefined service "nope"')
})

test('dependencies come first', () => {
  expect(startOrder(g({ api: ['db', 'migrate'], migrate: ['db'], db: [], cache: [] }))).toEqual(['db', 'migrate', 'api', 'cache'])
})
