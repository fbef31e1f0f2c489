/**
 * `minicontainer images`, `pull`, `load` and `prune`: the store's images as a
 * table, pulls with Docker's progress, archives loaded, and Docker's `system
 * prune` (stopped containers, unused networks, dangling images; unused volumes
 * with `--volumes`) with its `--filter`.
 *
 * @module
 */
import { Container, Image, Network, Volume, type PruneFilters } from '../index'
import { Readable } from 'node:stream'
import { lastValue, parseArgs, UsageError } from './args'
import type { CliIO } from './containers'
import { loadProgress, pullProgress } from './progress'
import { ago, formatTable, sizeText } from './table'

/** `images [--json]`: each tag of each image (an untagged one as <none>). */
export async function images(argv: string[], io: CliIO): Promise<number> {
  const args = parseArgs(argv, { flags: { json: ['--json'] } })
  const infos = await Promise.all((await Image.list()).map((i) => i.inspect()))
  if (args.flags.has('json')) {
    io.stdout.write(JSON.stringify(infos.map((i) => ({ id: i.id, repoTags: i.repoTags, created: i.created, size: i.size })), null, 2) + '\n')
    return 0
  }
  const rows = infos.flatMap((i) => (i.repoTags.length ? i.repoTags : ['<none>:<none>']).map((tag) => {
    const colon = tag.lastIndexOf(':')
    return [tag.slice(0, colon), tag.slice(colon + 1), i.id.replace('sha256:', '').slice(0, 12), ago(i.created), sizeText(i.size)]
  }))
  io.stdout.write(formatTable(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], rows))
  return 0
}

/** `--filter label=k[=v]` and `--filter until=T` as {@link PruneFilters}; UsageError for another filter. */
function pruneFilters(specs: string[]): PruneFilters {
  const filters: PruneFilters = {}
  for (const spec of specs) {
    const eq = spec.indexOf('=')
    const [key, value] = [spec.slice(0, eq), spec.slice(eq + 1)]
    if (key === 'label' && value) filters.label = [...(filters.label ?? []), value]
    else if (key === 'until' && value) filters.until = value
    else throw new UsageError(`--filter takes label=<key>[=<value>] or until=<time>, not ${JSON.stringify(spec)}`)
  }
  return filters
}

/** `prune [--volumes] [--filter F]... [--json]`: what `docker system prune -f` removes. With a filter, images stay (they have no labels or creation filter here). */
export async function prune(argv: string[], io: CliIO): Promise<number> {
  const args = parseArgs(argv, { flags: { volumes: ['--volumes'], json: ['--json'], force: ['-f', '--force'] }, options: { filter: ['--filter'] } })
  if (args.positionals.length) throw new UsageError('takes no arguments')
  const filters = pruneFilters(args.options.get('filter') ?? [])
  const filtered = filters.label !== undefined || filters.until !== undefined
  const removed = {
    containers: await Container.prune(filters),
    networks: await Network.prune(filters),
    volumes: args.flags.has('volumes') ? await Volume.prune(filters) : [],
    images: filtered ? [] : (await Image.prune()).imagesDeleted,
  }
  if (args.flags.has('json')) io.stdout.write(JSON.stringify(removed, null, 2) + '\n')
  else for (const [kind, names] of Object.entries(removed)) if (names.length) io.stdout.write(`Deleted ${kind}:\n${names.map((n) => `${n}\n`).join('')}\n`)
  if (!args.flags.has('json')) io.stdout.write(`${Object.values(removed).flat().length} removed\n`)
  return 0
}

/** `pull <ref>`: pulls with Docker's progress (see progress.ts); prints the reference and digest at the end. */
export async function pull(argv: string[], io: CliIO): Promise<number> {
  const args = parseArgs(argv, { flags: { quiet: ['-q', '--quiet'] }, options: { platform: ['--platform'] } })
  if (args.positionals.length !== 1) throw new UsageError('expects one image reference')
  const ref = args.positionals[0] as string
  const platform = lastValue(args, 'platform')
  const image = await Image.pull(ref, { ...(args.flags.has('quiet') ? {} : { onProgress: pullProgress(io.stdout) }), ...(platform ? { platform } : {}) })
  const info = await image.inspect()
  if (!args.flags.has('quiet')) io.stdout.write(`Digest: ${info.repoDigests[0]?.split('@')[1] ?? ''}\nStatus: pulled ${ref}\n`)
  io.stdout.write(`${ref}\n`)
  return 0
}

/** `load [-q] [-i FILE]`: loads docker save / OCI archives (from stdin without -i), with a bar per layer on a terminal unless -q; prints each image loaded. */
export async function load(argv: string[], io: CliIO, stdin: NodeJS.ReadableStream = process.stdin): Promise<number> {
  const args = parseArgs(argv, { flags: { quiet: ['-q', '--quiet'] }, options: { input: ['-i', '--input'] } })
  if (args.positionals.length) throw new UsageError('takes no arguments: the archive comes with -i FILE or on stdin')
  const input = lastValue(args, 'input')
  const onProgress = args.flags.has('quiet') ? undefined : loadProgress(io.stdout)
  const loaded = await Image.load(input ?? Readable.from(stdin), onProgress ? { onProgress } : {})
  for (const image of loaded) {
    const tags = (await image.inspect()).repoTags
    io.stdout.write(tags.length ? tags.map((t) => `Loaded image: ${t}\n`).join('') : `Loaded image ID: ${image.id}\n`)
  }
  return 0
}
