/**
 * The soak's verdict (bench/soak.js) is what makes `npm run soak` and its
 * smoke test fail: these cases show it fails on one extra fd, link or rule,
 * on data-heap growth beyond the bound and on cycles getting slower, and
 * not on growth of V8's code alone or on one window slowed by load beside;
 * and on the whole heap (code included) growing 0.25 KB a cycle or more
 * after cycle 2,000 (issue 20).
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
type Verdict = (points: Point[], bounds: { heapMiB: number; timeFactor: number; slopeFrom?: number; slopeKB?: number }) => string[]
type Slopes = { from: number; to: number; totalKB: number; dataKB: number; codeKB: number } | undefined
const { verdict, heapSlopes } = require('../../bench/soak.js') as { verdict: Verdict; heapSlopes: (points: Point[], from: number) => Slopes }

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

test('the whole heap growing over 0.25 KB a cycle after cycle 2,000 fails, code included; before it, or under the bound, does not', () => {
  const slopeBounds = { heapMiB: 100, timeFactor: 2, slopeFrom: 2000, slopeKB: 0.25 }
  // +1 MiB of code over 4,000 cycles: 0.256 KB a cycle, with the data heap flat.
  const codeGrows = [1000, 2000, 4000, 6000].map((c) => point(c, { heapMiB: 13 + (c - 2000) / 4000, codeMiB: 2.5 + (c - 2000) / 4000 }))
  expect(heapSlopes(codeGrows, 2000)).toEqual({ from: 2000, to: 6000, totalKB: expect.closeTo(0.256, 5), dataKB: 0, codeKB: expect.closeTo(0.256, 5) })
  expect(verdict(codeGrows, slopeBounds)).toEqual([expect.stringMatching(/^heap after GC grew 0\.256 KB per cycle over cycles 2000-6000/)])
  // Warm-up growth before cycle 2,000 is not counted; +0.5 MiB over 4,000 cycles (0.128 KB a cycle) holds.
  const levels = [point(1000, { heapMiB: 10 }), ...[2000, 4000, 6000].map((c) => point(c, { heapMiB: 13 + (c - 2000) / 8000 }))]
  expect(heapSlopes(levels, 2000)?.totalKB).toBeCloseTo(0.128, 5)
  expect(verdict(levels, slopeBounds)).toEqual([])
  expect(heapSlopes([point(1000), point(2000)], 2000)).toBeUndefined()
})
