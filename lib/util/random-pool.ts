/**
 * Random bytes for ids and names, drawn from a pool filled a few kilobytes
 * at a time: `crypto.randomBytes` costs 15-20 µs a call in Node 20 whatever
 * the size (a create drew four: its id and its name), a slice of the pool
 * under 1 µs. The same CSPRNG fills it (`randomFillSync`); bytes handed out
 * are never handed out again.
 *
 * @module
 */
import { randomFillSync } from 'node:crypto'

const pool = Buffer.alloc(4096)
/** The next unused byte of {@link pool}; at its length, the pool is spent. */
let next = pool.length

/** `n` (at most the pool's size) fresh random bytes, as a view of the pool: read them before the next call. */
function take(n: number): Buffer {
  if (next + n > pool.length) {
    randomFillSync(pool)
    next = 0
  }
  next += n
  return pool.subarray(next - n, next)
}

/** `n` random bytes as 2n hex digits. */
export function randomHex(n: number): string {
  return take(n).toString('hex')
}

/** A random integer from 0 to 255. */
export function randomByte(): number {
  return take(1)[0]!
}
