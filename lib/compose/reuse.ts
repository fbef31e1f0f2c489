/**
 * `Compose.up(file, { reuse: true, projectName })`: several jest workers (or
 * processes) asking for the same project get the one running environment.
 * A hash of the normalised model and the image ids is kept in a label of
 * every container; under the runtime root's reuse lock for the project, a
 * project whose containers all carry the hash and run (one-shots: exited 0)
 * is adopted, anything else of that name is removed and started afresh.
 *
 * @module
 */
import { Container } from '../container/container'
import { contextOf } from '../container/context'
import type { ContainerInspect } from '../container/types'
import { InvalidArgumentError } from '../errors'
import { withReuseLock } from '../harness/reuse'
import { stableHash } from '../util/stable-hash'
import { Network } from '../network/network'
import { Volume } from '../storage/volume'
import { ComposeEnvironment, teardown, type ProjectResources } from './environment'
import { dependencyGraph, startOrder } from './graph'
import { containerName } from './naming'
import type { ComposeModel, ComposeUpOptions } from './types'

/** The label holding a reusable project's configuration hash. */
export const composeHashLabel = 'minicontainer.compose-hash'

/** Starts the project with these extra container labels. */
export type ProjectStarter = (labels: Record<string, string>) => Promise<ComposeEnvironment>

function projectHash(model: ComposeModel, opts: ComposeUpOptions): string {
  const images = contextOf({ runtime: opts.runtime }).images
  const imageIds = Object.fromEntries(Object.values(model.services).map((s) => [s.name, images.resolve(s.image).id]))
  const { warnings: _, ...rest } = model
  return stableHash({ model: rest, imageIds, ports: opts.ports ?? 'as-written', isolateNames: opts.isolateNames === true })
}

async function projectContainers(project: string, opts: ComposeUpOptions): Promise<Array<{ c: Container; info: ContainerInspect }>> {
  const out = []
  for (const c of await Container.list({ runtime: opts.runtime, all: true })) {
    const info = await c.inspect().catch(() => undefined)
    if (info?.config.labels['com.docker.compose.project'] === project) out.push({ c, info })
  }
  return out
}

/** What the running project is made of, when every container the model asks for carries `hash` and runs (or exited 0). */
async function adopt(model: ComposeModel, opts: ComposeUpOptions, found: Array<{ c: Container; info: ContainerInspect }>, hash: string): Promise<ProjectResources | undefined> {
  const byName = new Map(found.map((f) => [f.info.name, f]))
  const containers = new Map<string, Container[]>()
  const order = startOrder(dependencyGraph(model.services))
  for (const name of order) {
    const svc = model.services[name]
    const replicas = []
    for (let i = 1; i <= svc.replicas; i++) {
      const f = byName.get(containerName(model.name, name, i, svc.containerName, opts.isolateNames === true))
      const alive = f && (f.info.state.running || (f.info.state.status === 'exited' && f.info.state.exitCode === 0))
      if (!f || !alive || f.info.config.labels[composeHashLabel] !== hash) return undefined
      replicas.push(f.c)
    }
    containers.set(name, replicas)
  }
  const rt = { runtime: opts.runtime }
  const networks = await Promise.all(Object.values(model.networks).filter((n) => !n.external).map((n) => Network.get(n.name, rt)))
  const volumes = await Promise.all(Object.values(model.volumes).filter((v) => !v.external).map((v) => Volume.get(v.name, rt)))
  return { containers, networks, volumes, createdVolumes: new Set() }
}

/** Removes an earlier project of that name (containers and its networks; volumes stay, as compose keeps them on recreate). */
async function replace(model: ComposeModel, opts: ComposeUpOptions, found: Array<{ c: Container }>): Promise<void> {
  const rt = { runtime: opts.runtime }
  const networks = []
  for (const n of await Network.list(rt)) if ((await n.inspect()).labels['com.docker.compose.project'] === model.name) networks.push(n)
  await teardown({ containers: new Map([['', found.map((f) => f.c)]]), networks, volumes: [], createdVolumes: new Set() }, 'none')
}

/** The running project when it matches the model, else a fresh one (see the module comment). */
export async function reuseProject(model: ComposeModel, opts: ComposeUpOptions, start: ProjectStarter): Promise<ComposeEnvironment> {
  if (opts.projectName === undefined) throw new InvalidArgumentError('reuse: true needs a projectName, e.g. { reuse: true, projectName: "itest" }: the name is how workers find the shared project')
  const hash = projectHash(model, opts)
  return withReuseLock(contextOf({ runtime: opts.runtime }).root, `compose-${model.name}`, async () => {
    const found = await projectContainers(model.name, opts)
    const made = await adopt(model, opts, found, hash)
    if (made) return new ComposeEnvironment(model, made, opts.runtime, true)
    await replace(model, opts, found)
    return start({ [composeHashLabel]: hash })
  })
}
