/**
 * `Compose`: compose environments in-process, from the files a project
 * already keeps (see lib/compose/ for the pieces).
 *
 * @module
 */
import type { ComposeEnvironment } from './environment'
import { composeConfig } from './config'
import { composeUp } from './up'
import type { ComposeConfigOptions, ComposeModel, ComposeSource, ComposeUpOptions } from './types'

/**
 * Compose files (the Compose Specification, as compose v2 applies it) run
 * in-process: no CLI, no daemon.
 *
 * ```ts
 * await using env = await Compose.up('test/compose.yml', { ports: 'ephemeral' })
 * const port = env.port('api', 8080)
 * ```
 */
export class Compose {
  private constructor() {}

  /**
   * Starts a project: its networks (`<project>_default` and those declared)
   * and volumes (`<project>_<name>`), then each service as soon as its
   * `depends_on` conditions hold, independent ones at once. Resolves when
   * every service is ready (its `waitFor`, else healthy when it has a health
   * check, else running). A dependency that fails its condition is
   * EDEPENDENCY naming the service, the condition and the cause; what was
   * made is removed again unless `keepOnFailure`. Services with `build` are
   * built first (Image.build's shared cache). Each container is created and
   * connected to all its networks before its program runs. The containers
   * die with this process; the next runtime start on the root removes a dead
   * owner's project (containers, networks, anonymous volumes; named volumes
   * stay). `reuse: true` with a `projectName` shares one running project
   * between workers.
   *
   * @param source - a compose file, several merged in order, or `{ yaml, workdir }`
   * @param opts - project name, variables, profiles, services, per-service waits, `ports: 'ephemeral'`, isolateNames, reuse, runtime
   */
  static up(source: ComposeSource, opts?: ComposeUpOptions): Promise<ComposeEnvironment> {
    return composeUp(source, opts)
  }

  /**
   * Loads, interpolates, merges, validates and normalises a project, as
   * `docker compose config`; starts nothing. Errors say file:line:column and
   * the key path: EINVALID for what the specification does not allow,
   * EUNSUPPORTED for a specification key minicontainer does not carry out.
   *
   * @param source - a compose file, several merged in order, or `{ yaml, workdir }`
   * @param opts - project name, variables, env file, profiles
   */
  static async config(source: ComposeSource, opts?: ComposeConfigOptions): Promise<ComposeModel> {
    return composeConfig(source, opts)
  }
}
