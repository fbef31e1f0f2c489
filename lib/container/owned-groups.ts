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

/** The volumes of a runtime, as the collection needs them. */
export interface GroupVolumes {
  /** Every volume, with its labels. */
  list(): Promise<{ labels: Record<string, string> }[]>
  /** Removes the volumes no container references that `selected` accepts; returns their names. */
  prune(opts: { selected: (volume: { labels: Record<string, string> }) => boolean }): Promise<string[]>
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

/** Removes a dead owner's group networks that no container uses any more (a detached one, or one from outside the group, keeps its network). */
async function removeNetworks(group: OwnedGroup, networks: GroupNetworks): Promise<void> {
  for (const n of await networks.list()) {
    if (n.labels[group.label] !== group.value || Object.keys(n.containers).length > 0) continue
    await networks.remove(n.name).catch((err: unknown) => debug('recovery: network %s stays: %s', n.name, err))
  }
}

/** Whether a network or volume of the group is still there (in use by a container the recovery did not remove). */
async function groupRemains(group: OwnedGroup, networks: GroupNetworks, volumes: GroupVolumes): Promise<boolean> {
  const ours = (x: { labels: Record<string, string> }) => x.labels[group.label] === group.value
  return (await networks.list()).some(ours) || (await volumes.list()).some(ours)
}

/** At a runtime's start, after the containers' recovery: the networks, volumes and records of groups whose owner died. */
export async function collectDeadOwnedGroups(root: string, networks: GroupNetworks, volumes: GroupVolumes): Promise<void> {
  let files: string[]
  try {
    files = fs.readdirSync(recordDir(root)).filter((f) => f.endsWith('.json'))
  } catch {
    return // no group was ever recorded on this root
  }
  for (const f of files) {
    const rec = readJson<GroupRecord>(path.join(recordDir(root), f))
    // Its owner's SIGKILL pending is death enough: its containers were collected as orphans just before.
    if (!rec || livesOn(rec.owner.pid, rec.owner.start)) continue
    debug('recovery: group %s=%s lost its owner %d', rec.label, rec.value, rec.owner.pid)
    await removeNetworks(rec, networks)
    // A volume still used (by a detached container, or one from outside the group) stays.
    await volumes.prune({ selected: (v) => v.labels[rec.label] === rec.value }).catch((err: unknown) => debug('recovery: volumes of %s stay: %s', rec.value, err))
    // A container of the group still running (it outlived the wait for the dying: a detached one, one
    // whose death is slow) keeps what it uses; the record stays, so that a later start removes it then.
    if (await groupRemains(rec, networks, volumes)) continue
    forgetOwnedGroup(root, rec)
  }
}
