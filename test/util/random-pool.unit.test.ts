// Ids and names drawn from the pooled random bytes (lib/util/random-pool.ts): the right shape, and
// never the same bytes twice, across many refills of the pool.
import { randomByte, randomHex } from '../../lib/util/random-pool'
import { generateName, newId, validName } from '../../lib/util/ids'

test('ids are 64 hex digits, all different across pool refills (4 KiB: 128 ids each)', () => {
  const ids = Array.from({ length: 2000 }, () => newId())
  for (const id of ids) expect(id).toMatch(/^[0-9a-f]{64}$/)
  expect(new Set(ids).size).toBe(ids.length)
})

test('sizes that do not divide the pool are whole and fresh at the refill', () => {
  const seen = new Set<string>()
  for (let i = 0; i < 1000; i++) {
    const hex = randomHex(27)
    expect(hex).toMatch(/^[0-9a-f]{54}$/)
    seen.add(hex)
  }
  expect(seen.size).toBe(1000)
})

test('bytes spread over 0-255; generated names are valid container names', () => {
  const counts = new Array(256).fill(0)
  for (let i = 0; i < 256 * 200; i++) counts[randomByte()]++
  // 200 expected per value: a stuck or biased source falls far outside.
  expect(Math.min(...counts)).toBeGreaterThan(100)
  expect(Math.max(...counts)).toBeLessThan(320)
  for (let i = 0; i < 200; i++) expect(generateName()).toMatch(validName)
  expect(generateName()).toMatch(/^[a-z]+_[a-z]+_[0-9a-f]{4}$/)
})
