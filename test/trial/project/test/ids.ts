// What the trial's runner checks once the run is over: the ids of what these tests created.
import { appendFileSync } from 'node:fs'

/** Notes a container's id (or a network's, a volume's name) in $TRIAL_IDS, one per line. */
export function created(kind: 'container' | 'network' | 'volume', id: string): void {
  if (process.env.TRIAL_IDS) appendFileSync(process.env.TRIAL_IDS, `${kind} ${id}\n`)
}
