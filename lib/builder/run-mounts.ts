/**
 * RUN's `--mount` flags, as BuildKit reads them: `type=cache` (a directory
 * kept under the runtime root across builds and Dockerfiles, keyed by `id`,
 * default the target; `sharing=shared|locked|private`; never in a layer;
 * empty under `noCache`; seeded from another stage's or an image's files
 * with `from=` and `source=`), `type=bind` and `type=tmpfs`; a bind reads
 * the context, or another stage's or an image's files (`from=`), read-only
 * unless `rw` (whose writes are discarded, see bind-sources.ts);
 * `type=secret` and `type=ssh` (what the build's `secrets` and `ssh` give,
 * see run-secrets.ts).
 *
 * @module
 */
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { DockerfileError } from '../errors'
import type { MountOption } from '../storage/mount-types'
import type { ContainerContext } from '../container/context'
import { KeyedLock } from '../util/keyed-lock'

/** One parsed `--mount`. */
export interface RunMount {
  readonly type: 'cache' | 'bind' | 'tmpfs' | 'secret' | 'ssh'
  /** Absolute path in the RUN container; a secret given only as `env` has none. */
  readonly target?: string
  /** cache: its id (default: the target); secret: the secret's id; ssh: the agent's id (default "default"). */
  readonly id?: string
  readonly sharing?: 'shared' | 'locked' | 'private'
  /** bind and cache: the path in the context, or in `from`. */
  readonly source?: string
  /** bind: the stage (name or index) or image whose files are bound, instead of the context; cache: whose files seed a new cache. */
  readonly from?: string
  /** bind: writable (`rw`); what the RUN writes there is discarded. */
  readonly readWrite?: boolean
  /** secret, ssh: the build fails when the build was not given it (else the mount is left out). */
  readonly required?: boolean
  /** secret: the environment variable of the RUN that holds its value. */
  readonly env?: string
  /** cache: mode of a new cache dir; tmpfs: mode of its root; secret (default 0400), ssh (default 0600): of the file or socket. */
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
  secret: ['target', 'id', 'source', 'required', 'mode', 'uid', 'gid', 'env'],
  ssh: ['target', 'id', 'required', 'mode', 'uid', 'gid'],
}
const aliases: Record<string, string> = { dst: 'target', destination: 'target', src: 'source', ro: 'readonly', readwrite: 'rw' }

/** Parses a RUN's `--mount` values; an ssh mount without a target gets BuildKit's, /run/buildkit/ssh_agent.<n> (n counts the RUN's ssh mounts). */
export function parseRunMounts(specs: string[], line: number, workdir: string): RunMount[] {
  let ssh = 0
  return specs.map((spec) => {
    const m = parseRunMount(spec, line, workdir)
    if (m.type !== 'ssh') return m
    const n = ssh++
    return { ...m, target: m.target ?? `/run/buildkit/ssh_agent.${n}` }
  })
}

/** Parses one `--mount` value; EDOCKERFILE for what BuildKit refuses. */
export function parseRunMount(spec: string, line: number, workdir: string): RunMount {
  const fields = new Map<string, string>()
  for (const part of spec.split(',')) {
    const i = part.indexOf('=')
    const raw = (i < 0 ? part : part.slice(0, i)).toLowerCase()
    fields.set(aliases[raw] ?? raw, i < 0 ? 'true' : part.slice(i + 1))
  }
  const type = fields.get('type') ?? 'bind'
  fields.delete('type')
  if (!(type in keys)) throw new DockerfileError(line, `unsupported mount type "${type}"`)
  const t = type as RunMount['type']
  for (const k of fields.keys()) if (!keys[t].includes(k)) throw new DockerfileError(line, `unexpected key '${k}' in '${spec}'`)
  const num = (k: string, base = 10) => (fields.has(k) ? parseInt(fields.get(k)!, base) : undefined)
  const owner = { mode: num('mode', 8), uid: num('uid'), gid: num('gid') }
  const resolve = (target: string) => path.posix.resolve(workdir, target)
  if (t === 'secret') return { type: t, ...secretFields(fields, spec, line, resolve), ...owner }
  if (t === 'ssh') return { type: t, id: fields.get('id') || 'default', ...(fields.has('target') ? { target: resolve(fields.get('target')!) } : {}), required: fields.get('required') === 'true', ...owner }
  const target = fields.get('target')
  if (!target) throw new DockerfileError(line, `mount ${spec}: a target is required (target=/path)`)
  const sharing = fields.get('sharing') ?? 'shared'
  if (!['shared', 'locked', 'private'].includes(sharing)) throw new DockerfileError(line, `unsupported sharing value "${sharing}"`)
  const from = fields.has('from') ? { from: fields.get('from') } : {}
  return {
    type: t,
    target: resolve(target),
    ...(t === 'cache' ? { id: fields.get('id') || resolve(target), sharing: sharing as RunMount['sharing'], ...from, ...(fields.has('source') ? { source: fields.get('source') } : {}) } : {}),
    ...(t === 'bind' ? { source: fields.get('source') ?? '.', ...from, readWrite: fields.get('rw') === 'true' && fields.get('readonly') !== 'true' } : {}),
    ...owner,
    size: num('size'),
  }
}

/**
 * A secret mount's id, target and env, as BuildKit names them: the id is
 * `id` (or `source`), else the target's base name; the target is
 * /run/secrets/<id> unless the secret goes only to `env`.
 */
function secretFields(fields: Map<string, string>, spec: string, line: number, resolve: (p: string) => string): Pick<RunMount, 'id' | 'target' | 'env' | 'required'> {
  const written = fields.get('target')
  if (fields.has('source') && fields.has('id')) throw new DockerfileError(line, `mount ${spec}: both source and id can't be set`)
  const id = fields.get('source') || fields.get('id') || (written ? path.posix.basename(written) : '')
  if (!id) throw new DockerfileError(line, `mount ${spec}: one of source, target required (id=<secret> names the secret)`)
  const env = fields.get('env')
  const target = written ? resolve(written) : env ? undefined : `/run/secrets/${path.posix.basename(id)}`
  return { id, ...(target ? { target } : {}), ...(env ? { env } : {}), required: fields.get('required') === 'true' }
}

/** What the mounts of one RUN read, as the builder resolves them. */
export interface MountInputs {
  /** bind: the host path to bind. */
  bindPath(bind: RunMount): string
  /** cache with `from=`: the seed's key (the stage's key or the image's id) and what copies its files at `source` into a new cache directory. */
  seed(cache: RunMount): { key: string; fill(dir: string): void } | undefined
}

/** The cache mounts of a runtime (a rootless one removes them through its user namespace: they may hold files of other ids). */
export function cacheMountsOf(rt: ContainerContext): CacheMounts {
  const userIds = rt.userIds
  return new CacheMounts(rt.root, userIds ? (dir) => userIds.removeTree(dir) : undefined)
}

/** Where cache mounts live: `<root>/build-cache-mounts/<sha256 of the id>`, with a lock per id for `sharing=locked`. */
export class CacheMounts {
  private readonly dir: string
  private readonly locks: KeyedLock

  /**
   * @param root - the runtime root
   * @param removeTree - removes a tree holding files of other ids (a rootless runtime's, through its user namespace)
   */
  constructor(
    root: string,
    private readonly removeTree: (dir: string) => void = (dir) => fs.rmSync(dir, { recursive: true, force: true }),
  ) {
    this.dir = path.join(root, 'build-cache-mounts')
    this.locks = new KeyedLock(path.join(root, 'locks', 'build-cache-mounts'))
  }

  /**
   * Runs `fn` with the mounts as `run()` takes them (secret and ssh mounts
   * are not among them): cache dirs made on first
   * use (fresh and thrown away when `fresh`, as under noCache), held under
   * their lock for `locked` and `private` (one RUN at a time uses a private
   * cache here, rather than a second copy of it), binds at the host path
   * `inputs` gives them (read-only unless `rw`). A cache seeded `from=` is
   * its own cache per id and seed, as BuildKit keys it: a new one starts as
   * a copy of the seed's files.
   */
  async with<T>(mounts: RunMount[], inputs: MountInputs, fresh: boolean, fn: (options: MountOption[]) => Promise<T>): Promise<T> {
    const made: string[] = []
    const seeds = new Map(mounts.filter((m) => m.type === 'cache').map((m) => [m, inputs.seed(m)]))
    // A seeded cache is its own cache per id and seed, as BuildKit keys it ("cache-dir:<id>:<seed ref>").
    const keys = new Map([...seeds].map(([m, seed]) => [m, idKey(seed ? `${m.id}\0${seed.key}` : m.id!)]))
    const locked = [...keys].filter(([m]) => m.sharing !== 'shared').map(([, key]) => key)
    const run = async (): Promise<T> => {
      try {
        return await fn(mounts.map((m) => (m.type === 'cache' ? this.cacheOption(m, keys.get(m)!, seeds.get(m), fresh, made) : this.option(m, inputs))))
      } finally {
        for (const d of made) this.removeTree(d)
      }
    }
    return [...new Set(locked)].sort().reduceRight<() => Promise<T>>((inner, key) => () => this.locks.with(key, inner), run)()
  }

  private option(m: RunMount, inputs: MountInputs): MountOption {
    if (m.type === 'tmpfs') return { type: 'tmpfs', target: m.target!, ...(m.size ? { tmpfsSize: m.size } : {}) }
    return { type: 'bind', source: inputs.bindPath(m), target: m.target!, readOnly: !m.readWrite }
  }

  private cacheOption(m: RunMount, key: string, seed: ReturnType<MountInputs['seed']>, fresh: boolean, made: string[]): MountOption {
    fs.mkdirSync(this.dir, { recursive: true })
    const dir = fresh ? fs.mkdtempSync(path.join(this.dir, '.fresh-')) : path.join(this.dir, key)
    if (fresh) made.push(dir)
    if (!fs.existsSync(dir) || (fresh && seed)) {
      if (seed) this.seeded(dir, seed.fill)
      else fs.mkdirSync(dir, { recursive: true, mode: m.mode ?? 0o755 })
      if (!seed || m.uid !== undefined || m.gid !== undefined) fs.chownSync(dir, m.uid ?? 0, m.gid ?? 0)
    } else if (!fresh) {
      const now = new Date()
      fs.utimesSync(dir, now, now) // its last use, for pruneBuildCache's until
    }
    return { type: 'bind', source: dir, target: m.target! }
  }

  /** Makes `dir` a copy of the seed's files: filled beside it, then renamed into place (a crash leaves no half-seeded cache). */
  private seeded(dir: string, fill: (dir: string) => void): void {
    const staging = path.join(this.dir, `.seed-${path.basename(dir)}-${process.pid}`)
    this.removeTree(staging)
    this.removeTree(dir) // a fresh (noCache) dir, made empty above
    try {
      fill(staging)
      fs.renameSync(staging, dir)
    } catch (err) {
      this.removeTree(staging)
      // Another process seeded the same shared cache first: it is used as it is.
      if (!['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err
    }
  }

  /** Removes the cache mounts last used before `cutoff` (ms since 1970), each under its lock; returns how many. */
  async prune(cutoff: number): Promise<number> {
    let removed = 0
    for (const name of fs.existsSync(this.dir) ? fs.readdirSync(this.dir) : []) {
      const dir = path.join(this.dir, name)
      await this.locks.with(name, async () => {
        const st = fs.statSync(dir, { throwIfNoEntry: false })
        if (!st || st.mtimeMs >= cutoff) return
        this.removeTree(dir)
        removed++
      })
    }
    return removed
  }
}

function idKey(id: string): string {
  return createHash('sha256').update(id).digest('hex')
}
