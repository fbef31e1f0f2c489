/**
 * The host-wide records of which runtime root owns each cgroup scope
 * (lib/cgroups/scope-owners.ts), read by every runtime's recovery while
 * other processes write them. A record read half-written named no root, so
 * recovery took a live scope for abandoned and removed the fresh cgroups of
 * containers being started: their start failed at "join cgroup" (ENODEV).
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { abandonedScopes, forgetScopeOwner, recordScopeOwner, scopeOwnerDir } from '../../lib/cgroups/scope-owners'
import { spawnNode } from '../tools/node-child'

test('a scope whose record another process is rewriting is never taken for abandoned', async () => {
  const scope = `minicontainer-test-owners-${process.pid}`
  const roots = [fs.mkdtempSync(path.join(os.tmpdir(), 'mc-scope-a-')), fs.mkdtempSync(path.join(os.tmpdir(), 'mc-scope-b-'))]
  recordScopeOwner(scope, roots[0], [])
  // Another process records the scope again and again (each time for the other live root, so each call writes).
  const child = spawnNode(
    `const { recordScopeOwner } = lib('cgroups/scope-owners')
    const roots = ${JSON.stringify(roots)}
    for (let i = 0, end = Date.now() + 2000; Date.now() < end; i++) recordScopeOwner(${JSON.stringify(scope)}, roots[i % 2], [])`,
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
  const writer = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  let listings = 0
  let seenAbandoned = 0
  try {
    for (let done = false; !done; listings++) {
      done = await Promise.race([writer.then(() => true), new Promise<boolean>((r) => setImmediate(() => r(false)))])
      if (abandonedScopes().some((a) => a.scope === scope)) seenAbandoned++
    }
    expect(await writer).toBe(0)
  } finally {
    child.kill('SIGKILL')
    forgetScopeOwner(scope)
    for (const r of roots) fs.rmSync(r, { recursive: true, force: true })
  }
  expect(listings).toBeGreaterThan(100)
  expect(seenAbandoned).toBe(0)
  // Nothing half-written stays behind.
  expect(fs.readdirSync(scopeOwnerDir).filter((f) => f.includes(scope))).toEqual([])
})
