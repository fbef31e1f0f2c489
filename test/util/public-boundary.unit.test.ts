/**
 * The boundary over what a call returns: an error a returned stream emits
 * (also one inside a resolved `{ stream }`), an async iterator's failing
 * `next()`, and getters; `this` and the function's name are kept. Pure logic
 * on a small class made for it (the walk over the real API is test/errors-boundary.test.ts).
 */
import { Readable } from 'node:stream'
import { MiniContainerError } from '../../lib'
import { guardClass, guardFunction } from '../../lib/util/public-boundary'

const raw = () => Object.assign(new Error('read failed'), { code: 'EIO', syscall: 'read' })

class Source {
  readonly label = 'source'
  stream(): Readable {
    return new Readable({
      read() {
        this.destroy(raw())
      },
    })
  }
  async archive(): Promise<{ stream: Readable; size: number }> {
    return { stream: this.stream(), size: 1 }
  }
  async *entries(): AsyncIterableIterator<string> {
    yield this.label
    throw new TypeError('broken entry')
  }
  get broken(): string {
    throw new RangeError('bad getter')
  }
  self(): this {
    return this
  }
}
guardClass(Source)

function streamError(stream: Readable): Promise<unknown> {
  return new Promise((resolve) => {
    stream.once('error', resolve)
    stream.resume()
  })
}

test('a returned stream emits coded errors (ESYSCALL with the errno), for-await rejects with them', async () => {
  const err = await streamError(new Source().stream())
  expect(err).toBeInstanceOf(MiniContainerError)
  expect(err).toMatchObject({ code: 'ESYSCALL', errno: 'EIO', cause: expect.objectContaining({ message: 'read failed' }) })
  const iterated = await (async () => {
    for await (const _ of new Source().stream()) void _
  })().catch((e) => e)
  expect(iterated).toMatchObject({ code: 'ESYSCALL' })
})

test('a stream inside a resolved result object is guarded too', async () => {
  const { stream } = await new Source().archive()
  expect(await streamError(stream)).toMatchObject({ code: 'ESYSCALL' })
})

test('an async iterator yields, then rejects with a coded error (EINTERNAL for a bug)', async () => {
  const it = new Source().entries()
  expect(await it.next()).toEqual({ value: 'source', done: false })
  const err = await it.next().catch((e) => e)
  expect(err).toBeInstanceOf(MiniContainerError)
  expect(err).toMatchObject({ code: 'EINTERNAL', message: expect.stringContaining('broken entry') })
})

test('getters, `this` and names', () => {
  const s = new Source()
  expect(() => s.broken).toThrow(MiniContainerError)
  expect(s.self()).toBe(s)
  expect(Source.prototype.self.name).toBe('self')
  const f = guardFunction(function named(this: unknown, a: number, b: number) {
    return [this, a + b]
  })
  expect(f.name).toBe('named')
  expect(f.length).toBe(2)
  expect(f.call(s, 1, 2)).toEqual([s, 3])
  expect(guardFunction(f)).toBe(f)
})
