/**
 * `docker inspect`'s view of a container, from what is on disk: its record,
 * its observed state, its health, its network settings and its paths.
 *
 * @module
 */
import { readHealth } from '../harness/health-monitor'
import { mountRecords } from '../storage/mount-options'
import type { ContainerContext } from './context'
import { networkSettingsOf } from './networking'
import type { Observation } from './observe'
import { runs } from './status'
import type { ContainerInspect, ContainerRecord, ContainerStatus } from './types'

/** `inspect().state.health`, present when a health check is configured. */
function health(file: string): { health?: ContainerInspect['state']['health'] } {
  const h = readHealth(file)
  return h ? { health: h } : {}
}

/** The container `seen` (present: its record read), with its image's layer directories `lowerDirs`, as `inspect()` gives it. */
export function inspectOf(ctx: ContainerContext, seen: Observation & { status: ContainerStatus; record: ContainerRecord }, lowerDirs: string[]): ContainerInspect {
  const { status, state: s, record: r } = seen
  const p = ctx.containers.paths(r.id)
  const args = [...r.config.entrypoint, ...r.config.cmd]
  return {
    id: r.id,
    name: r.name,
    image: r.image,
    imageId: r.imageId,
    created: r.created,
    path: args[0] ?? '',
    args: args.slice(1),
    restartCount: s.restartCount ?? 0,
    state: {
      status,
      running: runs(status),
      pid: runs(status) ? (s.pid ?? 0) : 0,
      exitCode: s.exitCode ?? 0,
      paused: status === 'paused',
      oomKilled: !!s.oomKilled,
      startedAt: s.startedAt ?? '0001-01-01T00:00:00Z',
      finishedAt: s.finishedAt ?? '0001-01-01T00:00:00Z',
      ...health(p.health),
    },
    config: r.config,
    hostConfig: r.hostConfig,
    mounts: mountRecords(r.mounts ?? []),
    networkSettings: networkSettingsOf(ctx, r.id),
    graphDriver: { name: 'overlay', data: { lowerDir: lowerDirs.join(':'), upperDir: p.upper, workDir: p.work, mergedDir: p.merged } },
    logPath: p.log,
    hostsPath: p.hosts,
    hostnamePath: p.hostname,
    resolvConfPath: p.resolvConf,
  }
}
