/**
 * The soak's verdict (bench/soak.js) is what makes `npm run soak` and its
 * smoke test fail: these cases show it fails on one extra fd, link or rule,
 * on data-heap growth beyond the bound and on cycles getting slower, and
 * not on growth of V8's code alone or on one window slowed by load beside.
 */
interface Point {
  cycle: number
  heapMiB: number
  codeMiB: number
  dataMiB: number
  fds: number
  links: number
  rules: number
  p50Ms: number
}
type Verdict = (points: Point[], bounds: { heapMiB: number; timeFactor: number }) => string[]
const { verdict } = require('../../bench/soak.js') as { verdict: Verdict }

const bounds = { heapMiB: 1, timeFactor: 2 }
const point = (cycle: number, over: Partial<Point> = {}): Point => ({ cycle, heapMiB: 13, codeMiB: 2.5, dataMiB: 10.5, fds: 25, links: 1, rules: 4, p50Ms: 100, ...over })

test('flat figures hold', () => {
  expect(verdict([point(1000), point(2000, { dataMiB: 11.4, p50Ms: 290 }), point(3000)], bounds)).toEqual([])
})

test.each(['fds', 'links', 'rules'] as const)('one more %s at the last checkpoint fails', (key) => {
  const last = point(3000)
  last[key] += 1
  const failures = verdict([point(1000), point(2000), last], bounds)
  expect(failures).toHaveLength(1)
  expect(failures[0]).toMatch(new RegExp(`^${key} not flat`))
})

test('data heap growth beyond the bound fails; code growth alone does not', () => {
  expect(verdict([point(1000), point(2000, { dataMiB: 11.6, heapMiB: 14.1 })], bounds)).toEqual([expect.stringMatching(/^data heap after GC grew 1\.10 MiB/)])
  expect(verdict([point(1000), point(2000, { codeMiB: 4, heapMiB: 14.5 })], bounds)).toEqual([])
})

test('cycles slower beyond the factor fail; one slow window (load beside) does not', () => {
  expect(verdict([point(1000), point(2000, { p50Ms: 201 })], bounds)).toEqual([expect.stringMatching(/^p50 cycle time grew/)])
  expect(verdict([point(1000), point(2000), point(3000, { p50Ms: 201 }), point(4000, { p50Ms: 205 })], bounds)).toEqual([expect.stringMatching(/^p50 cycle time grew/)])
  expect(verdict([point(1000, { p50Ms: 70 }), point(2000, { p50Ms: 290 }), point(3000, { p50Ms: 290 }), point(4000, { p50Ms: 130 })], bounds)).toEqual([])
})
