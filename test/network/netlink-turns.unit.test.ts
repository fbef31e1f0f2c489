/**
 * The turns of a shared netlink socket with a bound on each answer
 * (lib/network/netlink-turns.ts): pure turn-taking logic, the answers
 * stood in for by promises, or by a real pipe where the event loop's
 * phases matter.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { NetlinkTurns, type ReplyBound } from '../../lib/network/netlink-turns'

const bound: ReplyBound = {
  ms: 50,
  late: (what, spentBy) => new Error(spentBy ? `${what}: not sent (${spentBy})` : `${what}: late`),
}

const never = () => new Promise<never>(() => undefined)
const outcome = (p: Promise<unknown>) => p.then((v) => ({ value: v }), (err: Error) => ({ error: err.message }))

test('an answer that never comes ends its turn at the bound naming it; the callers queued behind and later ones are refused at once, naming it', async () => {
  const turns = new NetlinkTurns(bound)
  const t0 = Date.now()
  const lost = outcome(turns.request('find link x', never))
  const answered = outcome(turns.request('find link y', async () => 'y'))
  const queued = outcome(turns.dump('list links', async () => 'listed'))
  expect(await answered).toEqual({ value: 'y' })
  expect(turns.spent).toBe(false)
  expect(await lost).toEqual({ error: 'find link x: late' })
  expect(Date.now() - t0).toBeGreaterThanOrEqual(45)
  expect(turns.spent).toBe(true)
  expect(await queued).toEqual({ error: 'list links: not sent (find link x got no answer)' })
  expect(await outcome(turns.request('set link up', async () => 'up'))).toEqual({ error: 'set link up: not sent (find link x got no answer)' })
})

test('a dump that never ends frees the socket at the bound instead of holding every later caller', async () => {
  const turns = new NetlinkTurns(bound)
  const dump = outcome(turns.dump('list links', never))
  const behind = Array.from({ length: 10 }, (_, i) => outcome(turns.request(`delete link ${i}`, async () => i)))
  expect(await dump).toEqual({ error: 'list links: late' })
  for (const [i, r] of (await Promise.all(behind)).entries()) expect(r).toEqual({ error: `delete link ${i}: not sent (list links got no answer)` })
})

test('without a bound a turn waits as long as its answer takes', async () => {
  const turns = new NetlinkTurns()
  const slow = turns.request('slow', () => new Promise((r) => setTimeout(() => r('done'), 120)))
  expect(await slow).toBe('done')
  expect(turns.spent).toBe(false)
})

test('an answer that arrived while the event loop was blocked past the bound is read first and wins', async () => {
  // The kernel answers while the loop is busy; once free, the loop runs its timers (the bound is past)
  // before it polls the socket. The bound yields to that poll before failing the turn.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-turns-'))
  const written = path.join(dir, 'written')
  try {
    const turns = new NetlinkTurns(bound)
    let peer: ChildProcess | undefined
    const answer = turns.request('echo', () => {
      // The peer answers on a pipe, then says so in a file the blocked loop can see.
      peer = spawn('sh', ['-c', `printf pong; : > ${written}`], { stdio: ['ignore', 'pipe', 'inherit'] })
      return new Promise<string>((resolve) => peer!.stdout!.once('data', (d) => resolve(String(d))))
    })
    // Blocked in the check phase (a setImmediate), the loop's next phase is the timers', then the poll's.
    await new Promise<void>((blocked) =>
      setImmediate(() => {
        const t0 = Date.now()
        while (!fs.existsSync(written) || Date.now() - t0 < 2 * bound.ms) {
          /* the event loop is blocked, as by a long synchronous step, until the answer waits in the pipe */
        }
        blocked()
      }),
    )
    expect(await outcome(answer)).toEqual({ value: 'pong' })
    expect(turns.spent).toBe(false)
    await new Promise((r) => (peer!.exitCode !== null ? r(null) : peer!.once('exit', r)))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('whenDrained runs at once on idle turns, else once every turn under way has ended (an answered one, and a late one at its bound)', async () => {
  const turns = new NetlinkTurns(bound)
  let drained = 0
  turns.whenDrained(() => drained++)
  expect(drained).toBe(1)
  let answer!: (v: string) => void
  const answered = turns.request('find link y', () => new Promise<string>((r) => (answer = r)))
  const lost = outcome(turns.request('find link x', never))
  turns.whenDrained(() => drained++)
  answer('y')
  expect(await answered).toBe('y')
  expect(drained).toBe(1) // the lost one is still under way
  expect(await lost).toEqual({ error: 'find link x: late' })
  expect(drained).toBe(2)
})
