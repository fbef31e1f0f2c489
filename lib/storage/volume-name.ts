/**
 * Volume names: Docker's rule `[a-zA-Z0-9][a-zA-Z0-9_.-]*`. A name becomes a
 * directory under the runtime root, so the rule is also what keeps `..`,
 * `/` and hidden names out of the store.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import { validName } from '../util/ids'

/** Whether `name` is a valid volume name. */
export function isVolumeName(name: string): boolean {
  return validName.test(name) && name.length <= 255
}

/** Throws EINVALID unless `name` is a valid volume name; `hint` is appended to the message. */
export function checkVolumeName(name: string, hint = ''): void {
  if (!isVolumeName(name))
    throw new InvalidArgumentError(
      `invalid volume name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed (at most 255 characters)${hint}`,
    )
}
