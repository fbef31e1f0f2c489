/**
 * What a COPY reads and how it is keyed: sources from the build context or
 * from another stage's (or image's) files (lent while they are read), the digest of their content for
 * the cache (names, types, modes, link targets and bytes; never mtimes), and
 * `--chown` names looked up in the stage's /etc/passwd and /etc/group.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import type { ContainerContext } from '../container/context'
import { DockerfileError } from '../errors'
import type { Source, SourceEntry } from './context'
import { rememberHash, rememberedHash } from './file-hash-memo'
import type { LayerView } from './layer-lookup'
import { fileChunks } from './source-bytes'
import { withLayerSources } from './layer-sources'
import { rootlessHostReadError, rootlessLayerReadError } from './errors'
import { withThrowawayContainer, type StageImage } from './throwaway-container'

/** The digest of the selected sources' content (files read in chunks, never whole). */
export async function sourcesDigest(sources: Source[]): Promise<string> {
  const h = createHash('sha256')
  for (const s of sources) {
    h.update(`${s.path}\0`)
    for (const e of s.entries) {
      h.update(JSON.stringify([e.rel, e.type, e.mode, e.link ?? '']))
      if (e.type === 'file') h.update(await fileHash(s, e))
    }
  }
  return h.digest('hex')
}

/** A file's sha256 (hex): remembered by its stat identity when unchanged since it was hashed, else read in chunks. */
async function fileHash(s: Source, e: SourceEntry): Promise<string> {
  const known = e.identity && rememberedHash(e.identity.key)
  if (known) return known
  const h = createHash('sha256')
  for await (const chunk of fileChunks(s, e)) h.update(chunk)
  const hex = h.digest('hex')
  if (e.identity) rememberHash(e.identity.key, e.identity.ctimeMs, hex)
  return hex
}

/**
 * Lends `use` the sources selected in the files of an image state (`COPY
 * --from`, named `what` in errors): read from its layers directly; when it binds host paths
 * (an `Image.fromHost()` image), through a container that is never started
 * and holds its files readable until `use` settles (they are streamed, not held).
 * That container's root is read as a view of one layer, with the same reads as the layers: a rootless
 * runtime's keeper opens what only another id inside may read or search, confined to that root.
 */
export async function withSourcesFromLayers<T>(rt: ContainerContext, image: StageImage, paths: string[], what: string, use: (sources: Source[]) => Promise<T>): Promise<T> {
  const reads = rt.userIds?.sourceReads()
  const rootless = !!rt.userIds
  if (!image.hostBinds.length) {
    return withLayerSources([...image.layers].reverse().map((l) => rt.images.layerPath(l)), paths, use, reads).catch((err: unknown) => {
      throw rootlessLayerReadError(rootless, err, what)
    })
  }
  return withThrowawayContainer(rt, image, ['/'], { network: 'none' }, (container) =>
    container.withFilesystem((root) =>
      withLayerSources([root], paths, use, reads).catch((err: unknown) => {
        throw rootlessHostReadError(rootless, err, what)
      }),
    ),
  )
}

/** `--chown=user[:group]`: numbers as they are, names from the stage's passwd and group files. */
export function chownOf(spec: string, view: LayerView, line: number): { uid: number; gid: number } {
  const [user, group] = spec.split(':')
  const uid = idOf(user, view.read('/etc/passwd'), line, 'user')
  const gid = group !== undefined ? idOf(group, view.read('/etc/group'), line, 'group') : /^\d+$/.test(user) ? uid : primaryGid(user, view.read('/etc/passwd'))
  return { uid, gid }
}

function idOf(name: string, file: string | undefined, line: number, what: string): number {
  if (/^\d+$/.test(name)) return Number(name)
  const entry = (file ?? '').split('\n').find((l) => l.split(':')[0] === name)
  if (!entry) throw new DockerfileError(line, `unable to convert uid/gid chown string to host mapping: can't find uid for ${what} ${name}: no such ${what}: ${name}`)
  return Number(entry.split(':')[2])
}

function primaryGid(user: string, passwd: string | undefined): number {
  const entry = (passwd ?? '').split('\n').find((l) => l.split(':')[0] === user)
  return entry ? Number(entry.split(':')[3]) : 0
}
