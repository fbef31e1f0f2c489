/**
 * The collection of dead owners' groups at a runtime's start (lib/container/owned-groups.ts), over a
 * runtime's networks and volumes as plain lists: what goes, what stays with its record, and that the
 * lists are read once for all the dead groups (ready()'s path), not again per group.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { collectDeadOwnedGroups, recordOwnedGroup, type GroupNetworks, type GroupVolumes } from '../../lib/container/owned-groups'
import type { NetworkInfo } from '../../lib/network/types'

const label = 'com.docker.compose.project'
const deadOwner = { pid: 2 ** 31 - 1, start: '1' } // above any pid_max: no such process

let root: string
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-groups-'))
})
afterEach(() => fs.rmSync(root, { recursive: true, force: true }))

/** A group's record as a process that died wrote it. */
function recordDead(value: string): void {
  recordOwnedGroup(root, { label, value })
  const file = path.join(root, 'network-groups', `${value}.json`)
  fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), owner: deadOwner }))
}

function recorded(): string[] {
  return fs.readdirSync(path.join(root, 'network-groups')).sort()
}

/** Networks and volumes as lists, counting the listings; `used` ones have a container. */
function fakeRuntime(nets: { name: string; group: string; used?: boolean }[], vols: { name: string; group: string; used?: boolean }[]) {
  const calls = { networkLists: 0, volumeLists: 0 }
  const networks: GroupNetworks = {
    list: async () => {
      calls.networkLists++
      return nets.map((n) => ({ name: n.name, labels: { [label]: n.group }, containers: n.used ? { c: {} } : {} }) as unknown as NetworkInfo)
    },
    remove: async (name) => void nets.splice(nets.findIndex((n) => n.name === name), 1),
  }
  const volumes: GroupVolumes = {
    list: async () => {
      calls.volumeLists++
      return vols.map((v) => ({ name: v.name, labels: { [label]: v.group } }))
    },
    prune: async ({ selected }) => {
      const gone = vols.filter((v) => !v.used && selected({ labels: { [label]: v.group } })).map((v) => v.name)
      vols.splice(0, vols.length, ...vols.filter((v) => !gone.includes(v.name)))
      return gone
    },
  }
  return { networks, volumes, nets, vols, calls }
}

test("dead owners' groups lose their unused networks and volumes, keep what a container uses with their record; a live owner's group is untouched; each list is read once", async () => {
  for (const g of ['a', 'b', 'c']) recordDead(g)
  recordOwnedGroup(root, { label, value: 'live' }) // this process
  const rt = fakeRuntime(
    [
      { name: 'a_free', group: 'a' },
      { name: 'a_used', group: 'a', used: true },
      { name: 'b_free', group: 'b' },
      { name: 'live_free', group: 'live' },
    ],
    [
      { name: 'a_vol', group: 'a' },
      { name: 'b_vol', group: 'b', used: true },
      { name: 'c_vol', group: 'c' },
      { name: 'live_vol', group: 'live' },
    ],
  )
  await collectDeadOwnedGroups(root, rt.networks, rt.volumes)
  expect(rt.nets.map((n) => n.name)).toEqual(['a_used', 'live_free'])
  expect(rt.vols.map((v) => v.name)).toEqual(['b_vol', 'live_vol'])
  expect(recorded()).toEqual(['a.json', 'b.json', 'live.json'])
  expect(rt.calls).toEqual({ networkLists: 1, volumeLists: 1 })
})

test('a network whose removal fails stays, and so does its record; with nothing recorded nothing is listed', async () => {
  recordDead('a')
  const rt = fakeRuntime([{ name: 'a_free', group: 'a' }], [])
  const remove = rt.networks.remove
  rt.networks.remove = async () => {
    throw new Error('busy')
  }
  await collectDeadOwnedGroups(root, rt.networks, rt.volumes)
  expect(recorded()).toEqual(['a.json'])
  rt.networks.remove = remove
  await collectDeadOwnedGroups(root, rt.networks, rt.volumes)
  expect(recorded()).toEqual([])

  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-groups-'))
  const none = fakeRuntime([], [])
  await collectDeadOwnedGroups(empty, none.networks, none.volumes)
  fs.rmSync(empty, { recursive: true })
  expect(none.calls).toEqual({ networkLists: 0, volumeLists: 0 })
})
