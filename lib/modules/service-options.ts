/**
 * What every service module takes and how it starts: the image, the runtime,
 * a startup timeout, and testcontainers' `withReuse()` as `reuse` + `name`;
 * one `run()` publishing the service's port behind its wait strategy.
 *
 * @module
 */
import type { Container } from '../container/container'
import type { ContainerContext } from '../container/context'
import { run } from '../container/run'
import type { RunOptions } from '../container/types'
import type { FileSpec } from '../harness/files'
import type { WaitStrategy } from '../harness/strategy'
import { StartedService } from './started-service'

/** The options every module has. */
export interface ServiceOptions {
  /** A `Runtime` of minicontainer's (its `runtime` option); omitted, the default runtime. */
  runtime?: ContainerContext
  /** The image; each module names its default (any image with the same program and conventions, e.g. `Image.fromHost`'s or `Image.fromDocker`'s). */
  image?: string
  /** How long the service may take to be ready, in ms; each module names its default. */
  startupTimeout?: number
  /** The container's name; needed with `reuse`. */
  name?: string
  /** Keep one running container of this configuration (under `name`) across test runs and workers, as `run`'s `reuse`. */
  reuse?: boolean
  /**
   * The network to join, as `run`'s `network` (testcontainers' `withNetwork()`): a user network's name or a
   * `Network`, so that other containers on it reach the service by its name and `aliases`. The connection URL
   * stays the published port on the host.
   */
  network?: RunOptions['network']
  /** Extra names on that user network (testcontainers' `withNetworkAliases()`), as `run`'s `aliases`. */
  aliases?: string[]
}

/** What a module adds to its options to start its service. */
export interface ServiceLaunch {
  image: string
  startupTimeout: number
  /** The service's port in the container, published on an ephemeral host port. */
  port: number
  waitFor: WaitStrategy
  cmd?: string[]
  env?: Record<string, string>
  files?: FileSpec[]
  /** Its connection URL, from where the host reaches it. */
  url: (host: string, port: number) => string
}

/** What a module's start() gives back, made from the ready container (a module with more to offer subclasses StartedService). */
export type StartedFactory<S extends StartedService> = (container: Container, port: number, url: string) => S

/** Runs the service (removed on exit unless reused) and resolves once it is ready. */
export async function runService(opts: ServiceOptions, launch: ServiceLaunch): Promise<StartedService>
/** Runs the service and resolves once it is ready, as `started` makes it. */
export async function runService<S extends StartedService>(opts: ServiceOptions, launch: ServiceLaunch, started: StartedFactory<S>): Promise<S>
export async function runService(opts: ServiceOptions, launch: ServiceLaunch, started: StartedFactory<StartedService> = (c, p, u) => new StartedService(c, p, u)): Promise<StartedService> {
  const { runtime, name, reuse, network, aliases } = opts
  const settings = {
    ports: [String(launch.port)], rm: !reuse, startupTimeout: opts.startupTimeout ?? launch.startupTimeout, waitFor: launch.waitFor,
    ...(launch.env ? { env: launch.env } : {}), ...(launch.files ? { files: launch.files } : {}),
    ...(runtime ? { runtime } : {}), ...(name ? { name } : {}), ...(reuse ? { reuse } : {}),
    ...(network ? { network } : {}), ...(aliases ? { aliases } : {}),
  }
  const image = opts.image ?? launch.image
  const container = await run(image, launch.cmd, settings)
  const hostPort = container.mappedPort(launch.port)
  return started(container, hostPort, launch.url(container.host, hostPort))
}
