/**
 * Two processes on one store racing for one container name: a stale name
 * (its owner's directory gone, its file older than the grace) claimed by
 * both at the same instant, and a removal's release of a name racing a
 * claim of it. Each round both children are released at the same wall-clock
 * microsecond (a busy wait), a little apart from round to round.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as readline from 'node:readline'
import { type ChildProcess } from 'node:child_process'
import { holdFileLock } from '../tools/flock-holder'
import { spawnNode } from '../tools/node-child'

jest.setTimeout(120_000)

const rounds = 60

/** A child holding a ContainerStore at `root`: each stdin line `{ at, op, names, id, ids }` is done (a delete: of the container `ids[i]` named `names[i]`) at `at` (ms, wall clock), name by name. */
const racerScript = `
  const { ContainerStore } = lib('container/store')
  const store = new ContainerStore(process.argv[1])
  const rl = require('node:readline').createInterface({ input: process.stdin })
  rl.on('line', (line) => {
    const { at, op, names, id, ids } = JSON.parse(line)
    while (performance.timeOrigin + performance.now() < at) {}
    const out = names.map((name, i) => {
      try {
        if (op === 'claim') store.reserveName(name, id)
        else store.delete(ids[i], name)
        return 'done'
      } catch (err) {
        return err.code || String(err)
      }
    })
    process.stdout.write(JSON.stringify(out) + '\\n')
  })
  process.stdout.write('["ready"]\\n')`

interface Racer {
  child: ChildProcess
  next(): Promise<string[]>
}

function startRacer(root: string): Racer {
  const child = spawnNode(racerScript, { stdio: ['pipe', 'pipe', 'inherit'] }, [root])
  const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  return {
    child,
    async next() {
      const { value, done } = await lines.next()
      if (done) throw new Error(`racer ${child.pid} ended`)
      return JSON.parse(value) as string[]
    },
  }
}

let root: string
let racers: Racer[]
const ids = ['a'.repeat(64), 'b'.repeat(64)]

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-name-races-'))
  racers = [startRacer(root), startRacer(root)]
  for (const r of racers) expect(await r.next()).toEqual(['ready'])
})

afterAll(async () => {
  for (const r of racers) {
    r.child.stdin!.end()
    if (r.child.exitCode === null) await new Promise((resolve) => r.child.once('exit', resolve))
  }
  fs.rmSync(root, { recursive: true, force: true })
})

/** Both racers start their ops at the same instant (`skewUs` later for the second); their answers, name by name. */
async function race(ops: { op: 'claim' | 'delete'; names: string[]; id: string; ids?: string[] }[], skewUs: number): Promise<string[][]> {
  const at = Date.now() + 60
  ops.forEach((op, i) => racers[i].child.stdin!.write(JSON.stringify({ ...op, at: at + (i ? skewUs / 1000 : 0) }) + '\n'))
  return Promise.all(ops.map((_, i) => racers[i].next()))
}

const nameFile = (name: string) => path.join(root, 'names', name)

/** Leaves `name` owned by `owner` since 20 s ago (past the 10 s grace). */
function oldName(name: string, owner: string): void {
  fs.writeFileSync(nameFile(name), owner)
  const past = new Date(Date.now() - 20_000)
  fs.utimesSync(nameFile(name), past, past)
}

test(`two processes claiming stale names at once: each goes to exactly one, the other gets ENAMECONFLICT (${rounds} rounds)`, async () => {
  // One claims the round's names in order, the other in reverse: wherever each is, they cross on one name.
  const perRound = 64
  const wrong: string[] = []
  for (let round = 0; round < rounds; round++) {
    const names = Array.from({ length: perRound }, (_, i) => `stale-${round}-${i}`)
    for (const name of names) oldName(name, 'd'.repeat(64)) // creates that crashed before making their directory
    const [up, down] = await race([{ op: 'claim', names, id: ids[0] }, { op: 'claim', names: [...names].reverse(), id: ids[1] }], (round % 6) * 20)
    names.forEach((name, i) => {
      const answers = [up[i], down[perRound - 1 - i]]
      const winner = answers.indexOf('done')
      const owner = fs.readFileSync(nameFile(name), 'utf8')
      // Every name is checked before the verdict: a failure says how many went wrong.
      if (answers[1 - winner] !== 'ENAMECONFLICT' || owner !== ids[winner]) wrong.push(`${name}: ${answers.join(' ')}, owner ${owner.slice(0, 4)}`)
    })
  }
  expect(wrong).toEqual([])
})

test(`removals racing claims of their names: a name is its claimer's when the claim succeeds, else free (${rounds} rounds)`, async () => {
  // One removes the round's containers in order while the other claims their names in reverse: they cross on one.
  const perRound = 32
  const wrong: string[] = []
  for (let round = 0; round < rounds; round++) {
    const names = Array.from({ length: perRound }, (_, i) => `removed-${round}-${i}`)
    const old = names.map((_, i) => `${round.toString(16).padStart(2, '0')}${i.toString(16).padStart(2, '0')}${'c'.repeat(60)}`)
    names.forEach((name, i) => {
      fs.mkdirSync(path.join(root, 'containers', old[i]))
      oldName(name, old[i]) // containers made over 10 s ago, being removed
    })
    const [removed, claimed] = await race(
      [
        { op: 'delete', names, id: '', ids: old },
        { op: 'claim', names: [...names].reverse(), id: ids[1] },
      ],
      (round % 10) * 15,
    )
    names.forEach((name, i) => {
      const claim = claimed[perRound - 1 - i]
      const owner = fs.existsSync(nameFile(name)) ? fs.readFileSync(nameFile(name), 'utf8') : 'none'
      // The claim either took the name (and keeps it) or met the container still there (and the removal freed it).
      const expected = claim === 'done' ? ids[1] : 'none'
      if (removed[i] !== 'done' || !['done', 'ENAMECONFLICT'].includes(claim) || owner !== expected) wrong.push(`${name}: ${removed[i]} ${claim}, owner ${owner.slice(0, 4)}`)
    })
  }
  expect(wrong).toEqual([])
})

test("a claim of a stale name gives up with ESYSCALL when another process holds the names' lock for 5 s, instead of blocking forever", async () => {
  const held = await holdFileLock(path.join(root, 'names', '.lock'))
  try {
    oldName('held-stale', 'd'.repeat(64))
    const [answer] = await race([{ op: 'claim', names: ['held-stale'], id: ids[0] }], 0)
    expect(answer).toEqual(['ESYSCALL'])
    expect(fs.readFileSync(nameFile('held-stale'), 'utf8')).toBe('d'.repeat(64)) // left as it was
  } finally {
    await held.release()
  }
  // Once the holder is gone the claim goes through.
  const [answer] = await race([{ op: 'claim', names: ['held-stale'], id: ids[0] }], 0)
  expect(answer).toEqual(['done'])
})

test("a removal whose name's release meets the names' lock held for 5 s says so (ESYSCALL) once the container is gone; a second removal frees the name", async () => {
  const id = 'e'.repeat(64)
  fs.mkdirSync(path.join(root, 'containers', id))
  fs.writeFileSync(nameFile('held-release'), id)
  const held = await holdFileLock(path.join(root, 'names', '.lock'))
  try {
    const [answer] = await race([{ op: 'delete', names: ['held-release'], id: '', ids: [id] }], 0)
    expect(answer).toEqual(['ESYSCALL'])
    expect(fs.existsSync(path.join(root, 'containers', id))).toBe(false) // the container is gone all the same
    expect(fs.readFileSync(nameFile('held-release'), 'utf8')).toBe(id) // its name is not: the caller was told
  } finally {
    await held.release()
  }
  const [again] = await race([{ op: 'delete', names: ['held-release'], id: '', ids: [id] }], 0)
  expect(again).toEqual(['done'])
  expect(fs.existsSync(nameFile('held-release'))).toBe(false)
})

/**
 * A child claiming `name` for `id` that stops itself (SIGSTOP) at one step of its claim, saying `stopped`
 * first: 'created' (its name file made, nothing more), 'write' (about to write its id in it), or 'rename'
 * (a stale name's takeover, about to replace the name's file). Prints the claim's answer once continued.
 */
const stoppingClaimerScript = `
  const fs = require('node:fs')
  const { ContainerStore } = lib('container/store')
  const [root, name, id, at] = process.argv.slice(1)
  const store = new ContainerStore(root)
  const stopHere = () => { fs.writeSync(1, 'stopped\\n'); process.kill(process.pid, 'SIGSTOP') }
  const original = { openSync: fs.openSync, writeSync: fs.writeSync, renameSync: fs.renameSync }
  if (at === 'created') fs.openSync = (file, flags, ...rest) => { const fd = original.openSync(file, flags, ...rest); if (flags === 'wx' && String(file).endsWith('/' + name)) stopHere(); return fd }
  if (at === 'write') fs.writeSync = (fd, data, ...rest) => { if (data === id) stopHere(); return original.writeSync(fd, data, ...rest) }
  if (at === 'rename') fs.renameSync = (from, to) => { if (String(from).includes('.claim-')) stopHere(); return original.renameSync(from, to) }
  let answer
  try { store.reserveName(name, id); answer = 'done' } catch (err) { answer = err.code || String(err) }
  fs.writeSync(1, answer + '\\n')`

/** A stopping claimer's child and its output lines, in order. */
function startStoppingClaimer(name: string, id: string, at: 'created' | 'write' | 'rename') {
  const child = spawnNode(stoppingClaimerScript, { stdio: ['ignore', 'pipe', 'inherit'] }, [root, name, id, at])
  const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  const next = async () => {
    let timer: NodeJS.Timeout | undefined
    // A watchdog, not a timing: a claimer that says nothing for this long is stuck, and the failure says where.
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`claimer ${at} ${child.pid} said nothing for 30 s: ${fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(' ')[2]} ${fs.readFileSync(`/proc/${child.pid}/wchan`, 'utf8')}`)), 30_000)
    })
    try {
      const { value, done } = await Promise.race([lines.next(), stuck])
      if (done) throw new Error(`claimer ${child.pid} ended`)
      return value as string
    } finally {
      clearTimeout(timer)
    }
  }
  const ended = new Promise((resolve) => child.once('exit', resolve))
  /** Continues it once stopped: its 'stopped' is written just before its SIGSTOP, which a SIGCONT must not precede. */
  const proceed = async () => {
    while (fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(' ')[2] !== 'T') await new Promise((r) => setTimeout(r, 5))
    process.kill(child.pid!, 'SIGCONT')
  }
  return { child, next, ended, proceed }
}

test.each(['created', 'write'] as const)(
  "a claimer stopped past the 2 s grace (at '%s' of a fresh claim) while a takeover checks its file stale, then continued before the takeover's rename: one of the two gets the name",
  async (at) => {
    const name = `stopped-claimer-${at}`
    const first = startStoppingClaimer(name, ids[0], at)
    let second: ReturnType<typeof startStoppingClaimer> | undefined
    try {
      expect(await first.next()).toBe('stopped') // its file made, still empty
      const past = new Date(Date.now() - 5_000) // past the 2 s an unwritten name's file is taken
      fs.utimesSync(nameFile(name), past, past)
      second = startStoppingClaimer(name, ids[1], 'rename')
      // The second found the file unwritten and stale: it either stops before its rename, or has its answer.
      const secondFirstLine = await second.next()
      await first.proceed()
      const firstAnswer = await first.next()
      let secondAnswer = secondFirstLine
      if (secondFirstLine === 'stopped') {
        await second.proceed()
        secondAnswer = await second.next()
      }
      const answers = [firstAnswer, secondAnswer]
      expect(answers.filter((a) => a === 'done')).toHaveLength(1)
      expect(answers.filter((a) => a === 'ENAMECONFLICT')).toHaveLength(1)
      expect(fs.readFileSync(nameFile(name), 'utf8')).toBe(ids[answers.indexOf('done')])
    } finally {
      for (const c of [first, second]) if (c && c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL')
      await Promise.all([first.ended, second?.ended])
    }
  },
)
