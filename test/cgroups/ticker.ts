/** A container that counts for the freezer tests, and how far it has counted, seen from the host. */
import * as fs from 'node:fs'
import { run, type Container, type Runtime } from '../../lib'

/**
 * Starts a shell that appends one line every 20 ms (for at most 12 s); `count()` reads how many
 * it wrote. Appending, not rewriting, so a read never meets a half-written counter (`echo $i > f`
 * truncates first, and a read in between sees 0).
 */
export async function startTicker(runtime: Runtime): Promise<{ c: Container; pid: number; count: () => number }> {
  const c = await run('host', ['sh', '-c', 'i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo $i >> /tmp/n; sleep 0.02; done'], { runtime, network: 'none' })
  const { pid } = (await c.inspect()).state
  if (!pid) throw new Error('the ticker has no pid')
  const count = () => fs.readFileSync(`/proc/${pid}/root/tmp/n`, 'utf8').split('\n').filter(Boolean).length
  return { c, pid, count }
}
