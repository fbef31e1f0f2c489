/**
 * What every failed wait reports, gathered in one place: the container
 * (id and name, so a kept one can be found), what was awaited, for how long,
 * and its last log lines.
 *
 * @module
 */
import type { WaitFailure } from '../errors'
import type { WaitTarget } from './target'

/** Log lines a wait error carries. */
const lastLines = 50

/** The details of a wait on `target` for `awaited` that began at `started` (Date.now()) and failed now. */
export function waitFailure(target: WaitTarget, awaited: string, started: number): WaitFailure {
  return { containerId: target.id, containerName: target.name, awaited, elapsedMs: Date.now() - started, logs: target.lastLogLines(lastLines) }
}
