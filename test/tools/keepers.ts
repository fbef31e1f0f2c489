/**
 * A rootless runtime's keepers (the shim run as `mc-shim keeper`) of one
 * user, as its tests look them up from a script run as that user: other
 * test files' users run keepers of their own meanwhile.
 */
import * as fs from 'node:fs'

/** Pids of the keepers that run as `uid`, one by one from /proc. */
export function keepersOf(uid: number): number[] {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.statSync(`/proc/${p}`).uid === uid && fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').startsWith('mc-shim\0keeper\0')
    } catch {
      return false // ended meanwhile
    }
  }).map(Number)
}

/** A line for a script run as the user (node-child's nodeScript: it loads TypeScript) defining `keepers()`: this user's keeper pids. */
export const keepersLine = `const keepers = () => require(${JSON.stringify(__filename)}).keepersOf(process.getuid())`
