/**
 * Names and labels as compose v2 gives them: containers
 * `<project>-<service>-<n>`, networks and volumes `<project>_<key>`, and the
 * `com.docker.compose.*` labels that tell what belongs to which project.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { InvalidArgumentError } from '../errors'
import type { OwnedGroup } from '../container/owned-groups'

const projectNamePattern = /^[a-z0-9][a-z0-9_-]*$/

/** Checks a project name as compose v2 does (EINVALID naming the rule). */
export function checkProjectName(name: string): string {
  if (typeof name !== 'string' || !projectNamePattern.test(name)) {
    throw new InvalidArgumentError(`project name ${JSON.stringify(name)} is invalid: it must match ${projectNamePattern.source} (lowercase letters, digits, dashes and underscores, starting with a letter or digit)`)
  }
  return name
}

/** A fresh project name, so that two calls never share containers or networks. */
export function randomProjectName(): string {
  return `mc-${randomBytes(5).toString('hex')}`
}

/** The container of a service: `<project>-<service>-<n>`, or its `container_name` (`<project>-<container_name>` with isolateNames). */
export function containerName(project: string, service: string, index = 1, written?: string, isolate = false): string {
  if (written === undefined) return `${project}-${service}-${index}`
  return isolate ? `${project}-${written}` : written
}

/** A project network or volume: `<project>_<key>`. */
export function scopedName(project: string, key: string): string {
  return `${project}_${key}`
}

/** The compose labels of a service's container, as compose v2 sets them. */
export function containerLabels(project: string, service: string, workdir: string, files: string[], index = 1): Record<string, string> {
  return {
    'com.docker.compose.project': project,
    'com.docker.compose.service': service,
    'com.docker.compose.container-number': String(index),
    'com.docker.compose.oneoff': 'False',
    'com.docker.compose.project.working_dir': workdir,
    'com.docker.compose.project.config_files': files.join(','),
  }
}

/** The compose labels of a project network or volume. */
export function resourceLabels(project: string, kind: 'network' | 'volume', key: string): Record<string, string> {
  return { 'com.docker.compose.project': project, [`com.docker.compose.${kind}`]: key }
}

/** The project's networks and volumes as a group the runtime's recovery removes when the project's owner died (container/owned-groups). */
export function projectGroup(project: string): OwnedGroup {
  return { label: 'com.docker.compose.project', value: project }
}
