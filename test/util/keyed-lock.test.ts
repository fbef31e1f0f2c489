/**
 * KeyedLock across lock holders that share only the directory (two instances
 * stand for two processes: each opens its own file description, so only the
 * kernel's lock keeps them apart; one test uses a real second process): one
 * key is held by one at a time, different keys do not wait for each other, a
 * lock makes no file of its own (one shared file carries every key's), and a
 * killed holder's lock is free at once.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { KeyedLock } from '../../lib/util/keyed-lock'
import { spawnNode } from '../tools/node-child'

let dir: string
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-keyed-lock-'))))
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

test('holders of one key in separate instances run one at a time, and the only file left is the shared one', async () => {
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
  await Promise.all(['b', 'c', 'd'].map((k) => holders[0].with(k, async () => {})))
  expect(fs.readdirSync(dir)).toEqual(['.keyed-locks'])
})

test('different keys do not wait for each other', async () => {
  const [a, b] = [new KeyedLock(dir), new KeyedLock(dir)]
  const release = await a.acquire('one')
  let ran = false
  await b.with('two', async () => {
    ran = true
  })
  expect(ran).toBe(true)
  release()
})

test("another process's hold of a key keeps this one waiting until it lets go, and a killed holder's lock is free at once", async () => {
  const child = spawnNode(
    `const { KeyedLock } = lib('util/keyed-lock')
    new KeyedLock(${JSON.stringify(dir)}).acquire('k').then(() => console.log('held'))
    setInterval(() => {}, 1000)`,
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve())
      child.once('exit', (code) => reject(new Error(`the holder exited (${code}) before it held the lock`)))
    })
    const lock = new KeyedLock(dir)
    let got = false
    const waiting = lock.with('k', async () => {
      got = true
    })
    // Any other key is free meanwhile.
    await lock.with('other', async () => {})
    await sleep(200)
    expect(got).toBe(false)
    child.kill('SIGKILL')
    await waiting
    expect(got).toBe(true)
  } finally {
    child.kill('SIGKILL')
  }
})

test('a lock file of one key left by an older version is left alone and does not hold its key', async () => {
  fs.writeFileSync(path.join(dir, 'k'), '')
  const lock = new KeyedLock(dir)
  let ran = false
  await lock.with('k', async () => {
    ran = true
  })
  expect(ran).toBe(true)
})

test('existing: the key names a file that exists (flock), which is kept; a missing one fails ENOENT', async () => {
  fs.writeFileSync(path.join(dir, 'layer-a'), '')
  const [a, b] = [new KeyedLock(dir, { existing: true }), new KeyedLock(dir, { existing: true })]
  const release = await a.acquire('layer-a')
  let got = false
  const waiting = b.with('layer-a', async () => {
    got = true
  })
  await sleep(100)
  expect(got).toBe(false)
  release()
  await waiting
  expect(got).toBe(true)
  expect(fs.readdirSync(dir)).toEqual(['layer-a'])
  await expect(b.with('gone', async () => {})).rejects.toMatchObject({ code: 'ENOENT' })
})
