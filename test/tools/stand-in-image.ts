/**
 * Stand-ins for official images, which cannot be pulled here: the host image
 * (Debian's own packages) plus a few files, committed under the official
 * image's reference with its config (cmd, entrypoint, env...).
 */
import * as path from 'node:path'
import { Container, type CommitOptions, type Runtime } from '../../lib'

/** Commits `host` + `files` (host path → container directory) as `ref` with `changes`; the image must exist (Image.fromHost). */
export async function hostStandIn(runtime: Runtime, ref: string, changes: NonNullable<CommitOptions['changes']>, files: Array<[string, string]> = []): Promise<string> {
  const c = await Container.create('host', ['true'], { runtime, network: 'none' })
  try {
    for (const [from, to] of files) await c.copyTo(from, to)
    await c.commit({ ref, changes })
  } finally {
    await c.remove()
  }
  return ref
}

/**
 * A service image of test/modules: the host image with `<service>-entrypoint.sh` (an imitation of the
 * official image's docker-entrypoint.sh) as /docker-entrypoint.sh, committed as `mc-<service>:test`
 * with the official image's cmd, env...
 */
export function serviceStandIn(runtime: Runtime, service: string, changes: NonNullable<CommitOptions['changes']>): Promise<string> {
  const entrypoint = path.join(__dirname, '..', 'modules', `${service}-entrypoint.sh`)
  return hostStandIn(runtime, `mc-${service}:test`, { entrypoint: ['/docker-entrypoint.sh'], ...changes }, [[entrypoint, '/docker-entrypoint.sh']])
}
