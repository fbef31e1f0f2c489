/**
 * The record of a compose project on the runtime root
 * (`compose/<project>.json`: the process that owns it), so that a project
 * whose owner died (SIGKILL, Ctrl-C of a jest worker) leaves nothing after
 * the next runtime start. Its containers go with the container layer's
 * recovery (owned containers of a dead owner, with their anonymous
 * volumes); this removes its networks, then the record. Named volumes stay,
 * as `docker compose down` keeps them. A reused project is shared by
 * several processes and has no owner: it gets no record.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { isAlive, thisProcess } from '../container/liveness'
import type { ProcessIdentity } from '../container/types'
import type { NetworkInfo } from '../network/types'
import { debug } from '../util/debug'
import { readJson, writeJson } from '../util/json-file'

/** What is kept per project. */
interface ProjectRecord {
  project: string
  owner: ProcessIdentity
}

/** The networks of a runtime, as the collection needs them. */
export interface ProjectNetworks {
  /** Every network, with its labels and attached containers. */
  list(): Promise<NetworkInfo[]>
  /** Removes one by name. */
  remove(name: string): Promise<void>
}

const projectLabel = 'com.docker.compose.project'

function recordDir(root: string): string {
  return path.join(root, 'compose')
}

function recordFile(root: string, project: string): string {
  return path.join(recordDir(root), `${project}.json`)
}

/** Notes that this process owns `project` (before it makes anything, so that a kill mid-up is covered too). */
export function recordProject(root: string, project: string): void {
  fs.mkdirSync(recordDir(root), { recursive: true })
  writeJson(recordFile(root, project), { project, owner: thisProcess() } satisfies ProjectRecord)
}

/** Forgets the project's record (it was taken down). */
export function forgetProject(root: string, project: string): void {
  fs.rmSync(recordFile(root, project), { force: true })
}

/** Removes a dead owner's project networks that no container uses any more (a detached one, or one from outside the project, keeps its network). */
async function removeNetworks(project: string, networks: ProjectNetworks): Promise<void> {
  for (const n of await networks.list()) {
    if (n.labels[projectLabel] !== project || Object.keys(n.containers).length > 0) continue
    await networks.remove(n.name).catch((err: unknown) => debug('compose recovery: network %s stays: %s', n.name, err))
  }
}

/** At a runtime's start, after the containers' recovery: the networks and records of projects whose owner died. */
export async function collectDeadProjects(root: string, networks: ProjectNetworks): Promise<void> {
  let files: string[]
  try {
    files = fs.readdirSync(recordDir(root)).filter((f) => f.endsWith('.json'))
  } catch {
    return // no project was ever started on this root
  }
  for (const f of files) {
    const rec = readJson<ProjectRecord>(path.join(recordDir(root), f))
    if (!rec || isAlive(rec.owner.pid, rec.owner.start)) continue
    debug('compose recovery: project %s lost its owner %d', rec.project, rec.owner.pid)
    await removeNetworks(rec.project, networks)
    forgetProject(root, rec.project)
  }
}
