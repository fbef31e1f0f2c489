/**
 * Docker's builders as peers of Image.build: `docker build` through the
 * docker.io package's own 20.10 client (the first `docker` on PATH may be a
 * newer CLI without buildx, which cannot run BuildKit), with
 * DOCKER_BUILDKIT=1 (BuildKit) or 0 (the classic builder), against a private
 * engine; and the file tree of an image, from Docker (`docker export` of a
 * created container) or from minicontainer (getArchive('/') of one), as
 * one comparable record per path.
 */
import { createHash, randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { Readable } from 'node:stream'
import * as tar from 'tar-stream'
import { Container, type Runtime } from '../../lib'
import { contextOf } from '../../lib/container/context'
import type { PrivateDocker } from './docker-engine'

/** The docker.io package's client (20.10 on Debian 12). */
export const docker2010 = '/usr/bin/docker'

/** Which of Docker's builders. */
export type DockerBuilder = 'buildkit' | 'classic'

/** How a build ended: exit code and what it printed. */
export interface DockerBuildResult {
  code: number
  output: string
}

/** `docker build -t tag ctx` with the given builder; never throws on a failed build. */
export async function dockerBuildWith(engine: PrivateDocker, builder: DockerBuilder, ctx: string, tag: string, extra: string[] = []): Promise<DockerBuildResult> {
  if (!fs.existsSync(docker2010)) throw new Error(`${docker2010} is missing: the build differential needs the docker.io package's client (apt-get install docker.io)`)
  const env = { DOCKER_BUILDKIT: builder === 'buildkit' ? '1' : '0', BUILDKIT_PROGRESS: 'plain' }
  const r = await engine.run(['build', '-t', tag, ...extra, ctx], { cli: docker2010, env, timeoutMs: 180_000 })
  return { code: r.code, output: `${r.stdout}${r.stderr}` }
}

/** One path of an image's tree, as compared. */
export interface TreeEntry {
  type: string
  mode: string
  owner: string
  size: number
  /** sha256 of a file's bytes. */
  content?: string
  /** A link's target. */
  link?: string
  /** A file's mtime in seconds, or "build time" for one in the last hour (made by a RUN); directories' mtimes are build times in BuildKit: never compared. */
  mtime?: number | 'build time'
  /** A file with several names: all of them, sorted (which name a tar stores as the file and which as links to it depends on its order). */
  names?: string[]
}

function mtimeOf(d: Date | undefined): number | 'build time' {
  const ms = d?.getTime() ?? 0
  return Date.now() - ms < 3600_000 ? 'build time' : Math.floor(ms / 1000)
}

/** Reads a tar into path -> entry ("./" and a trailing "/" dropped from names). */
export async function treeOfTar(stream: Readable): Promise<Map<string, TreeEntry>> {
  const tree = new Map<string, TreeEntry>()
  const extract = tar.extract()
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, body, next) => {
      const hash = createHash('sha256')
      body.on('data', (c: unknown) => hash.update(c as Buffer))
      body.on('end', () => {
        const name = h.name.replace(/^\.\//, '').replace(/\/$/, '')
        const file = h.type === 'file'
        tree.set(name, {
          type: h.type ?? 'file',
          mode: ((h.mode ?? 0) & 0o7777).toString(8),
          owner: `${h.uid}:${h.gid}`,
          size: file ? (h.size ?? 0) : 0,
          ...(file ? { content: hash.digest('hex'), mtime: mtimeOf(h.mtime) } : {}),
          ...(h.linkname ? { link: h.linkname } : {}),
        })
        next()
      })
      body.on('error', reject)
    })
    extract.on('finish', resolve)
    extract.on('error', reject)
  })
  stream.on('error', (err) => extract.destroy(err))
  stream.pipe(extract)
  await done
  return withHardLinksAsFiles(tree)
}

/** Gives every name of a hard-linked file the file's record with all its names, so two tars listing the names in another order compare equal. */
function withHardLinksAsFiles(tree: Map<string, TreeEntry>): Map<string, TreeEntry> {
  const names = new Map<string, string[]>()
  for (const [p, e] of tree) {
    if (e.type !== 'link' || !e.link) continue
    const file = e.link.replace(/^\.?\//, '')
    names.set(file, [...(names.get(file) ?? []), p])
  }
  for (const [file, links] of names) {
    const record = tree.get(file)
    if (!record) continue
    const all = [file, ...links].sort()
    for (const name of all) tree.set(name, { ...record, names: all })
  }
  return tree
}

/** Paths Docker's container init layer adds to every container (so to `docker export`), not the image's. */
const dockerInitPaths = new Set(['.dockerenv', 'etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'etc/mtab'])
/** Top-level directories left out on both sides: mount points whose contents belong to the container (a created container's helper mounts them here). */
const mountPoints = new Set(['dev', 'proc', 'sys'])

function withoutContainerPaths(tree: Map<string, TreeEntry>): Map<string, TreeEntry> {
  for (const p of tree.keys()) if (dockerInitPaths.has(p) || mountPoints.has(p.split('/')[0])) tree.delete(p)
  return tree
}

/** The tree of a Docker image: `docker export` of a created (never started) container, without the init layer's paths. */
export async function dockerTree(engine: PrivateDocker, tag: string, work: string): Promise<Map<string, TreeEntry>> {
  const id = await engine.ok(['create', '--entrypoint', '/bin/true', tag])
  const file = path.join(work, `export-${id.slice(0, 12)}.tar`)
  try {
    await engine.ok(['export', '-o', file, id])
    return withoutContainerPaths(await treeOfTar(fs.createReadStream(file)))
  } finally {
    await engine.run(['rm', '-f', id])
    fs.rmSync(file, { force: true })
  }
}

/**
 * The tree of a minicontainer image: getArchive of each top-level entry of a
 * created (never started) container of its layers under an empty config
 * (the image's VOLUMEs would add their mount points to the container's
 * upper dir), without the same paths.
 */
export async function localTree(runtime: Runtime, image: string): Promise<Map<string, TreeEntry>> {
  const images = contextOf({ runtime }).images
  const bare = images.putImage(images.resolve(image).layers, {}, { history: [{ comment: `tree of ${image} ${randomBytes(6).toString('hex')}` }] })
  const c = await Container.create(bare.id, ['/bin/true'], { runtime, network: 'none', entrypoint: [] })
  try {
    const tree = new Map<string, TreeEntry>()
    const top = await c.withFilesystem(async (root) => fs.readdirSync(root))
    for (const name of top.filter((n) => !mountPoints.has(n))) for (const [p, e] of await treeOfTar((await c.getArchive(`/${name}`)).stream)) tree.set(p, e)
    return withoutContainerPaths(tree)
  } finally {
    await c.remove({ force: true })
    await images.forgetUnnamed(bare.id)
  }
}

/** The paths whose records differ between two trees, with both records ("missing" where one lacks the path). */
export function treeDiff(a: Map<string, TreeEntry>, b: Map<string, TreeEntry>): Record<string, [TreeEntry | 'missing', TreeEntry | 'missing']> {
  const out: Record<string, [TreeEntry | 'missing', TreeEntry | 'missing']> = {}
  for (const p of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(p)
    const y = b.get(p)
    if (JSON.stringify(x) !== JSON.stringify(y)) out[p] = [x ?? 'missing', y ?? 'missing']
  }
  return out
}
