/**
 * Reuse: `run(..., { reuse: true, name })` returns the running container of
 * that name when it was made from an identical configuration. The
 * configuration's hash is kept in a label; a lock file per name on the
 * runtime root serialises workers asking at the same moment.
 *
 * @module
 */
import * as path from 'node:path'
import { InvalidArgumentError } from '../errors'
import { KeyedLock } from '../util/keyed-lock'
import { stableHash } from '../util/stable-hash'

/** The label holding a reusable container's configuration hash. */
export const reuseHashLabel = 'minicontainer.reuse-hash'

/** Options that do not make two configurations different (live objects, callbacks). */
const notConfiguration = new Set(['runtime', 'signal', 'waitFor', 'onLog', 'startupTimeout', 'keepOnFailure', 'reuse'])

/** The hash of a run's configuration: image id, command and every option that shapes the container. */
export function configHash(imageId: string, cmd: string[] | undefined, opts: object): string {
  const options = Object.fromEntries(Object.entries(opts).filter(([k, v]) => !notConfiguration.has(k) && v !== undefined))
  return stableHash({ imageId, cmd: cmd ?? null, options })
}

/** Checks that a reuse request names its container. */
export function checkReuse(name: string | undefined): asserts name is string {
  if (!name) throw new InvalidArgumentError("reuse: true needs a name, e.g. { reuse: true, name: 'test-redis' }: the name is how workers find the shared container")
}

const locks = new Map<string, KeyedLock>()

/** Runs `fn` holding the reuse lock of `name` in the runtime rooted at `root` (flock: other processes wait too). */
export function withReuseLock<T>(root: string, name: string, fn: () => Promise<T>): Promise<T> {
  const dir = path.join(root, 'locks', 'reuse')
  let lock = locks.get(dir)
  if (!lock) locks.set(dir, (lock = new KeyedLock(dir)))
  return lock.with(name, fn)
}
