/**
 * Stand-ins for official images, which cannot be pulled here: the host image
 * (Debian's own packages) plus a few files, committed under the official
 * image's reference with its config (cmd, entrypoint, env...).
 */
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
