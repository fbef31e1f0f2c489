/**
 * Controllers enabled at the root of the hierarchy we see. cgroup v2 lets no cgroup but the real
 * root both hold processes and enable controllers for its children ("no internal processes": the
 * write to cgroup.subtree_control is EBUSY). The root we see is such a cgroup when this process
 * runs in a container with its own cgroup namespace (a CI job in Docker, cgroupns=private): its
 * processes, this one included, sit in it. Docker's answer (its dind entrypoint) is to move them
 * into a child cgroup, "init", and then enable the controllers; so is ours.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { readPids, writeValue } from './driver'

/** Where the root's processes go, as in Docker-in-Docker. */
const leafName = 'init'

/** Writes `value` to the root's cgroup.subtree_control, moving the root's processes out first when the kernel requires it. */
export function enableAtRoot(root: string, value: string): void {
  const file = path.join(root, 'cgroup.subtree_control')
  // A process the container forks meanwhile lands in the root again: a few rounds settle it.
  for (let round = 0; round < 3; round++) {
    try {
      fs.writeFileSync(file, value)
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY') break
      moveProcessesToLeaf(root)
    }
  }
  writeValue(file, value) // the kernel's refusal, reported as every refused write is
}

/** Moves every process of the root cgroup into its child cgroup "init" (made when missing). */
function moveProcessesToLeaf(root: string): void {
  const leaf = path.join(root, leafName)
  fs.mkdirSync(leaf, { recursive: true })
  for (const pid of readPids(path.join(root, 'cgroup.procs'))) {
    try {
      fs.writeFileSync(path.join(leaf, 'cgroup.procs'), String(pid))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err // it exited meanwhile
    }
  }
}
