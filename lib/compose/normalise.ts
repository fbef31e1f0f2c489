/**
 * A merged, interpolated and key-checked compose file turned into the
 * {@link ComposeModel}: short forms expanded (environment, ports, volumes,
 * depends_on, networks, healthcheck), relative binds resolved against the
 * project directory, durations in milliseconds, profiles applied. A value of
 * the wrong shape is EINVALID at its path. Pure, but for path resolution.
 *
 * @module
 */
import * as path from 'node:path'
import { validName } from '../util/ids'
import type { HealthConfig } from '../harness/health-config'
import type { KeyPath } from './key-path'
import { duration, environment, flag, mapping, optionalText, strings, text, type NormaliseContext } from './values'
import { isTree, type Tree } from './tree'
import { build, networkMode, replicas, resources, restartPolicy } from './service-runtime'
import { dependencyGraph, startOrder } from './graph'
import { InvalidArgumentError } from '../errors'
import { listAsMapping } from './merge'
import { shellWords } from './shell-words'
import { parsePortSpec } from '../network/ports'
import { securityOpt } from './security-opt'
import { readEnvFile } from './env-file'
import { scopedName } from './naming'
import type {
  ComposeDependency, ComposeModel, ComposeMount, ComposeNetwork, ComposePort, ComposeService, ComposeServiceNetwork, ComposeVolume, DependencyCondition,
} from './types'

const conditions: readonly DependencyCondition[] = ['service_started', 'service_healthy', 'service_completed_successfully']

/** A command or entrypoint: a list as it is, a string split as a shell would. */
function commandLine(v: unknown, at: KeyPath, ctx: NormaliseContext): string[] | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v === 'string') return shellWords(v) ?? ctx.fail(at, 'has an unclosed quote')
  return strings(v, at, ctx)
}

/** `env_file`: one path, or a list of paths and `{ path, required }`, relative to the project directory. */
function envFiles(v: unknown, at: KeyPath, ctx: NormaliseContext): Array<{ path: string; required: boolean }> {
  if (v === undefined || v === null) return []
  const list = typeof v === 'string' ? [v] : Array.isArray(v) ? v : ctx.fail(at, 'must be a path or a list of paths')
  return list.map((entry: unknown, i) => {
    const e = isTree(entry) ? entry : { path: text(entry, [...at, i], ctx) }
    for (const k of Object.keys(e)) if (k !== 'path' && k !== 'required' && k !== 'format') ctx.fail([...at, i, k], `"${k}" is not an env_file key (path, required, format)`)
    const required = e.required === undefined ? true : flag(e.required, [...at, i, 'required'], ctx)
    return { path: path.resolve(ctx.workdir, text(e.path, [...at, i, 'path'], ctx)), required }
  })
}

/** The variables of a service's env files, later files over earlier ones; a missing required file is ENOTFOUND. */
function envFromFiles(v: unknown, at: KeyPath, ctx: NormaliseContext): Record<string, string> {
  const fix = `create it, mark it required: false, or fix ${at.join('.')}`
  return Object.assign({}, ...envFiles(v, at, ctx).map((f) => readEnvFile(f.path, !f.required, fix)))
}

/** `sysctls`, as a mapping or `name=value` list; which names a container may set is run()'s to check. */
function sysctls(v: unknown, at: KeyPath, ctx: NormaliseContext): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined
  return labels(v, at, ctx)
}

function labels(v: unknown, at: KeyPath, ctx: NormaliseContext): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, value] of Object.entries(mapping(listAsMapping(v), at, ctx))) out[k] = value === null ? '' : text(value, [...at, k], ctx)
  return out
}

/** A `-p` text as long-form ports, through the container layer's parser (ranges expanded); EINVALID at `at`. */
function parsedPorts(spec: string, at: KeyPath, ctx: NormaliseContext): ComposePort[] {
  try {
    return parsePortSpec(spec).map((r) => ({ target: r.containerPort, published: r.hostPort || undefined, hostIp: r.hostIp || undefined, protocol: r.proto }))
  } catch (err) {
    return ctx.fail(at, `invalid port specification: ${(err as Error).message}`)
  }
}

/** The long form, written as the `-p` text it means. */
function longPort(p: Tree, at: KeyPath, ctx: NormaliseContext): ComposePort[] {
  for (const k of Object.keys(p)) if (!['target', 'published', 'host_ip', 'protocol', 'mode', 'name', 'app_protocol'].includes(k)) ctx.fail([...at, k], `"${k}" is not a port key`)
  const target = text(p.target, [...at, 'target'], ctx)
  const published = optionalText(p.published, [...at, 'published'], ctx) ?? ''
  const hostIp = optionalText(p.host_ip, [...at, 'host_ip'], ctx)
  const protocol = optionalText(p.protocol, [...at, 'protocol'], ctx)
  return parsedPorts(`${hostIp ? `${hostIp}:` : ''}${published}:${target}${protocol ? `/${protocol}` : ''}`, at, ctx)
}

function ports(v: unknown, at: KeyPath, ctx: NormaliseContext): ComposePort[] {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v)) ctx.fail(at, 'must be a list')
  return v.flatMap((p, i) => (isTree(p) ? longPort(p, [...at, i], ctx) : parsedPorts(text(p, [...at, i], ctx), [...at, i], ctx)))
}

function isHostPath(source: string): boolean {
  return source.startsWith('.') || source.startsWith('/') || source.startsWith('~')
}

function containerPath(target: string, at: KeyPath, ctx: NormaliseContext): string {
  if (!target.startsWith('/')) ctx.fail(at, `the container path "${target}" must be absolute`)
  return target
}

function shortMount(spec: string, at: KeyPath, ctx: NormaliseContext): ComposeMount {
  const parts = spec.split(':')
  if (parts.length === 1) return { type: 'volume', target: containerPath(parts[0], at, ctx), readOnly: false }
  if (parts.length > 3) ctx.fail(at, `invalid volume specification: "${spec}"`)
  const [source, target, mode = 'rw'] = parts
  const readOnly = mode.split(',').includes('ro')
  if (!isHostPath(source)) return { type: 'volume', source, target: containerPath(target, at, ctx), readOnly }
  const home = process.env.HOME ?? '/root'
  const absolute = source.startsWith('~') ? path.join(home, source.slice(1)) : path.resolve(ctx.workdir, source)
  return { type: 'bind', source: absolute, target: containerPath(target, at, ctx), readOnly }
}

function longMount(m: Tree, at: KeyPath, ctx: NormaliseContext): ComposeMount {
  for (const k of Object.keys(m)) if (!['type', 'source', 'target', 'read_only', 'tmpfs', 'bind', 'volume', 'consistency'].includes(k)) ctx.fail([...at, k], `"${k}" is not a volume key`)
  const type = text(m.type, [...at, 'type'], ctx)
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') return ctx.fail([...at, 'type'], `type "${type}" is not bind, volume or tmpfs`)
  const target = containerPath(text(m.target, [...at, 'target'], ctx), [...at, 'target'], ctx)
  const source = optionalText(m.source, [...at, 'source'], ctx)
  const readOnly = flag(m.read_only, [...at, 'read_only'], ctx)
  if (type === 'tmpfs') {
    const size = mapping(m.tmpfs, [...at, 'tmpfs'], ctx).size
    return { type, target, readOnly, tmpfsSize: size === undefined ? undefined : Number(size) }
  }
  if (type === 'bind' && !source) ctx.fail([...at, 'source'], 'a bind mount needs a source')
  return { type, source: type === 'bind' ? path.resolve(ctx.workdir, source!) : source, target, readOnly }
}

function mounts(svc: Tree, at: KeyPath, volumes: Record<string, ComposeVolume>, ctx: NormaliseContext): ComposeMount[] {
  const v = svc.volumes
  if (v !== undefined && v !== null && !Array.isArray(v)) ctx.fail([...at, 'volumes'], 'must be a list')
  const out = ((v ?? []) as unknown[]).map((m, i) => {
    const where = [...at, 'volumes', i]
    const mount = isTree(m) ? longMount(m, where, ctx) : shortMount(text(m, where, ctx), where, ctx)
    if (mount.type === 'volume' && mount.source && !(mount.source in volumes)) ctx.fail(where, `service "${String(at[1])}" refers to undefined volume ${mount.source}; declare it under the top-level volumes key`)
    return mount
  })
  const tmpfs = typeof svc.tmpfs === 'string' ? [svc.tmpfs] : strings(svc.tmpfs, [...at, 'tmpfs'], ctx)
  for (const t of tmpfs) out.push({ type: 'tmpfs', target: containerPath(t, [...at, 'tmpfs'], ctx), readOnly: false })
  return out
}

function dependsOn(v: unknown, at: KeyPath, ctx: NormaliseContext): Record<string, ComposeDependency> {
  const out: Record<string, ComposeDependency> = {}
  for (const [name, entry] of Object.entries(mapping(listAsMapping(v), at, ctx))) {
    const e = mapping(entry, [...at, name], ctx)
    const condition = (optionalText(e.condition, [...at, name, 'condition'], ctx) ?? 'service_started') as DependencyCondition
    if (!conditions.includes(condition)) ctx.fail([...at, name, 'condition'], `"${condition}" is not a condition; use one of ${conditions.join(', ')}`)
    out[name] = { condition, required: e.required === undefined ? true : flag(e.required, [...at, name, 'required'], ctx) }
  }
  return out
}

function serviceNetworks(v: unknown, at: KeyPath, networks: Record<string, ComposeNetwork>, ctx: NormaliseContext): Record<string, ComposeServiceNetwork> {
  if (v === undefined || v === null) return { default: { aliases: [] } }
  const out: Record<string, ComposeServiceNetwork> = {}
  for (const [key, entry] of Object.entries(mapping(listAsMapping(v), at, ctx))) {
    if (key !== 'default' && !(key in networks)) ctx.fail([...at, key], `service "${String(at[1])}" refers to undefined network ${key}; declare it under the top-level networks key`)
    const e = mapping(entry, [...at, key], ctx)
    out[key] = { aliases: strings(e.aliases, [...at, key, 'aliases'], ctx), ipv4Address: optionalText(e.ipv4_address, [...at, key, 'ipv4_address'], ctx) }
  }
  return out
}

function healthcheck(v: unknown, at: KeyPath, ctx: NormaliseContext): HealthConfig | undefined {
  if (v === undefined || v === null) return undefined
  const h = mapping(v, at, ctx)
  if (flag(h.disable, [...at, 'disable'], ctx)) return { test: ['NONE'] }
  const test = typeof h.test === 'string' ? ['CMD-SHELL', h.test] : strings(h.test, [...at, 'test'], ctx)
  if (test.length === 0) ctx.fail([...at, 'test'], 'a health check needs a test')
  const out: HealthConfig = { test }
  const ms = (k: string) => duration(h[k], [...at, k], ctx)
  const set = <K extends keyof HealthConfig>(k: K, value: HealthConfig[K] | undefined) => { if (value !== undefined) out[k] = value }
  set('interval', ms('interval'))
  set('timeout', ms('timeout'))
  set('startPeriod', ms('start_period'))
  set('startInterval', ms('start_interval'))
  if (h.retries !== undefined) {
    if (typeof h.retries !== 'number' || !Number.isInteger(h.retries) || h.retries < 0) ctx.fail([...at, 'retries'], 'must be a whole number')
    out.retries = h.retries
  }
  return out
}

function extraHosts(v: unknown, at: KeyPath, ctx: NormaliseContext): string[] {
  if (isTree(v)) return Object.entries(v).map(([host, ip]) => `${host}:${text(ip, [...at, host], ctx)}`)
  return strings(v, at, ctx).map((e) => e.replace('=', ':'))
}

/** `network_mode: service:x` makes x a dependency (started first), as compose. */
function withNetworkModeService(deps: Record<string, ComposeDependency>, mode: string | undefined): Record<string, ComposeDependency> {
  const m = mode && /^service:(.+)$/.exec(mode)
  return m && !(m[1] in deps) ? { ...deps, [m[1]]: { condition: 'service_started', required: true } } : deps
}

function service(name: string, v: unknown, model: Pick<ComposeModel, 'networks' | 'volumes'>, all: Tree, ctx: NormaliseContext): ComposeService {
  const at = ['services', name]
  const svc = mapping(v, at, ctx)
  const key = (k: string): KeyPath => [...at, k]
  const built = build(svc.build, key('build'), ctx)
  // As compose v2: a built image without a written name is `<project>-<service>`.
  const image = optionalText(svc.image, key('image'), ctx) ?? (built ? `${ctx.project}-${name}` : ctx.fail(at, `service "${name}" has neither image nor build; set one`))
  const mode = networkMode(svc, at, ctx, all)
  const count = replicas(svc, at, ctx)
  const containerName = optionalText(svc.container_name, key('container_name'), ctx)
  if (containerName !== undefined && !validName.test(containerName)) ctx.fail(key('container_name'), `"${containerName}" is not a valid container name (${validName.source})`)
  if (containerName !== undefined && count > 1) ctx.fail(key('container_name'), `service "${name}" has container_name and ${count} replicas; a container name is unique, so drop one of them`)
  return {
    name, image,
    ...(built ? { build: built } : {}),
    replicas: count,
    ...(mode ? { networkMode: mode } : {}),
    expose: strings(svc.expose, key('expose'), ctx),
    resources: resources(svc, at, ctx),
    restart: restartPolicy(svc, at, ctx),
    stopSignal: optionalText(svc.stop_signal, key('stop_signal'), ctx),
    command: commandLine(svc.command, key('command'), ctx),
    entrypoint: commandLine(svc.entrypoint, key('entrypoint'), ctx),
    // As compose: `environment` over `env_file` (the image's own come under both at run time).
    environment: { ...envFromFiles(svc.env_file, key('env_file'), ctx), ...environment(svc.environment, key('environment'), ctx) },
    ports: ports(svc.ports, key('ports'), ctx),
    mounts: mounts(svc, at, model.volumes, ctx),
    networks: mode ? {} : serviceNetworks(svc.networks, key('networks'), model.networks, ctx),
    dependsOn: withNetworkModeService(dependsOn(svc.depends_on, key('depends_on'), ctx), mode),
    healthcheck: healthcheck(svc.healthcheck, key('healthcheck'), ctx),
    labels: labels(svc.labels, key('labels'), ctx),
    containerName,
    profiles: strings(svc.profiles, key('profiles'), ctx),
    hostname: optionalText(svc.hostname, key('hostname'), ctx),
    user: optionalText(svc.user, key('user'), ctx),
    workingDir: optionalText(svc.working_dir, key('working_dir'), ctx),
    capAdd: strings(svc.cap_add, key('cap_add'), ctx),
    capDrop: strings(svc.cap_drop, key('cap_drop'), ctx),
    securityOpt: securityOpt(svc.security_opt, key('security_opt'), ctx),
    sysctls: sysctls(svc.sysctls, key('sysctls'), ctx),
    privileged: flag(svc.privileged, key('privileged'), ctx),
    readOnly: flag(svc.read_only, key('read_only'), ctx),
    init: flag(svc.init, key('init'), ctx),
    extraHosts: extraHosts(svc.extra_hosts, key('extra_hosts'), ctx),
    stopGracePeriod: duration(svc.stop_grace_period, key('stop_grace_period'), ctx),
  }
}

function resource(kind: 'networks' | 'volumes', key: string, v: unknown, ctx: NormaliseContext): ComposeVolume {
  const at = [kind, key]
  const r = mapping(v, at, ctx)
  const external = isTree(r.external) ? true : flag(r.external, [...at, 'external'], ctx)
  const written = optionalText(r.name, [...at, 'name'], ctx)
  return { name: written ?? (external ? key : scopedName(ctx.project, key)), external, labels: labels(r.labels, [...at, 'labels'], ctx) }
}

function network(key: string, v: unknown, ctx: NormaliseContext): ComposeNetwork {
  const r = mapping(v, ['networks', key], ctx)
  const driver = optionalText(r.driver, ['networks', key, 'driver'], ctx)
  if (driver !== undefined && driver !== 'bridge') ctx.fail(['networks', key, 'driver'], `driver "${driver}" is not supported: minicontainer networks are bridges`)
  return { ...resource('networks', key, v, ctx), internal: flag(r.internal, ['networks', key, 'internal'], ctx) }
}

/** Enabled: no profiles, one of its profiles enabled, or named in the `services` option (as `docker compose up svc` enables its profiles). */
function enabled(name: string, svc: Tree, ctx: NormaliseContext): boolean {
  if (ctx.services?.includes(name)) return true
  const profiles = Array.isArray(svc.profiles) ? svc.profiles : []
  return profiles.length === 0 || profiles.some((p) => ctx.profiles.includes(String(p)))
}

/** Drops dependencies on services that are not part of the project when they are not required; EINVALID when they are. */
function checkDependencies(services: Record<string, ComposeService>, all: Tree, ctx: NormaliseContext): void {
  for (const svc of Object.values(services)) {
    for (const [dep, d] of Object.entries(svc.dependsOn)) {
      if (dep in services) continue
      if (!d.required) { delete svc.dependsOn[dep]; continue }
      const why = dep in all ? `which is only enabled by profile ${String((all[dep] as Tree).profiles)}; enable that profile` : 'which is undefined; define it'
      ctx.fail(['services', svc.name, 'depends_on', dep], `service "${svc.name}" depends on service "${dep}" ${why}`)
    }
  }
}

/** Keeps the services asked for and their dependencies; EINVALID for a name the file does not have. */
function onlySelected(services: Record<string, ComposeService>, names: readonly string[], all: Tree): void {
  for (const n of names) if (!(n in all)) throw new InvalidArgumentError(`services option: no service ${JSON.stringify(n)} in the project (its services: ${Object.keys(all).join(', ')})`)
  const keep = new Set(startOrder(dependencyGraph(services), names))
  for (const name of Object.keys(services)) if (!keep.has(name)) delete services[name]
}

/** The model of a merged, interpolated, key-checked file. */
export function normalise(tree: Tree, ctx: NormaliseContext): Omit<ComposeModel, 'warnings' | 'files'> {
  const all = mapping(tree.services, ['services'], ctx)
  const volumes: Record<string, ComposeVolume> = {}
  for (const [k, v] of Object.entries(mapping(tree.volumes, ['volumes'], ctx))) volumes[k] = resource('volumes', k, v, ctx)
  const declared: Record<string, ComposeNetwork> = {}
  for (const [k, v] of Object.entries(mapping(tree.networks, ['networks'], ctx))) declared[k] = network(k, v, ctx)
  const services: Record<string, ComposeService> = {}
  for (const [name, v] of Object.entries(all)) if (enabled(name, mapping(v, ['services', name], ctx), ctx)) services[name] = service(name, v, { networks: declared, volumes }, all, ctx)
  checkDependencies(services, all, ctx)
  if (ctx.services) onlySelected(services, ctx.services, all)
  // Only the networks some service joins are made, `default` among them when one uses it (as compose).
  const used = new Set(Object.values(services).flatMap((s) => Object.keys(s.networks)))
  const networks: Record<string, ComposeNetwork> = {}
  for (const key of used) networks[key] = declared[key] ?? { name: scopedName(ctx.project, key), external: false, internal: false, labels: {} }
  return { name: ctx.project, workdir: ctx.workdir, services, networks, volumes }
}
