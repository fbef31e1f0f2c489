/**
 * Views of a container's filesystem as its processes see it, shared by the
 * callers of one process. A stopped container's view is a held shim with the
 * layer mounted, and a container's layer is mounted once at a time
 * (ContainerStore.lockLayer): a second view in the same process, taken while
 * the first is still open (a getArchive stream not yet read, then a
 * copyFrom), shares the first instead of waiting for it forever.
 *
 * @module
 */

/** A host path to the container's root, valid until `release()`. */
export interface FilesystemView {
  root: string
  release: () => Promise<void>
  /** The running program whose root this is; none for a stopped container's assembled view. */
  program?: { pid: number; pidStart?: string }
}

interface Shared {
  view: Promise<FilesystemView>
  users: number
}

/** One view per key (a container's directory) at a time, released with its last user. */
export class SharedViews {
  private readonly views = new Map<string, Shared>()

  /** The open view of `key`, or a new one from `assemble`; each caller releases its own handle. */
  async open(key: string, assemble: () => Promise<FilesystemView>): Promise<FilesystemView> {
    let shared = this.views.get(key)
    if (!shared) this.views.set(key, (shared = { view: assemble(), users: 0 }))
    const entry = shared
    entry.users++
    let view: FilesystemView
    try {
      view = await entry.view
    } catch (err) {
      this.leave(key, entry)
      throw err
    }
    let released = false
    return {
      root: view.root,
      release: async () => {
        if (released) return
        released = true
        if (this.leave(key, entry)) await view.release()
      },
    }
  }

  /** One user less; true when it was the last (the view is forgotten, a new open assembles anew). */
  private leave(key: string, entry: Shared): boolean {
    if (--entry.users > 0) return false
    if (this.views.get(key) === entry) this.views.delete(key)
    return true
  }
}
