/**
 * What every service module takes and how it starts: the image, the runtime,
 * a startup timeout, and testcontainers' `withReuse()` as `reuse` + `name`;
 * one `run()` publishing the service's port behind its wait strategy.
 *
 * @module
 */
import type { ContainerContext } from '../container/context'
import { run } from '../container/run'
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

/** Runs the service (removed on exit unless reused) and resolves once it is ready. */
export async function runService(opts: ServiceOptions, launch: ServiceLaunch): Promise<StartedService> {
  const { runtime, name, reuse } = opts
  const settings = {
    ports: [String(launch.port)], rm: !reuse, startupTimeout: opts.startupTimeout ?? launch.startupTimeout, waitFor: launch.waitFor,
    ...(launch.env ? { env: launch.env } : {}), ...(launch.files ? { files: launch.files } : {}),
    ...(runtime ? { runtime } : {}), ...(name ? { name } : {}), ...(reuse ? { reuse } : {}),
  }
  const image = opts.image ?? launch.image
  const container = launch.cmd ? await run(image, launch.cmd, settings) : await run(image, settings)
  const hostPort = container.mappedPort(launch.port)
  return new StartedService(container, hostPort, launch.url(container.host, hostPort))
}
