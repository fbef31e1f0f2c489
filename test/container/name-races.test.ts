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
