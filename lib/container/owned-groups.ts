/**
 * Networks and volumes a process made for a group of its containers (a
 * compose project: those carrying the group's label), recorded on the
 * runtime root (`network-groups/<group>.json`: the owning process), so that a
 * group whose owner died (SIGKILL, Ctrl-C of a jest worker) leaves nothing
 * after the next runtime start, as its disposal (`down({ volumes: true })`)
 * would have, and as testcontainers' reaper does. The group's containers go
 * with the containers' recovery (owned containers of a dead owner, with
 * their anonymous volumes); this removes the networks and volumes left
 * unused, then the record, once nothing of the group is left (a container
 * still running keeps what it uses, and the record, for a later start). A group shared on purpose (compose's `reuse`) is
 * never recorded. The layer above (lib/compose) says which label makes the
 * group; the runtime's start only collects, knowing nothing of compose.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { livesOn, thisProcess } from './liveness'
import type { ProcessIdentity } from './types'
import type { NetworkInfo } from '../network/types'
import { debug } from '../util/debug'
import { readJson, writeJson } from '../util/json-file'

/** A group of networks and volumes: those whose label `label` has the value `value`. */
export interface OwnedGroup {
  /** The label's key, e.g. com.docker.compose.project. */
  label: string
  /** Its value, e.g. the project's name (also the record's file name). */
  value: string
}

/** What is kept per group. */
interface GroupRecord extends OwnedGroup {
  owner: ProcessIdentity
}

/** The networks of a runtime, as the collection needs them. */
export interface GroupNetworks {
  /** Every network, with its labels and attached containers. */
  list(): Promise<NetworkInfo[]>
  /** Removes one by name. */
  remove(name: string): Promise<void>
}

/** A network's or volume's labels, by which it belongs to a group. */
interface Labelled {
  labels: Record<string, string>
}

/** The volumes of a runtime, as the collection needs them. */
export interface GroupVolumes {
  /** Every volume, with its name and labels. */
  list(): Promise<{ name: string; labels: Record<string, string> }[]>
  /** Removes the volumes no container references that `selected` accepts; returns their names. */
  prune(opts: { selected: (volume: Labelled) => boolean }): Promise<string[]>
}

function recordDir(root: string): string {
  return path.join(root, 'network-groups')
}

function recordFile(root: string, group: OwnedGroup): string {
  return path.join(recordDir(root), `${group.value}.json`)
}

/** Notes that this process owns the group (before it makes anything, so that a kill mid-way is covered too). */
export function recordOwnedGroup(root: string, group: OwnedGroup): void {
  fs.mkdirSync(recordDir(root), { recursive: true })
  writeJson(recordFile(root, group), { label: group.label, value: group.value, owner: thisProcess() } satisfies GroupRecord)
}

/** Forgets the group's record (it was taken down). */
export function forgetOwnedGroup(root: string, group: OwnedGroup): void {
  fs.rmSync(recordFile(root, group), { force: true })
}

/** Whether a network or volume carries the group's label. */
function inGroup(group: OwnedGroup): (x: Labelled) => boolean {
  return (x) => x.labels[group.label] === group.value
}

/** The records of groups whose owner died (its SIGKILL pending is death enough: its containers were collected as orphans just before). */
function deadGroups(root: string): GroupRecord[] {
  let files: string[]
  try {
    files = fs.readdirSync(recordDir(root)).filter((f) => f.endsWith('.json'))
  } catch {
    return [] // no group was ever recorded on this root
  }
  const records = files.map((f) => readJson<GroupRecord>(path.join(recordDir(root), f)))
  return records.filter((rec): rec is GroupRecord => !!rec && !livesOn(rec.owner.pid, rec.owner.start))
}

/**
 * Removes the dead groups' networks no container uses any more (a detached one, or one from outside
 * the group, keeps its network); returns the names of those that stay.
 */
async function removeNetworks(groups: GroupRecord[], listed: NetworkInfo[], networks: GroupNetworks): Promise<Set<string>> {
  const stay = new Set<string>()
  for (const n of listed.filter((n) => groups.some((g) => inGroup(g)(n)))) {
    if (Object.keys(n.containers).length > 0) stay.add(n.name)
    else
      await networks.remove(n.name).catch((err: unknown) => {
        stay.add(n.name)
        debug('recovery: network %s stays: %s', n.name, err)
      })
  }
  return stay
}

/** Removes the dead groups' volumes no container uses (a detached one, or one from outside the group, keeps its volume); returns the names removed. */
async function pruneVolumes(groups: GroupRecord[], volumes: GroupVolumes): Promise<Set<string>> {
  const selected = (v: Labelled) => groups.some((g) => inGroup(g)(v))
  try {
    return new Set(await volumes.prune({ selected }))
  } catch (err) {
    debug('recovery: volumes of dead groups stay: %s', err)
    return new Set()
  }
}

/**
 * At a runtime's start, after the containers' recovery: the networks, volumes and records of groups
 * whose owner died. Networks and volumes are listed once for all the groups: what a group keeps is
 * what the listing showed of it minus what was removed.
 */
export async function collectDeadOwnedGroups(root: string, networks: GroupNetworks, volumes: GroupVolumes): Promise<void> {
  const dead = deadGroups(root)
  if (!dead.length) return
  for (const rec of dead) debug('recovery: group %s=%s lost its owner %d', rec.label, rec.value, rec.owner.pid)
  const [listedNetworks, listedVolumes] = [await networks.list(), await volumes.list()]
  const networksStay = await removeNetworks(dead, listedNetworks, networks)
  const volumesGone = await pruneVolumes(dead, volumes)
  for (const rec of dead) {
    const ours = inGroup(rec)
    // A container of the group still running (it outlived the wait for the dying: a detached one, one
    // whose death is slow) keeps what it uses; the record stays, so that a later start removes it then.
    const remains = listedNetworks.some((n) => ours(n) && networksStay.has(n.name)) || listedVolumes.some((v) => ours(v) && !volumesGone.has(v.name))
    if (!remains) forgetOwnedGroup(root, rec)
  }
}
