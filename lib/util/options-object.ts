/**
 * The options argument of a public call as JavaScript callers may pass it:
 * omitted is `{}`, anything but a plain object (null, an array, a string)
 * is EINVALID at once rather than a TypeError from deep inside the call.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'

/** `opts`, or `{}` when omitted; EINVALID naming `what` when it is not an object. */
export function optionsObject<T extends object>(opts: T | null | undefined, what: string): T {
  if (opts === undefined) return {} as T
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts))
    throw new InvalidArgumentError(`the options of ${what} must be an object (or omitted), not ${opts === null ? 'null' : Array.isArray(opts) ? 'an array' : typeof opts}`)
  return opts
}
