/**
 * `docker run --pull`: whether a run fetches its image from the registry.
 *
 * @module
 */
import { InvalidArgumentError, LocalImageMissingError, MiniContainerError } from '../../errors'
import { parseReference } from '../reference'
import type { ImageRecord, ImageStore } from '../store'
import { pullImage, type PullOptions } from './pull'

/** When run() pulls: 'missing' (default) when no local image matches, 'always' every time, 'never' not at all. */
export type PullPolicy = 'missing' | 'always' | 'never'

const policies: readonly PullPolicy[] = ['missing', 'always', 'never']

/**
 * Makes sure `ref` is in the store as the policy asks. A local match (by
 * name, id or id prefix) satisfies 'missing'; full image ids are never
 * pulled, so an unknown id stays ENOIMAGE. Resolves with the image when it
 * looked it up or pulled it (the caller need not read it again), else undefined.
 */
export async function ensureImage(store: ImageStore, ref: string, policy: PullPolicy = 'missing', opts: PullOptions = {}): Promise<ImageRecord | undefined> {
  if (!policies.includes(policy)) throw new InvalidArgumentError(`invalid pull policy "${policy}": use "missing", "always" or "never"`)
  if (policy === 'never' || !pullable(ref)) return undefined
  if (policy === 'always') return (await pullImage(store, ref, opts)).record
  const local = localImage(store, ref)
  if (local) return local
  try {
    return (await pullImage(store, ref, opts)).record
  } catch (err) {
    // Both facts: what was looked for here, and why the registry did not provide it. A cancel stays EABORTED.
    if (!(err instanceof MiniContainerError) || err.code === 'EABORTED') throw err
    const wanted = parseReference(ref)
    throw new LocalImageMissingError(wanted.familiar, wanted.toString(), err)
  }
}

function localImage(store: ImageStore, ref: string): ImageRecord | undefined {
  try {
    return store.resolve(ref)
  } catch (err) {
    if (err instanceof MiniContainerError && err.code === 'ENOIMAGE') return undefined
    throw err
  }
}

/** A name a registry could serve; an image id ("sha256:...", 64 hex digits) is not one. */
function pullable(ref: string): boolean {
  try {
    parseReference(ref)
    return true
  } catch {
    return false
  }
}
