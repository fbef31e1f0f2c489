/**
 * The one rule for a uid or gid, wherever one comes from (a `user` option,
 * an image's `User`, its /etc/passwd and /etc/group, `groupAdd`, an owner
 * for extracted files): an integer in 0..2147483647, as Docker accepts.
 * The kernel takes 32 bits and the shim's setuid took whatever JavaScript
 * gave it, so 4294967296 became uid 0: every id is checked here first.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'

/** The largest uid or gid Docker accepts (2^31 - 1). */
export const maxUserId = 2147483647

/** Throws EINVALID naming `what` and the range unless `id` is an integer in 0..{@link maxUserId}. */
export function checkUserId(id: unknown, what: string): number {
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || id > maxUserId)
    throw new InvalidArgumentError(`${what} ${JSON.stringify(id)} is not a valid id: uids and gids must be integers in the range 0-${maxUserId}`)
  return id
}

/** Whether `text` is written as a numeric id (decimal digits only), as opposed to a name. */
export function isNumericId(text: string): boolean {
  return /^\d+$/.test(text)
}

/** A uid or gid written in decimal digits, checked by {@link checkUserId}; EINVALID for anything else. */
export function parseUserId(text: string, what: string): number {
  if (!isNumericId(text)) throw new InvalidArgumentError(`${what} ${JSON.stringify(text)} is not a valid id: uids and gids are decimal numbers in the range 0-${maxUserId}`)
  // Number() of a long digit string loses precision but stays above the maximum, so the range check still refuses it.
  return checkUserId(Number(text), what)
}
