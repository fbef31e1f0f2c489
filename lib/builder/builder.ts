/**
 * `Image.build`: parses the Dockerfile, builds the stages the target needs
 * (each once, on demand, so `FROM <stage>` and `COPY --from=<stage>` wait
 * for theirs), carries out each instruction on the stage's state, takes
 * layer steps (RUN, COPY, ADD, WORKDIR) from the cache when their key is
 * there, and stores the target's state as the image.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { contextOf, type ContainerContext } from '../container/context'
import { DockerfileError, throwIfAborted } from '../errors'
import { Image } from '../image/image'
import type { BuildOptions, BuildProgress, BuildStep } from '../image/image'
import { hostPlatform } from '../image/platform'
import { normaliseRef } from '../image/store'
import { KeyedLock } from '../util/keyed-lock'
import { PendingWork } from '../util/pending-work'
import { optionsObject } from '../util/options-object'
import { stableHash } from '../util/stable-hash'
import { stamp } from '../util/start-trace'
import { BuildCache, type CachedLayer } from './cache'
import { BuildContext, type Source } from './context'
import { copyLayerTar, copyLayerWriter, mkdirLayerTar } from './copy-layer'
import { isHeredocMarker, parseDockerfile, type Dockerfile, type Instruction } from './dockerfile'
import { heredocSource } from './heredoc-source'
import { isExtractedArchive } from './archive-source'
import { fetchUrlSource, isUrl, type UrlSource } from './url-source'
import { UnsupportedDockerfileFeatureError } from './errors'
import { expandWord, expandWords } from './expand'
import { LayerView } from './layer-lookup'
import { runCommandOf, withScriptMount } from './run-command'
import { BindSources, type BindRequest } from './bind-sources'
import { cacheMountsOf, type CacheMounts, parseRunMounts, type MountInputs, type RunMount } from './run-mounts'
import { RunSecrets } from './run-secrets'
import { containerStubs, runStep } from './run-step'
import { SourceDigestMemo } from './source-digest-memo'
import { chownOf, sourcesDigest, withSourcesFromLayers } from './sources'
import { applyConfigInstruction, scopeOf, shellOf, workdirOf, type StageState } from './stage-state'
import type { StageImage } from './throwaway-container'
import { findStage, literalDependencies, splitStages, targetStage, type Stage, type StagePlan } from './stages'

const defaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** Builds `context` with `options` (see `Image.build`). */
export async function buildImage(context: string, options: BuildOptions = {}): Promise<Image> {
  const opts = optionsObject(options, 'Image.build()')
  const rt = contextOf({ runtime: opts.runtime as ContainerContext | undefined })
  throwIfAborted(opts.signal, 'Image.build()')
  await rt.ready() // what crashed processes left is collected first (dead builds' temporary files right after, in the background)
  const { text, file } = dockerfileOf(context, opts.dockerfile)
  const df = parseDockerfile(text)
  const plan = splitStages(df)
  const target = targetStage(plan.stages, opts.target)
  const refs = (typeof opts.tag === 'string' ? [opts.tag] : (opts.tag ?? [])).map(normaliseRef)
  const ctx = BuildContext.open(context, file)
  const cleanups = new PendingWork()
  try {
    stamp('build: started')
    const state = await new Builder(rt, df, plan, ctx, opts, cleanups).stage(target)
    stamp('build: stages built')
    const config = { ...state.config, ...(opts.labels ? { labels: { ...state.config.labels, ...opts.labels } } : {}) }
    const created = opts.sourceDateEpoch === undefined ? undefined : new Date(opts.sourceDateEpoch * 1000).toISOString()
    const stored = rt.images.putImage(state.layers, config, { refs, hostBinds: state.hostBinds, history: state.history, ...(created ? { created } : {}) })
    stamp('build: image stored')
    return await Image.get(stored.id, { runtime: rt })
  } finally {
    ctx.close()
    await cleanups.settled() // the RUN containers removed in the background: a build leaves none once it returns or throws
    stamp('build: cleanups settled')
  }
}

function dockerfileOf(context: string, df: BuildOptions['dockerfile']): { text: string; file?: string } {
  if (typeof df === 'object') return { text: df.content }
  const file = path.resolve(context, df ?? 'Dockerfile')
  return { text: fs.readFileSync(file, 'utf8'), file }
}

class Builder {
  private readonly built = new Map<Stage, Promise<StageState>>()
  private readonly building = new Set<Stage>()
  private readonly cache: BuildCache
  private readonly cacheMounts: CacheMounts
  private readonly secrets: RunSecrets
  private readonly sourceDigests: SourceDigestMemo
  private readonly stepLocks: KeyedLock
  /** Keys of the steps this build made (the others it took from the cache). */
  private readonly madeKeys = new Set<string>()
  /** Instructions taken from the cache (for onProgress). */
  private readonly cachedSteps = new Set<Instruction>()
  private readonly globals: Map<string, string>

  constructor(
    private readonly rt: ContainerContext,
    private readonly df: Dockerfile,
    private readonly plan: StagePlan,
    private readonly ctx: BuildContext,
    private readonly opts: BuildOptions,
    /** The RUN steps' throwaway containers being removed. */
    private readonly cleanups: PendingWork,
  ) {
    this.cache = new BuildCache(rt.root, (d) => rt.images.hasLayer(d))
    this.cacheMounts = cacheMountsOf(rt)
    this.secrets = new RunSecrets(rt.root, opts.secrets, opts.ssh, !!rt.userIds)
    this.sourceDigests = new SourceDigestMemo(rt.root)
    this.stepLocks = new KeyedLock(path.join(rt.root, 'locks', 'build-steps'))
    const p = hostPlatform()
    const platform = `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`
    this.globals = new Map(Object.entries({ TARGETPLATFORM: platform, TARGETOS: p.os, TARGETARCH: p.architecture, TARGETVARIANT: p.variant ?? '', BUILDPLATFORM: platform, BUILDOS: p.os, BUILDARCH: p.architecture, BUILDVARIANT: p.variant ?? '' }))
    const scope = { vars: this.globals, escape: df.escape, line: 0 }
    for (const ins of plan.globalArgs) for (const [k, v] of this.argDecls(ins, { ...scope, line: ins.line })) if (v !== undefined) this.globals.set(k, v)
  }

  /** sourceDateEpoch as a date: the time of every history entry and the latest mtime a layer gets. */
  private get epoch(): Date | undefined {
    return this.opts.sourceDateEpoch === undefined ? undefined : new Date(this.opts.sourceDateEpoch * 1000)
  }

  private now(): Date {
    return this.epoch ?? new Date()
  }

  /** The stage's final state, built once. */
  stage(s: Stage): Promise<StageState> {
    if (this.building.has(s) && !this.built.has(s)) throw new DockerfileError(s.from.line, `circular dependency detected on stage: ${s.name ?? s.index}`)
    let p = this.built.get(s)
    if (!p) {
      this.building.add(s)
      p = this.buildStage(s)
      this.built.set(s, p)
    }
    return p
  }

  private async buildStage(s: Stage): Promise<StageState> {
    // Dependencies start now, side by side (each is built once; a failure surfaces where it is awaited).
    for (const dep of literalDependencies(this.plan.stages, s)) if (!this.built.has(dep)) this.stage(dep).catch(() => {})
    const state = await this.base(s)
    for (const ins of [...this.onBuildTriggers(s, state), ...s.instructions]) {
      throwIfAborted(this.opts.signal, 'Image.build()')
      await this.reported(s, ins, () => this.instruction(s, state, ins))
    }
    return state
  }

  private async base(s: Stage): Promise<StageState> {
    const state = await this.baseState(s)
    // As BuildKit and the classic builder: a stage whose base sets no PATH gets the default one (also FROM scratch).
    if (!(state.config.env ?? []).some((kv) => kv.startsWith('PATH='))) state.config.env = [...(state.config.env ?? []), `PATH=${defaultPath}`]
    return state
  }

  /** The base's ONBUILD instructions, run first and cleared from the stage's config (as Docker does). */
  private onBuildTriggers(s: Stage, state: StageState): Instruction[] {
    const triggers = state.config.onBuild ?? []
    delete state.config.onBuild
    return triggers.map((t) => ({ ...parseDockerfile(t).instructions[0], line: s.from.line }))
  }

  private async baseState(s: Stage): Promise<StageState> {
    const ref = expandWord(s.from.rest.trim().split(/\s+/)[0], { vars: this.globals, escape: this.df.escape, line: s.from.line })
    const fresh = { args: new Map<string, string>(), cmdSet: false }
    if (ref === 'scratch') return { ...fresh, layers: [], config: {}, hostBinds: [], history: [], key: stableHash(['scratch']) }
    const dep = findStage(this.plan.stages.slice(0, s.index), ref)
    if (dep) {
      const d = await this.stage(dep)
      return { ...fresh, layers: [...d.layers], config: structuredClone(d.config), hostBinds: d.hostBinds, history: [...d.history], key: d.key }
    }
    const image = await this.image(ref)
    const history = this.rt.images.configDocument(image.id).history ?? []
    return { ...fresh, ...stageImageOf(image), config: structuredClone(image.config), history, key: stableHash(['image', image.id]) }
  }

  private async image(ref: string): Promise<Image> {
    try {
      return await Image.get(ref, { runtime: this.rt })
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOIMAGE' || this.opts.pull === 'never') throw err
      return Image.pull(ref, { runtime: this.rt, signal: this.opts.signal })
    }
  }

  /** `ARG a=1 b`: names and values (a build arg first, then the default, then a global of that name). */
  private argDecls(ins: Instruction, scope: { vars: ReadonlyMap<string, string>; escape: string; line: number }): [string, string | undefined][] {
    return expandWords(ins.rest, scope).map((w) => {
      const i = w.indexOf('=')
      const name = i < 0 ? w : w.slice(0, i)
      const given = this.opts.buildArgs?.[name]
      return [name, given ?? (i < 0 ? this.globals.get(name) : w.slice(i + 1))]
    })
  }

  private step(s: Stage, ins: Instruction): BuildStep {
    return { stage: s.name ?? String(s.index), line: ins.line, instruction: ins.original }
  }

  /** Runs one instruction between its onProgress events: running, then cached, done or failed with the time it took. */
  private async reported(s: Stage, ins: Instruction, carryOut: () => Promise<void>): Promise<void> {
    const report = this.opts.onProgress
    const started = performance.now()
    const event = (status: BuildProgress['status']) => report?.({ ...this.step(s, ins), status, ms: status === 'running' ? 0 : Math.round((performance.now() - started) * 1000) / 1000 })
    event('running')
    try {
      await carryOut()
    } catch (err) {
      event('failed')
      throw err
    }
    event(this.cachedSteps.has(ins) ? 'cached' : 'done')
  }

  private async instruction(s: Stage, state: StageState, ins: Instruction): Promise<void> {
    const scope = scopeOf(state, this.df.escape, ins.line)
    this.opts.onLog?.(`[${s.name ?? s.index}] ${ins.original}`, this.step(s, ins))
    if (ins.name === 'ARG') {
      for (const [k, v] of this.argDecls(ins, scope)) if (v !== undefined) state.args.set(k, v)
      return
    }
    if (ins.name === 'RUN') return this.run(s, state, ins, scope)
    if (ins.name === 'COPY' || ins.name === 'ADD') return this.copy(s, state, ins, scope)
    if (ins.name === 'WORKDIR') return this.workdir(s, state, ins, workdirOf(state, ins, scope))
    applyConfigInstruction(state, ins, scope)
    this.configStep(state, ins)
  }

  /**
   * A step that makes a layer: from the cache when its key is there, else
   * made (and then cached) under the key's cross-process lock, so the same
   * step started by several builds on one root at once runs once and the
   * others take its layer from the cache.
   */
  private async layerStep(s: Stage, state: StageState, ins: Instruction, keyParts: unknown[], make: () => Promise<string>): Promise<void> {
    const key = stableHash([state.key, ...keyParts])
    const layer = this.opts.noCache ? { diffId: await make() } : (this.cache.get(key) ?? (await this.stepLocks.with(key, async () => this.cache.get(key) ?? this.made(key, make))))
    if (!this.madeKeys.has(key) && !this.opts.noCache) {
      this.cachedSteps.add(ins)
      this.opts.onLog?.('CACHED', this.step(s, ins))
    }
    state.layers.push(layer.diffId)
    state.key = key
    // A cached layer keeps the time it was made, so a rebuild from the cache gives the same image id (as BuildKit's).
    state.history.push({ created: this.epoch?.toISOString() ?? layer.created ?? this.now().toISOString(), created_by: ins.original })
  }

  /** A config-only step's history entry, at the time of the entry before it (so a cached rebuild's history is the same), as BuildKit fills it in. */
  private configStep(state: StageState, ins: Instruction): void {
    state.history.push({ created: this.epoch?.toISOString() ?? state.history.at(-1)?.created ?? this.now().toISOString(), created_by: ins.original, empty_layer: true })
  }

  /** Makes a step's layer and records it (with the time it was made) in the cache. */
  private async made(key: string, make: () => Promise<string>): Promise<CachedLayer> {
    const layer = { diffId: await make(), created: this.now().toISOString() }
    stamp('build: layer made')
    this.cache.put(key, layer)
    stamp('build: layer cached')
    this.madeKeys.add(key)
    return layer
  }

  private async run(s: Stage, state: StageState, ins: Instruction, scope: ReturnType<typeof scopeOf>): Promise<void> {
    for (const f of ins.flags.keys()) if (f !== 'network' && f !== 'mount') throw new UnsupportedDockerfileFeatureError(ins.line, `RUN --${f} is not supported yet`)
    const { cmd, script } = runCommandOf(ins, shellOf(state))
    const mounts = parseRunMounts((ins.flagLists.get('mount') ?? []).map((m) => expandWord(m, scope)), ins.line, state.config.workdir || '/')
    const fileMounts = mounts.filter((m) => m.type !== 'secret' && m.type !== 'ssh')
    const args = [...state.args].filter(([k]) => !(state.config.env ?? []).some((kv) => kv.startsWith(`${k}=`))).map(([k, v]) => `${k}=${v}`)
    const network = this.networkOf(ins)
    const targets = [...mounts.flatMap((m) => (m.target ? [m.target] : [])), ...containerStubs]
    // Looked up when the step runs: a cache hit opens no view of the stage's layers.
    const addedTargets = () => this.withView(state, (view) => deepestFirst(targets.flatMap((t) => missingChain(view, t))))
    const inputs = await Promise.all(fileMounts.map((m) => this.mountInput(m, ins)))
    const inputOf = (m: RunMount) => inputs[fileMounts.indexOf(m)]
    const bindSources = new BindSources(this.ctx.dir, this.rt.root, this.rt.userIds)
    const mountInputs: MountInputs = {
      bindPath: (m) => bindSources.hostPath(inputOf(m)!),
      seed: (m) => {
        const input = inputOf(m)
        return input?.origin && { key: input.key, fill: (dir: string) => bindSources.copyOut(input.origin!, input.source, dir, 'type=cache') }
      },
    }
    // As BuildKit's: what the process sees (env, user, workdir), never the rest of the config (a LABEL or CMD above does not rerun a RUN).
    // Secrets' values are not in it: only the mounts as written (a changed secret is a hit, as in BuildKit).
    const seen = { env: state.config.env ?? [], user: state.config.user ?? '', workdir: state.config.workdir ?? '' }
    await this.layerStep(s, state, ins, ['RUN', cmd, script ?? null, mounts, inputs.map((i) => i?.key ?? null), args, network, seen], async () => {
      const added = await addedTargets()
      return this.secrets.with(mounts, (secretMounts, secretEnv, secretsMounted) =>
        this.cacheMounts.with(fileMounts, mountInputs, !!this.opts.noCache, (runMounts) =>
          withScriptMount(script, (scriptMounts) =>
            runStep(this.rt, {
              image: state,
              cmd,
              env: [...(state.config.env ?? []), ...args],
              processEnv: secretEnv,
              onStarted: secretsMounted,
              network,
              mounts: [...runMounts, ...secretMounts, ...scriptMounts],
              addedTargets: added,
              clampMtimesTo: this.epoch,
              where: this.step(s, ins),
              onLine: (l) => this.opts.onLog?.(l, this.step(s, ins)),
              signal: this.opts.signal,
              cleanups: this.cleanups,
            }),
          ),
        ),
      )
    }).finally(() => bindSources.dispose())
  }

  /**
   * What a bind or cache mount reads, and its part of the step's key (as
   * BuildKit's: the content of the bound context path, or the stage's key
   * or image's id for `from=`). A cache without `from=` reads nothing.
   */
  private async mountInput(m: RunMount, ins: Instruction): Promise<(BindRequest & { key: string }) | undefined> {
    if (m.type === 'tmpfs' || (m.type === 'cache' && m.from === undefined)) return undefined
    const what = `RUN --mount=type=${m.type},from`
    const bind = { source: m.source ?? '/', readWrite: !!m.readWrite }
    if (m.from === undefined) return { ...bind, key: await sourcesDigest(this.ctx.select(m.source!)) }
    const dep = findStage(this.plan.stages, m.from)
    const originOf = (image: StageImage) => ({ name: m.from!, layerDirs: [...image.layers].reverse().map((l) => this.rt.images.layerPath(l)), hostBinds: image.hostBinds })
    if (dep) {
      const d = await this.stage(dep)
      return { ...bind, origin: originOf(d), key: d.key }
    }
    const image = await this.fromImage(m.from, ins, what)
    return { ...bind, origin: originOf(stageImageOf(image)), key: image.id }
  }

  /** RUN --network (default: the build's `network`, else bridge). */
  private networkOf(ins: Instruction): 'bridge' | 'none' | 'host' {
    const flag = ins.flags.get('network')
    if (flag === undefined || flag === 'default') return this.opts.network ?? 'bridge'
    if (flag !== 'none' && flag !== 'host') throw new DockerfileError(ins.line, `unsupported network mode "${flag}": use default, none or host`)
    return flag
  }

  private async copy(s: Stage, state: StageState, ins: Instruction, scope: ReturnType<typeof scopeOf>): Promise<void> {
    for (const f of ins.flags.keys()) if (!['from', 'chown', 'chmod', 'link'].includes(f)) throw new DockerfileError(ins.line, `unknown flag: ${f}`)
    const words = ins.json ?? expandWords(ins.rest, scope)
    if (words.length < 2) throw new DockerfileError(ins.line, `${ins.name} requires at least two arguments, but only one was provided. Destination could not be determined`)
    const written = words[words.length - 1]
    if (ins.name === 'COPY' && words.slice(0, -1).some(isUrl)) throw new DockerfileError(ins.line, "source can't be a URL for COPY")
    const dest = path.posix.resolve(state.config.workdir || '/', written)
    const fetched: UrlSource[] = []
    const view = this.view(state)
    try {
      const chownFlag = ins.flags.get('chown')
      const chown = chownFlag ? chownOf(expandWord(chownFlag, scope), view, ins.line) : undefined
      const chmodFlag = ins.flags.get('chmod')
      if (chmodFlag !== undefined && !/^[0-7]{3,4}$/.test(chmodFlag)) throw new DockerfileError(ins.line, `invalid chmod parameter ${chmodFlag}: use an octal mode such as 0755`)
      const chmod = chmodFlag === undefined ? undefined : parseInt(chmodFlag, 8)
      const destIsDirWritten = /\/$|\/\.$/.test(written)
      const named = words.slice(0, -1)
      const docs = named.filter(isHeredocMarker).map((_, i) => heredocSource(ins.heredocs![i], scope))
      for (const url of named.filter(isUrl)) fetched.push(await fetchUrlSource(url, this.rt.root, this.opts.signal))
      const inline = [...docs, ...fetched.map((f) => f.source)]
      await this.copySources(s, state, ins, named.filter((w) => !isHeredocMarker(w) && !isUrl(w)), inline, { written, dest, view, chown, chmod, destIsDirWritten })
    } finally {
      view.close()
      fetched.forEach((f) => f.dispose())
    }
  }

  /** COPY/ADD's layer step once the files are lent (`inline`: here-documents and downloads). */
  private async copySources(s: Stage, state: StageState, ins: Instruction, paths: string[], inline: Source[], to: CopyTarget): Promise<void> {
    if (await this.copyFromKnownSources(s, state, ins, paths, inline, to)) return
    await this.withSources(ins, paths, async (fromFiles) => {
      const all = [...fromFiles, ...inline]
      const extracts = ins.name === 'ADD' && ins.flags.get('from') === undefined
      const isArchive = extracts ? await Promise.all(fromFiles.map(isExtractedArchive)) : []
      const archives = fromFiles.filter((_, i) => isArchive[i])
      const sources = all.filter((f) => !archives.includes(f))
      this.checkSourceCount(ins, all.length, to.written)
      // noCache: the step's key reaches no cache, so its sources are not read for it (only copied).
      const digestOf = (some: Source[]) => (this.opts.noCache ? 'no cache' : sourcesDigest(some))
      const digest = await digestOf(sources)
      const memo = this.opts.noCache ? undefined : await this.fromSourcesMemoKey(ins, paths, inline)
      if (memo) this.sourceDigests.put(memo, { digest, count: fromFiles.length })
      await this.layerStep(s, state, ins, this.copyKeyParts(ins, to, digest, await digestOf(archives)), () => this.copyLayer(sources, archives, to))
    })
  }

  /**
   * A `COPY --from` whose stage's (or image's) layers and paths were hashed
   * before: keyed by that digest, and its files assembled only when the step
   * misses the cache. False when the digest is not known.
   */
  private async copyFromKnownSources(s: Stage, state: StageState, ins: Instruction, paths: string[], inline: Source[], to: CopyTarget): Promise<boolean> {
    const memo = await this.fromSourcesMemoKey(ins, paths, inline)
    const known = memo === undefined ? undefined : this.sourceDigests.get(memo)
    if (!known) return false
    this.checkSourceCount(ins, known.count, to.written)
    const noArchives = await sourcesDigest([])
    await this.layerStep(s, state, ins, this.copyKeyParts(ins, to, known.digest, noArchives), () => this.withSources(ins, paths, (fromFiles) => this.copyLayer(fromFiles, [], to)))
    return true
  }

  /**
   * The memo key of a `COPY --from`'s selection: its origin's layers and the
   * paths. Undefined where the digest is not a function of those alone:
   * no `--from`, inline sources beside it, or an origin with host binds
   * (an `Image.fromHost()` image's files are the host's, which change).
   */
  private async fromSourcesMemoKey(ins: Instruction, paths: string[], inline: Source[]): Promise<string | undefined> {
    const from = ins.flags.get('from')
    if (from === undefined || !paths.length || inline.length) return undefined
    const origin = await this.fromOrigin(from, ins)
    if (origin.hostBinds.length) return undefined
    return stableHash(['COPY --from sources', origin.layers, paths])
  }

  /** The step key's parts of a COPY/ADD after its parent's key. */
  private copyKeyParts(ins: Instruction, to: CopyTarget, sourcesDigest: string, archivesDigest: string): unknown[] {
    return [ins.name, to.dest, to.destIsDirWritten, to.chown, to.chmod, sourcesDigest, archivesDigest]
  }

  private checkSourceCount(ins: Instruction, count: number, written: string): void {
    if (count > 1 && !/[/\\]$|\/\.$/.test(written)) throw new DockerfileError(ins.line, `When using ${ins.name} with more than one source file, the destination must be a directory and end with a /`)
  }

  /** Writes a COPY/ADD's layer; returns its diffID. */
  private copyLayer(sources: Source[], archives: Source[], to: CopyTarget): Promise<string> {
    const { dest, destIsDirWritten, view, chown, chmod } = to
    const plan = { dest, destIsDirWritten, now: this.now(), clampTo: this.epoch, ...(chown ? { chown } : {}), ...(chmod !== undefined ? { chmod } : {}) }
    const layers = this.rt.images.layers
    // A root runtime's layer gets its files as they go into its tar (no unpack of it); a rootless one's owners are given by its keeper after an unpack.
    const writer = archives.length || this.rt.userIds ? undefined : copyLayerWriter(view, sources, plan)
    return writer ? layers.addWritten(writer) : layers.addTar(copyLayerTar(view, sources, plan, archives))
  }

  /** The files a `--from` names: a stage's (built first) or an image's. */
  private async fromOrigin(from: string, ins: Instruction): Promise<StageImage> {
    const dep = findStage(this.plan.stages, from)
    return dep ? await this.stage(dep) : stageImageOf(await this.fromImage(from, ins, 'COPY --from'))
  }

  /** Lends `use` the sources a COPY names: from the context, or from a stage's or an image's files (`--from`). */
  private async withSources<T>(ins: Instruction, paths: string[], use: (sources: Source[]) => Promise<T>): Promise<T> {
    const from = ins.flags.get('from')
    if (from === undefined || !paths.length) return use(paths.flatMap((p) => this.ctx.select(p)))
    const origin = await this.fromOrigin(from, ins)
    return withSourcesFromLayers(this.rt, origin, paths, `COPY --from=${from}`, use)
  }

  /** The image a `from` names when no stage has that name; EDOCKERFILE when there is none either. */
  private async fromImage(from: string, ins: Instruction, what: string): Promise<Image> {
    try {
      return await this.image(from)
    } catch (err) {
      throw new DockerfileError(ins.line, `${what}=${from}: no stage of that name and no such image (${(err as Error).message}); name a stage above (FROM <image> AS ${from}) or an image`)
    }
  }

  private async workdir(s: Stage, state: StageState, ins: Instruction, dir: string): Promise<void> {
    state.config.workdir = dir
    await this.withView(state, async (view) => {
      if (view.stat(dir)) return this.configStep(state, ins)
      // As BuildKit: the directories WORKDIR makes belong to the stage's USER (by name through the stage's passwd and group), not to root.
      const owner = state.config.user ? chownOf(state.config.user, view, ins.line) : undefined
      await this.layerStep(s, state, ins, ['WORKDIR', dir, ...(owner ? [owner] : [])], () => this.rt.images.layers.addTar(mkdirLayerTar(view, dir, this.now(), owner)))
    })
  }

  /** The stage's files for one instruction's lookups; {@link withView} closes it after. */
  private view(state: StageState): LayerView {
    return new LayerView([...state.layers].reverse().map((l) => this.rt.images.layerPath(l)), this.rt.userIds?.sourceReads())
  }

  /** Lends `use` the stage's files, one merged view for all of the instruction's lookups. */
  private async withView<T>(state: StageState, use: (view: LayerView) => T | Promise<T>): Promise<T> {
    const view = this.view(state)
    try {
      return await use(view)
    } finally {
      view.close()
    }
  }
}

/** Where and how a COPY/ADD writes: the destination as written and resolved, the stage's files, --chown and --chmod. */
interface CopyTarget {
  readonly written: string
  readonly dest: string
  readonly destIsDirWritten: boolean
  readonly view: LayerView
  readonly chown?: { uid: number; gid: number }
  readonly chmod?: number
}

/** `p` and its ancestors that the image lacks, deepest first (the mount points a RUN mount makes). */
function missingChain(view: LayerView, p: string): string[] {
  const out: string[] = []
  for (let d = p; d !== '/' && !view.stat(d); d = path.posix.dirname(d)) out.push(d)
  return out
}

/** Distinct paths, each after every path below it (children are removed before their parents). */
function deepestFirst(paths: string[]): string[] {
  return [...new Set(paths)].sort((a, b) => b.split('/').length - a.split('/').length)
}

/** An image's files as a stage's: layers, config, host binds (an `Image.fromHost()` image binds the host's /usr). */
function stageImageOf(image: Image): StageImage {
  return { layers: [...image.details.layers], config: image.config, hostBinds: image.details.hostBinds }
}
