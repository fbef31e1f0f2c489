/**
 * Deletions made off the event loop in one threadpool call each (native/removals.c): a removed
 * container's directory and a cgroup's directories. A walk in JavaScript costs the event loop a
 * callback per entry (two dozen for a container's directory, eight rmdirs for a v1 cgroup), and
 * those land in the start that follows an exit; one call costs one.
 *
 * @module
 */
import * as path from 'node:path'
import { callOnWorker, nativeFunctions } from './libc'

const native = nativeFunctions({
  removeTree: 'int mc_remove_tree(const char *parent, const char *base)',
  rmdirEach: 'int mc_rmdir_each(const char **dirs)',
})

/**
 * Removes the tree at `dir` (nothing when it is gone) on a worker thread, never following a
 * symlink, one fd held at a time whatever its depth (a container chooses that depth); rejects with
 * the SyscallError of the first failure, the rest left.
 */
export async function removeTreeOffThread(dir: string): Promise<void> {
  await callOnWorker(native().removeTree, [path.dirname(dir), path.basename(dir)], 'remove', dir)
}

/**
 * rmdir of every one of `dirs` on a worker thread: true once all are gone, false when some are still
 * busy (EBUSY, ENOTEMPTY); rejects with the SyscallError of the first other failure.
 */
export async function rmdirEachOffThread(dirs: readonly string[]): Promise<boolean> {
  return (await callOnWorker(native().rmdirEach, [[...dirs, null]], 'rmdir', dirs[0])) === 1
}
