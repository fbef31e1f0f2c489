/**
 * `Compose.up()`: networks and volumes made first (in parallel), then every
 * service started as soon as its dependencies' conditions hold (independent
 * ones at the same moment), then each waited on until ready (its `waitFor`,
 * else healthy when it has a health check, else running). The first failure
 * aborts the rest and removes everything made, unless `keepOnFailure`.
 *
 * @module
 */
import { forwardLogs } from '../container/run'
import { contextOf } from '../container/context'
import { Container } from '../container/container'
import { AbortedError, ContainerExitedError, DependencyError, InvalidArgumentError, MiniContainerError, UnhealthyError, throwIfAborted } from '../errors'
import { Wait } from '../harness/wait'
import type { WaitStrategy } from '../harness/strategy'
import { defaultStartupTimeout } from '../harness/wait-until-ready'
import { Network } from '../network/network'
import { Image } from '../image/image'
import { reuseProject } from './reuse'
import { forgetOwnedGroup, recordOwnedGroup } from '../container/owned-groups'
import { projectGroup } from './naming'
import { Volume } from '../storage/volume'
import { optionsObject } from '../util/options-object'
import { composeConfig } from './config'
import { ComposeEnvironment, teardown, type ProjectResources } from './environment'
import { dependencyGraph } from './graph'
import { resourceLabels } from './naming'
import { networkAliases, serviceRunOptions, type ServiceRunChoices } from './run-options'
import type { ComposeModel, ComposeService, ComposeSource, ComposeUpOptions, DependencyCondition } from './types'

/** One `up` in flight: what it made, and the shared promises of each service's start and conditions. */
class Starter {
  readonly made: ProjectResources = { containers: new Map(), networks: [], volumes: [], createdVolumes: new Set() }
  private readonly started = new Map<string, Promise<Container[]>>()
  private readonly conditions = new Map<string, Promise<void>>()
  readonly abort = new AbortController()

  constructor(private readonly model: ComposeModel, private readonly opts: ComposeUpOptions, private readonly extraLabels: Record<string, string> = {}) {
    opts.signal?.addEventListener('abort', () => this.abort.abort(opts.signal!.reason), { once: true })
  }

  private get timeout(): number {
    return this.opts.startupTimeout ?? defaultStartupTimeout
  }

  private get choices(): ServiceRunChoices {
    return { ephemeralPorts: this.opts.ports === 'ephemeral', isolateNames: this.opts.isolateNames === true }
  }

  /** Makes the project's networks and volumes (external ones must exist). */
  async resources(): Promise<void> {
    const rt = { runtime: this.opts.runtime }
    const project = this.model.name
    await Promise.all([
      ...Object.entries(this.model.networks).map(async ([key, n]) => {
        if (n.external) return void await Network.get(n.name, rt)
        this.made.networks.push(await Network.create(n.name, { ...rt, internal: n.internal, labels: { ...n.labels, ...resourceLabels(project, 'network', key) } }))
      }),
      ...Object.entries(this.model.volumes).map(async ([key, v]) => {
        if (v.external) return void await Volume.get(v.name, rt)
        const found = await Volume.get(v.name, rt).catch((err: unknown) => { if ((err as MiniContainerError).code === 'ENOVOLUME') return undefined; throw err })
        if (!found) this.made.createdVolumes.add(v.name)
        this.made.volumes.push(found ?? await Volume.create(v.name, { ...rt, labels: { ...v.labels, ...resourceLabels(project, 'volume', key) } }))
      }),
    ])
  }

  /** The service's containers (one per replica), started once its dependencies' conditions hold. */
  start(name: string): Promise<Container[]> {
    let p = this.started.get(name)
    if (!p) {
      p = this.startAfterDependencies(this.model.services[name])
      this.started.set(name, p)
    }
    return p
  }

  private async startAfterDependencies(svc: ComposeService): Promise<Container[]> {
    await Promise.all(Object.entries(svc.dependsOn).map(([dep, d]) => this.condition(svc.name, dep, d.condition)))
    throwIfAborted(this.abort.signal, `starting service ${svc.name}`)
    const replicas: Container[] = []
    this.made.containers.set(svc.name, replicas)
    await Promise.all(Array.from({ length: svc.replicas }, (_, i) => this.startReplica(svc, i + 1, replicas)))
    return replicas
  }

  /** Creates replica `index`, connects its other networks, then starts it: every network is there before its program runs. */
  private async startReplica(svc: ComposeService, index: number, replicas: Container[]): Promise<void> {
    const rt = { runtime: this.opts.runtime }
    const options = serviceRunOptions(svc, this.model, this.choices, index)
    const c = await Container.create(svc.image, svc.command, { ...options, ...rt, labels: { ...options.labels, ...this.extraLabels }, detach: this.opts.reuse === true })
    replicas[index - 1] = c
    for (const [key, n] of Object.entries(svc.networks).slice(1)) {
      await (await Network.get(this.model.networks[key].name, rt)).connect(c, { aliases: networkAliases(svc, key, this.choices), ip: n.ipv4Address })
    }
    await c.start({ signal: this.abort.signal })
    const onLog = this.opts.onLog
    if (onLog) void forwardLogs(c, (line, stream) => onLog(svc.name, line, stream))
  }

  /** Resolves once `dep` meets `condition` (shared between its dependents); EDEPENDENCY otherwise. */
  private condition(dependent: string, dep: string, condition: DependencyCondition): Promise<void> {
    const key = `${dep}\0${condition}`
    let p = this.conditions.get(key)
    if (!p) {
      p = this.meet(dep, condition)
      this.conditions.set(key, p)
    }
    return p.catch((err: unknown) => {
      if (err instanceof AbortedError) throw err
      throw new DependencyError(dependent, dep, condition, failureHeadline(dep, condition, err), reasonOf(err), { cause: err })
    })
  }

  private async meet(dep: string, condition: DependencyCondition): Promise<void> {
    const strategy = condition === 'service_healthy' ? Wait.forHealthCheck() : condition === 'service_completed_successfully' ? Wait.forExit({ exitCode: 0 }) : undefined
    const replicas = await this.start(dep)
    if (strategy) await Promise.all(replicas.map((c) => c.waitFor(strategy, { timeout: this.timeout, signal: this.abort.signal })))
  }

  /** Waits until every replica of the service is ready: its waitFor, else healthy with a health check, else running. */
  async ready(name: string): Promise<void> {
    await Promise.all((await this.start(name)).map(async (c) => {
      const strategy = await this.readiness(name, c)
      if (strategy) await c.waitFor(strategy, { timeout: this.timeout, signal: this.abort.signal })
    }))
  }

  private async readiness(name: string, c: Container): Promise<WaitStrategy | undefined> {
    const explicit = this.opts.waitFor?.[name]
    if (explicit) return explicit
    const hc = (await c.inspect()).config.healthcheck
    return hc && hc.test[0] !== 'NONE' ? Wait.forHealthCheck() : undefined
  }

  /** Resolves once every start begun has settled, those begun meanwhile included. */
  async settled(): Promise<void> {
    let count = -1
    while (count !== this.started.size) {
      count = this.started.size
      await Promise.allSettled(this.started.values())
    }
  }
}

/** What compose v2 says first about a dependency that failed its condition. */
function failureHeadline(dep: string, condition: DependencyCondition, err: unknown): string {
  if (err instanceof UnhealthyError) return `dependency failed to start: container ${err.containerName} is unhealthy`
  if (err instanceof ContainerExitedError) {
    return condition === 'service_completed_successfully'
      ? `service "${dep}" didn't complete successfully: exit ${err.exitCode}`
      : `dependency failed to start: container ${err.containerName} exited (${err.exitCode})`
  }
  return `dependency failed to start: service "${dep}" did not reach ${condition}`
}

function reasonOf(err: unknown): string {
  return err instanceof MiniContainerError ? err.message : String(err)
}

function checkUpOptions(model: ComposeModel, opts: ComposeUpOptions): void {
  for (const name of Object.keys(opts.waitFor ?? {})) {
    if (!(name in model.services)) throw new InvalidArgumentError(`waitFor names service ${JSON.stringify(name)}, which is not in the project (its services: ${Object.keys(model.services).join(', ')}); waitFor is keyed by service name`)
  }
  if (opts.ports !== undefined && opts.ports !== 'ephemeral' && opts.ports !== 'as-written') throw new InvalidArgumentError(`ports: ${JSON.stringify(opts.ports)} is not 'ephemeral' or 'as-written'`)
}

/** `service_healthy` on a service with neither a health check in the file nor one in its image fails before anything starts. */
function checkHealthDependencies(model: ComposeModel, opts: ComposeUpOptions): void {
  const images = contextOf({ runtime: opts.runtime }).images
  for (const svc of Object.values(model.services)) {
    for (const [dep, d] of Object.entries(svc.dependsOn)) {
      if (d.condition !== 'service_healthy') continue
      const target = model.services[dep]
      const hc = target.healthcheck ?? images.resolve(target.image).config.healthcheck
      if (!hc || hc.test[0] === 'NONE') throw new DependencyError(svc.name, dep, d.condition, `dependency failed to start: service "${dep}" has no health check`, `neither the compose file nor image ${target.image} gives it one; add a healthcheck to it or use service_started`)
    }
  }
}

/** Builds the images of the services with `build`, tagged as their image (Image.build's shared cache makes an unchanged one quick). */
async function buildImages(model: ComposeModel, opts: ComposeUpOptions): Promise<void> {
  await Promise.all(Object.values(model.services).map(async (svc) => {
    if (!svc.build) return
    const { context, dockerfile, args, target } = svc.build
    await Image.build(context, { runtime: opts.runtime, tag: svc.image, dockerfile, buildArgs: args, target, signal: opts.signal })
  }))
}

/** Makes the project: networks and volumes, then each service as its dependencies allow; on failure removes what it made (unless keepOnFailure). */
async function startProject(model: ComposeModel, opts: ComposeUpOptions, labels: Record<string, string> = {}): Promise<ComposeEnvironment> {
  const root = contextOf({ runtime: opts.runtime }).root
  // A shared (reused) project outlives whoever made it: only an owned one is cleaned after its owner dies.
  if (opts.reuse !== true) recordOwnedGroup(root, projectGroup(model.name))
  const starter = new Starter(model, opts, labels)
  const all = (async () => {
    await starter.resources()
    await Promise.all(Object.keys(model.services).map((name) => starter.ready(name)))
  })()
  // The first failure stops the others at once; teardown waits until every start has settled.
  all.catch((err: unknown) => starter.abort.abort(err))
  try {
    await all
  } catch (err) {
    await starter.settled()
    if (!opts.keepOnFailure) {
      await teardown(starter.made, 'created', dependencyGraph(model.services))
      forgetOwnedGroup(root, projectGroup(model.name))
    }
    throw err
  }
  return new ComposeEnvironment(model, starter.made, opts.runtime, opts.reuse === true)
}

/** Starts a compose project and resolves once every service is ready; see `Compose.up`. */
export async function composeUp(source: ComposeSource, options?: ComposeUpOptions): Promise<ComposeEnvironment> {
  const opts = optionsObject(options, 'Compose.up()')
  const model = composeConfig(source, opts)
  checkUpOptions(model, opts)
  await buildImages(model, opts)
  checkHealthDependencies(model, opts)
  throwIfAborted(opts.signal, `starting project ${model.name}`)
  if (opts.reuse === true) return reuseProject(model, opts, (labels) => startProject(model, opts, labels))
  return startProject(model, opts)
}
