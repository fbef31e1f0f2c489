/**
 * RUN's `--mount` flags, as BuildKit reads them: `type=cache` (a directory
 * kept under the runtime root across builds and Dockerfiles, keyed by `id`,
 * default the target; `sharing=shared|locked|private`; never in a layer;
 * empty under `noCache`), `type=bind` and `type=tmpfs`; a bind reads the context, or another stage's or an image's
 * files (`from=`), read-only unless `rw` (whose writes are discarded, see
 * bind-sources.ts). `secret` and `ssh` are EUNSUPPORTED, naming the flag,
 * never silently turned into something else.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { DockerfileError } from '../errors'
import type { MountOption } from '../storage/mount-types'
import { KeyedLock } from '../util/keyed-lock'
import { UnsupportedDockerfileFeatureError } from './errors'

/** One parsed `--mount`. */
export interface RunMount {
  readonly type: 'cache' | 'bind' | 'tmpfs'
  /** Absolute path in the RUN container. */
  readonly target: string
  /** cache: its id (default: the target). */
  readonly id?: string
  readonly sharing?: 'shared' | 'locked' | 'private'
  /** bind: the path in the context, or in `from`. */
  readonly source?: string
  /** bind: the stage (name or index) or image whose files are bound, instead of the context. */
  readonly from?: string
  /** bind: writable (`rw`); what the RUN writes there is discarded. */
  readonly readWrite?: boolean
  /** cache: mode of a new cache dir; tmpfs: mode of its root. */
  readonly mode?: number
  readonly uid?: number
  readonly gid?: number
  /** tmpfs: size limit in bytes. */
  readonly size?: number
}

const keys: Record<RunMount['type'], string[]> = {
  cache: ['target', 'id', 'sharing', 'mode', 'uid', 'gid', 'readonly', 'from', 'source'],
  bind: ['target', 'source', 'from', 'readonly', 'rw'],
  tmpfs: ['target', 'size'],
}
const aliases: Record<string, string> = { dst: 'target', destination: 'target', src: 'source', ro: 'readonly', readwrite: 'rw' }

/** Parses one `--mount` value; EDOCKERFILE for what BuildKit refuses, EUNSUPPORTED for what is not carried out here. */
export function parseRunMount(spec: string, line: number, workdir: string): RunMount {
  const fields = new Map<string, string>()
  for (const part of spec.split(',')) {
    const i = part.indexOf('=')
    const raw = (i < 0 ? part : part.slice(0, i)).toLowerCase()
    fields.set(aliases[raw] ?? raw, i < 0 ? 'true' : part.slice(i + 1))
  }
  const type = fields.get('type') ?? 'bind'
  fields.delete('type')
  if (type === 'secret' || type === 'ssh') throw new UnsupportedDockerfileFeatureError(line, `RUN --mount=type=${type} is not supported yet`)
  if (!(type in keys)) throw new DockerfileError(line, `unsupported mount type "${type}"`)
  const t = type as RunMount['type']
  for (const k of fields.keys()) if (!keys[t].includes(k)) throw new DockerfileError(line, `unexpected key '${k}' in '${spec}'`)
  const target = fields.get('target')
  if (!target) throw new DockerfileError(line, `mount ${spec}: a target is required (target=/path)`)
  if (t === 'cache' && fields.has('from')) throw new UnsupportedDockerfileFeatureError(line, `RUN --mount=${spec}: a cache mount seeded from= a stage is not supported yet`)
  const sharing = fields.get('sharing') ?? 'shared'
  if (!['shared', 'locked', 'private'].includes(sharing)) throw new DockerfileError(line, `unsupported sharing value "${sharing}"`)
  const num = (k: string, base = 10) => (fields.has(k) ? parseInt(fields.get(k)!, base) : undefined)
  return {
    type: t,
    target: path.posix.resolve(workdir, target),
    ...(t === 'cache' ? { id: fields.get('id') || path.posix.resolve(workdir, target), sharing: sharing as RunMount['sharing'] } : {}),
    ...(t === 'bind' ? { source: fields.get('source') ?? '.', ...(fields.has('from') ? { from: fields.get('from') } : {}), readWrite: fields.get('rw') === 'true' && fields.get('readonly') !== 'true' } : {}),
    mode: num('mode', 8),
    uid: num('uid'),
    gid: num('gid'),
    size: num('size'),
  }
}

/** Where cache mounts live: `<root>/build-cache-mounts/<sha256 of the id>`, with a lock per id for `sharing=locked`. */
export class CacheMounts {
  private readonly dir: string
  private readonly locks: KeyedLock

  /** @param root - the runtime root */
  constructor(root: string) {
    this.dir = path.join(root, 'build-cache-mounts')
    this.locks = new KeyedLock(path.join(root, 'locks', 'build-cache-mounts'))
  }

  /**
   * Runs `fn` with the mounts as `run()` takes them: cache dirs made on first
   * use (fresh and thrown away when `fresh`, as under noCache), held under
   * their lock for `locked` and `private` (one RUN at a time uses a private
   * cache here, rather than a second copy of it), binds at the host path
   * `bindPath` gives them (read-only unless `rw`).
   */
  async with<T>(mounts: RunMount[], bindPath: (bind: RunMount) => string, fresh: boolean, fn: (options: MountOption[]) => Promise<T>): Promise<T> {
    const made: string[] = []
    const locked = mounts.filter((m) => m.type === 'cache' && m.sharing !== 'shared').map((m) => idKey(m.id!))
    const run = async (): Promise<T> => {
      try {
        return await fn(mounts.map((m) => this.option(m, bindPath, fresh, made)))
      } finally {
        for (const d of made) fs.rmSync(d, { recursive: true, force: true })
      }
    }
    return [...new Set(locked)].sort().reduceRight<() => Promise<T>>((inner, key) => () => this.locks.with(key, inner), run)()
  }

  private option(m: RunMount, bindPath: (bind: RunMount) => string, fresh: boolean, made: string[]): MountOption {
    if (m.type === 'tmpfs') return { type: 'tmpfs', target: m.target, ...(m.size ? { tmpfsSize: m.size } : {}) }
    if (m.type === 'bind') return { type: 'bind', source: bindPath(m), target: m.target, readOnly: !m.readWrite }
    fs.mkdirSync(this.dir, { recursive: true })
    const dir = fresh ? fs.mkdtempSync(path.join(this.dir, '.fresh-')) : path.join(this.dir, idKey(m.id!))
    if (fresh) made.push(dir)
    if (!fs.existsSync(dir)) {
      fs.mkdirSync(dir, { recursive: true, mode: m.mode ?? 0o755 })
      fs.chownSync(dir, m.uid ?? 0, m.gid ?? 0)
    } else if (!fresh) {
      const now = new Date()
      fs.utimesSync(dir, now, now) // its last use, for pruneBuildCache's until
    }
    return { type: 'bind', source: dir, target: m.target }
  }

  /** Removes the cache mounts last used before `cutoff` (ms since 1970), each under its lock; returns how many. */
  async prune(cutoff: number): Promise<number> {
    let removed = 0
    for (const name of fs.existsSync(this.dir) ? fs.readdirSync(this.dir) : []) {
      const dir = path.join(this.dir, name)
      await this.locks.with(name, async () => {
        const st = fs.statSync(dir, { throwIfNoEntry: false })
        if (!st || st.mtimeMs >= cutoff) return
        fs.rmSync(dir, { recursive: true, force: true })
        removed++
      })
    }
    return removed
  }
}

function idKey(id: string): string {
  return createHash('sha256').update(id).digest('hex')
}
