/**
 * The OCI image configuration document (Docker's "image JSON") and the
 * container defaults minicontainer reads from it. An image's id is the
 * digest of this document's exact bytes, so the bytes are kept as a blob
 * and only ever parsed, never re-serialised, for an image that came from
 * elsewhere.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import { hostPlatform } from './platform'

/** A health check as in Docker's image config; durations in nanoseconds. */
export interface Healthcheck {
  /** ["NONE"], ["CMD", args...] or ["CMD-SHELL", command]. */
  test: string[]
  /** Time between checks after the start period (ns; unset or 0: 30 s). */
  interval?: number
  /** A check running longer fails (ns; unset or 0: 30 s). */
  timeout?: number
  /** Failures during this time after start do not count (ns; default 0). */
  startPeriod?: number
  /** Time between checks during the start period (ns; unset or 0: 5 s). */
  startInterval?: number
  /** Consecutive failures that make the container unhealthy (unset or 0: 3). */
  retries?: number
}

/** Defaults an image gives its containers (the `config` object of the OCI image config). */
export interface ImageConfig {
  /** Default command (CMD), replaced by a command given to `run()`; appended to the entrypoint. */
  cmd?: string[]
  /** The program containers run (ENTRYPOINT); the command becomes its arguments. */
  entrypoint?: string[]
  /** Environment as "K=v" strings (ENV); a container's `env` option adds to it and overrides it. */
  env?: string[]
  /** Working directory of containers (WORKDIR); "/" when unset. */
  workdir?: string
  /** User containers run as (USER): a name or `uid[:gid]`; root when unset. */
  user?: string
  /** e.g. ["80/tcp"], used by publishAll. */
  exposedPorts?: string[]
  /** Paths that get an anonymous volume in every container, e.g. ["/data"]. */
  volumes?: string[]
  /** Metadata (LABEL); a container's labels are these plus its `labels` option. */
  labels?: Record<string, string>
  /** Signal `stop()` sends first, e.g. "SIGQUIT"; default SIGTERM. */
  stopSignal?: string
  /** The image's health check (HEALTHCHECK), used by containers without a `healthcheck` option. */
  healthcheck?: Healthcheck
  /** The shell of shell-form commands built on this image (SHELL), e.g. ["/bin/bash", "-c"]; Docker's default ["/bin/sh", "-c"] when unset. */
  shell?: string[]
  /** Instructions a build FROM this image runs first (ONBUILD), as written, e.g. ["RUN make"]; not inherited further. */
  onBuild?: string[]
}

/** One step of an image's history, as `docker history` shows it. */
export interface HistoryEntry {
  /** When the step ran, ISO 8601. */
  created?: string
  /** The instruction or command that made the step (Docker's `CreatedBy`). */
  created_by?: string
  /** Who made it (a Dockerfile's MAINTAINER); absent in steps made here. */
  author?: string
  /** Free text; "minicontainer commit" for a step `commit()` made. */
  comment?: string
  /** True when the step made no layer (ENV, CMD...). */
  empty_layer?: boolean
}

/** The `config` object of the document, in its own (Go) field names. */
export interface OciContainerConfig {
  User?: string
  ExposedPorts?: Record<string, object>
  Env?: string[] | null
  Entrypoint?: string[] | null
  Cmd?: string[] | null
  Volumes?: Record<string, object> | null
  WorkingDir?: string
  Labels?: Record<string, string> | null
  StopSignal?: string
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number }
  Shell?: string[] | null
  OnBuild?: string[] | null
}

/** The OCI image configuration document. */
export interface OciImageConfig {
  created?: string
  author?: string
  architecture: string
  os: string
  variant?: string
  config?: OciContainerConfig
  rootfs: { type: 'layers'; diff_ids: string[] }
  history?: HistoryEntry[]
}

/** Parses and checks a config document; throws EINVALID naming what is wrong. */
export function parseOciConfig(bytes: Buffer): OciImageConfig {
  let doc: OciImageConfig
  try {
    doc = JSON.parse(bytes.toString('utf8')) as OciImageConfig
  } catch (err) {
    throw new InvalidArgumentError(`the image config is not JSON (${(err as Error).message})`)
  }
  const ids = doc?.rootfs?.diff_ids
  if (!doc || typeof doc !== 'object' || doc.rootfs?.type !== 'layers' || !Array.isArray(ids) || ids.some((d) => typeof d !== 'string'))
    throw new InvalidArgumentError('the image config has no rootfs of type "layers" with a diff_ids list')
  return doc
}

const keys = (o: Record<string, object> | null | undefined) => (o ? Object.keys(o) : undefined)
const set = (list: string[] | undefined) => (list ? Object.fromEntries(list.map((k) => [k, {}])) : undefined)

/** The container defaults of a config document. */
export function imageConfigOf(doc: OciImageConfig): ImageConfig {
  const c = doc.config ?? {}
  const h = c.Healthcheck
  const config: ImageConfig = {
    cmd: c.Cmd ?? undefined,
    entrypoint: c.Entrypoint ?? undefined,
    env: c.Env ?? undefined,
    workdir: c.WorkingDir || undefined,
    user: c.User || undefined,
    exposedPorts: keys(c.ExposedPorts),
    volumes: keys(c.Volumes),
    labels: c.Labels ?? undefined,
    stopSignal: c.StopSignal || undefined,
    healthcheck: h?.Test ? { test: h.Test, interval: h.Interval, timeout: h.Timeout, startPeriod: h.StartPeriod, startInterval: h.StartInterval, retries: h.Retries } : undefined,
    shell: c.Shell?.length ? c.Shell : undefined,
    onBuild: c.OnBuild?.length ? c.OnBuild : undefined,
  }
  return withoutUndefined(config)
}

/** The document's `config` object for our defaults (Docker's field names). */
export function ociContainerConfig(c: ImageConfig): OciContainerConfig {
  const h = c.healthcheck
  return withoutUndefined({
    User: c.user,
    ExposedPorts: set(c.exposedPorts),
    Env: c.env,
    Entrypoint: c.entrypoint,
    Cmd: c.cmd,
    Volumes: set(c.volumes),
    WorkingDir: c.workdir,
    Labels: c.labels,
    StopSignal: c.stopSignal,
    Healthcheck: h ? withoutUndefined({ Test: h.test, Interval: h.interval, Timeout: h.timeout, StartPeriod: h.startPeriod, StartInterval: h.startInterval, Retries: h.retries }) : undefined,
    Shell: c.shell,
    OnBuild: c.onBuild,
  })
}

/** A new config document (for images made here: import, host, commit). */
export function newOciConfig(config: ImageConfig, diffIds: string[], history: HistoryEntry[], created?: string): OciImageConfig {
  return withoutUndefined({ created, ...hostPlatform(), config: ociContainerConfig(config), rootfs: { type: 'layers' as const, diff_ids: diffIds }, history })
}

/** Drops undefined fields, so documents serialise the same whichever way they were built. */
function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T
}
