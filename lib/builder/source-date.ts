/**
 * sourceDateEpoch's clamp: a layer made for a reproducible build has no
 * mtime later than the epoch (as BuildKit's SOURCE_DATE_EPOCH rewrites
 * them), so its bytes do not depend on when the build ran.
 *
 * @module
 */

/** `d`, or `to` when `d` is later (and `to` is set). */
export function clamped(d: Date, to: Date | undefined): Date {
  return to && d.getTime() > to.getTime() ? to : d
}
