/**
 * KeyedLock across lock holders that share only the directory (two instances
 * stand for two processes: each opens its own file description, so only the
 * flock keeps them apart): one key is held by one at a time, different keys
 * do not wait for each other, and no lock file is left once every holder is
 * done and its removal settled, including one whose waiter had the file
 * unlinked under it.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { KeyedLock } from '../../lib/util/keyed-lock'

let dir: string
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-keyed-lock-'))))
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

test('holders of one key in separate instances run one at a time, and no lock file is left afterwards', async () => {
  const holders = Array.from({ length: 4 }, () => new KeyedLock(dir))
  let inside = 0
  let most = 0
  const order: number[] = []
  await Promise.all(
    holders.flatMap((lock, i) =>
      [0, 1, 2].map(() =>
        lock.with('step-a', async () => {
          most = Math.max(most, ++inside)
          await sleep(5)
          order.push(i)
          inside--
        }),
      ),
    ),
  )
  expect({ most, ran: order.length }).toEqual({ most: 1, ran: 12 })
  await Promise.all(holders.map((h) => h.settled()))
  expect(fs.readdirSync(dir)).toEqual([])
})

test('a waiter whose lock file the holder removed starts over on a new file: never two holders at once', async () => {
  const [a, b, c] = [new KeyedLock(dir), new KeyedLock(dir), new KeyedLock(dir)]
  const release = await a.acquire('k')
  // b opens the file a holds and waits on its flock; a unlinks it on release, so b's lock is on a dead inode.
  let bInside = false
  const bDone = b.with('k', async () => {
    bInside = true
    await sleep(50)
    bInside = false
  })
  await sleep(20)
  release()
  // c comes once b holds the key, after the unlink, and makes a new file: it must still wait for b, which must have moved to that file.
  while (!bInside) await sleep(1)
  let overlapped = false
  await c.with('k', async () => {
    overlapped = bInside
  })
  await bDone
  expect(overlapped).toBe(false)
  await Promise.all([a, b, c].map((h) => h.settled()))
  expect(fs.readdirSync(dir)).toEqual([])
})

test('different keys do not wait for each other', async () => {
  const [a, b] = [new KeyedLock(dir), new KeyedLock(dir)]
  const release = await a.acquire('one')
  const t0 = Date.now()
  await b.with('two', async () => {})
  expect(Date.now() - t0).toBeLessThan(1000)
  release()
  await sleep(0)
})

test('a lock file left by a killed holder is taken over, and removed by the next holder', async () => {
  fs.writeFileSync(path.join(dir, 'k'), '')
  const lock = new KeyedLock(dir)
  await lock.with('k', async () => {})
  await lock.settled()
  expect(fs.readdirSync(dir)).toEqual([])
})
