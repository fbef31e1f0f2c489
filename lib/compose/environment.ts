/**
 * A running compose project: its containers by service, their published
 * ports, exec and logs, and its teardown in reverse dependency order
 * (containers, then networks, then, when asked, volumes).
 *
 * @module
 */
import '../util/dispose-symbol'
import type { Container } from '../container/container'
import type { ExecOptions, ExecResult } from '../container/types'
import { InvalidArgumentError, NotFoundError } from '../errors'
import { Network } from '../network/network'
import { Volume } from '../storage/volume'
import type { Runtime } from '../runtime'
import { contextOf } from '../container/context'
import { forgetOwnedGroup } from '../container/owned-groups'
import { projectGroup } from './naming'
import { dependencyGraph, type DependencyGraph } from './graph'
import type { ComposeDownOptions, ComposeModel } from './types'

/** What a project made, in the order it was made; teardown undoes it backwards. */
export interface ProjectResources {
  /** Containers by service (replica 1 first), services in start order. */
  containers: Map<string, Container[]>
  /** Networks the project created (not external ones). */
  networks: Network[]
  /** The project's volumes (not external ones), made now or found from an earlier run. */
  volumes: Volume[]
  /** Names of the volumes this `up` created: a failed `up` removes only those, never data it found. */
  createdVolumes: Set<string>
}

/** Which volumes a teardown removes: none (`down`), the project's (`down -v`), or only those just created (a failed `up`). */
export type VolumeTeardown = 'none' | 'project' | 'created'


/**
 * Applies `action` to every container, a service's only once its dependents' are done, and
 * services independent of each other at once (as compose v2 stops and removes).
 */
async function dependentsFirst(containers: Map<string, Container[]>, graph: DependencyGraph, action: (c: Container, service: string) => Promise<unknown>): Promise<void> {
  const done = new Map<string, Promise<void>>()
  const dependents = (svc: string) => [...containers.keys()].filter((other) => graph.get(other)?.includes(svc))
  const finish = (svc: string): Promise<void> => {
    let p = done.get(svc)
    if (!p) {
      p = (async () => {
        await Promise.all(dependents(svc).map(finish))
        await Promise.all((containers.get(svc) ?? []).map((c) => action(c, svc).catch((err: unknown) => ignoreGone(err))))
      })()
      done.set(svc, p)
    }
    return p
  }
  await Promise.all([...containers.keys()].map(finish))
}

/** Stops every container, dependents first, each with its stop signal and `stop_grace_period` (default 0 s, as tests want). */
async function stopAll(containers: Map<string, Container[]>, model: ComposeModel): Promise<void> {
  await dependentsFirst(containers, dependencyGraph(model.services), (c, service) => {
    const grace = model.services[service]?.stopGracePeriod
    return c.stop({ timeout: grace === undefined ? 0 : grace / 1000 })
  })
}

/** Removes what a project made: containers (dependents first, per `graph`; all at once without it), networks, then volumes when asked. */
export async function teardown(made: ProjectResources, volumes: VolumeTeardown, graph: DependencyGraph = new Map()): Promise<void> {
  await dependentsFirst(made.containers, graph, (c) => c.remove({ force: true }))
  await Promise.all(made.networks.map((n) => n.remove().catch((err: unknown) => ignoreGone(err))))
  const doomed = volumes === 'none' ? [] : made.volumes.filter((v) => volumes === 'project' || made.createdVolumes.has(v.name))
  await Promise.all(doomed.map((v) => v.remove().catch((err: unknown) => ignoreGone(err))))
}

/** Teardown is idempotent: what is already gone is fine, anything else is the user's to know. */
function ignoreGone(err: unknown): void {
  const code = (err as { code?: string }).code
  if (code !== 'ENOCONTAINER' && code !== 'ENONETWORK' && code !== 'ENOVOLUME' && code !== 'ENOTFOUND') throw err
}

/** A compose project `Compose.up()` started. `await using` tears it down with its volumes. */
export class ComposeEnvironment {
  /** @internal */
  constructor(
    /** The normalised project it runs. */
    readonly model: ComposeModel,
    private readonly made: ProjectResources,
    /** @internal */
    readonly runtime: Runtime | undefined,
    /** Started with `reuse: true` (found running or made to be shared): `await using` leaves it running for the other workers; `down()` removes it. */
    readonly reused = false,
  ) {}

  /** The project name. */
  get projectName(): string {
    return this.model.name
  }

  /** The container of a service, its first replica (EINVALID naming the services for an unknown name; ENOTFOUND after down() or with 0 replicas). */
  service(name: string): Container {
    const [c] = this.containers(name)
    if (!c) throw new NotFoundError(`service ${name} of project ${this.model.name} has no container: the project was taken down, or it has 0 replicas`)
    return c
  }

  /** Every container of a service, replica 1 first (`scale`, `deploy.replicas`); EINVALID for an unknown name, [] after down(). */
  containers(name: string): Container[] {
    if (typeof name !== 'string' || !(name in this.model.services)) {
      throw new InvalidArgumentError(`no service ${JSON.stringify(name)} in project ${this.model.name}; its services are ${Object.keys(this.model.services).join(', ')}`)
    }
    return [...(this.made.containers.get(name) ?? [])]
  }

  /** The host port a service's container port is published on (ENOTFOUND when it is not published). */
  port(service: string, containerPort: number, proto: 'tcp' | 'udp' = 'tcp'): number {
    const binding = this.service(service).port(containerPort, proto)
    if (!binding) throw new NotFoundError(`service ${service} publishes no ${containerPort}/${proto}; add it to the service's ports`)
    return Number(binding.hostPort)
  }

  /** Runs a command in a service's container (`docker compose exec`). */
  exec(service: string, cmd: string[], opts?: ExecOptions): Promise<ExecResult> {
    return this.service(service).exec(cmd, opts)
  }

  /** Everything a service's container wrote so far, standard output and error as they came. */
  async logs(service: string): Promise<string> {
    const chunks: Buffer[] = []
    for await (const chunk of this.service(service).logs()) chunks.push(Buffer.from(chunk as Buffer))
    return Buffer.concat(chunks).toString('utf8')
  }

  /** Stops every container, dependents first (`docker compose stop`); they are kept. */
  async stop(): Promise<void> {
    await stopAll(this.made.containers, this.model)
  }

  /** Removes the containers (dependents first) and networks, and with `volumes: true` the named volumes (`docker compose down [-v]`). Idempotent. */
  async down(opts: ComposeDownOptions = {}): Promise<void> {
    await teardown(this.made, opts.volumes === true ? 'project' : 'none', dependencyGraph(this.model.services))
    this.made.containers.clear()
    forgetOwnedGroup(contextOf({ runtime: this.runtime }).root, projectGroup(this.model.name))
  }

  /** `await using env = await Compose.up(...)`: down({ volumes: true }), except for a reused project, which stays for the others sharing it. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.reused) return
    await this.down({ volumes: true })
  }
}
