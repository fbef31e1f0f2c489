/**
 * `logMaxSize` and `logMaxFiles`, json-file's `max-size` and `max-file`:
 * validated at create and kept in the record's host config.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import type { LogConfig, RunOptions } from './types'

const decimal: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 }

/**
 * Bytes from a number or a size string as json-file's `max-size` reads it
 * (go-units FromHumanSize): decimal multipliers, so '10m' is 10 000 000 and
 * '8k' is 8000 (unlike `memory`, whose '8k' is 8192).
 */
function humanSize(value: number | string): number {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.floor(value) : NaN
  const m = /^\s*(\d+(?:\.\d+)?) ?([kmgtp])?i?b?\s*$/i.exec(String(value))
  return m ? Math.floor(Number(m[1]) * decimal[(m[2] ?? '').toLowerCase()]!) : NaN
}

/** The log bounds of a new container; throws EINVALID for bad values. */
export function logConfigOf(opts: Pick<RunOptions, 'logMaxSize' | 'logMaxFiles'>): LogConfig {
  const maxSize = opts.logMaxSize === undefined ? 0 : humanSize(opts.logMaxSize)
  if (opts.logMaxSize !== undefined && !(maxSize > 0)) throw new InvalidArgumentError(`logMaxSize: ${JSON.stringify(opts.logMaxSize)} must be a positive size, e.g. '10m'`)
  const maxFiles = opts.logMaxFiles ?? 1
  if (!Number.isInteger(maxFiles) || maxFiles < 1) throw new InvalidArgumentError(`logMaxFiles: ${JSON.stringify(opts.logMaxFiles)} must be a whole number of files, at least 1`)
  if (maxFiles > 1 && !maxSize) throw new InvalidArgumentError('logMaxFiles needs logMaxSize: files rotate only once the current one reaches that size')
  return { type: 'json-file', maxSize, maxFiles }
}
