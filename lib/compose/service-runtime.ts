/**
 * The keys of a service that shape how its containers run rather than what
 * they run: replicas (`scale`, `deploy.replicas`), resource limits
 * (`mem_limit`, `cpus`, `pids_limit`, `shm_size`, `deploy.resources.limits`,
 * `ulimits`),
 * `restart`, `network_mode` and `build`. Pure, but for path
 * resolution.
 *
 * @module
 */
import * as path from 'node:path'
import { parseBytes } from '../cgroups/units'
import { resolveResources, type Ulimit, type Ulimits } from '../cgroups'
import { parseRestartPolicy, type RestartPolicyOption } from '../container/restart-policy'
import type { KeyPath } from './key-path'
import type { ComposeBuild, ComposeResources } from './types'
import { environment, mapping, optionalText, text, type NormaliseContext } from './values'
import { isTree, type Tree } from './tree'

function wholeNumber(v: unknown, at: KeyPath, ctx: NormaliseContext, min: number): number | undefined {
  if (v === undefined || v === null) return undefined
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min) ctx.fail(at, `must be a whole number of at least ${min}`)
  return n as number
}

function bytes(v: unknown, at: KeyPath, ctx: NormaliseContext): number | undefined {
  if (v === undefined || v === null) return undefined
  try {
    return parseBytes(typeof v === 'number' ? v : text(v, at, ctx), at.join('.'))
  } catch (err) {
    return ctx.fail(at, (err as Error).message)
  }
}

function cpus(v: unknown, at: KeyPath, ctx: NormaliseContext): number | undefined {
  if (v === undefined || v === null) return undefined
  const n = Number(text(v, at, ctx))
  return Number.isFinite(n) && n > 0 ? n : ctx.fail(at, `"${String(v)}" is not a number of CPUs, e.g. 0.5`)
}

/** One `ulimits` entry: a number for both limits, or `{ soft, hard }`. */
function ulimit(v: unknown, at: KeyPath, ctx: NormaliseContext): Ulimit {
  if (!isTree(v)) return wholeNumber(v, at, ctx, -1) ?? ctx.fail(at, 'must be a number or { soft, hard }')
  for (const k of Object.keys(v)) if (k !== 'soft' && k !== 'hard') ctx.fail([...at, k], `"${k}" is not a ulimit key (soft, hard)`)
  const soft = wholeNumber(v.soft, [...at, 'soft'], ctx, -1)
  const hard = wholeNumber(v.hard, [...at, 'hard'], ctx, -1)
  return soft !== undefined && hard !== undefined ? { soft, hard } : ctx.fail(at, 'give both soft and hard')
}

/** `ulimits`, checked by the container layer's rules (known names, soft within hard). */
function ulimits(v: unknown, at: KeyPath, ctx: NormaliseContext): Ulimits | undefined {
  if (v === undefined || v === null) return undefined
  const out: Record<string, Ulimit> = {}
  for (const [name, value] of Object.entries(mapping(v, at, ctx))) out[name] = ulimit(value, [...at, name], ctx)
  try {
    resolveResources({ ulimits: out })
  } catch (err) {
    return ctx.fail(at, (err as Error).message)
  }
  return out
}

/** How many containers run the service: `deploy.replicas` over `scale`, default 1 (0 starts none). */
export function replicas(svc: Tree, at: KeyPath, ctx: NormaliseContext): number {
  const deploy = mapping(svc.deploy, [...at, 'deploy'], ctx)
  const fromDeploy = wholeNumber(deploy.replicas, [...at, 'deploy', 'replicas'], ctx, 0)
  const scale = wholeNumber(svc.scale, [...at, 'scale'], ctx, 0)
  if (fromDeploy !== undefined && scale !== undefined && fromDeploy !== scale) ctx.fail([...at, 'scale'], `scale (${scale}) and deploy.replicas (${fromDeploy}) disagree; keep one`)
  return fromDeploy ?? scale ?? 1
}

/** The limits of `mem_limit`, `cpus`, `pids_limit`, `shm_size`, with `deploy.resources.limits` over them (as compose), and `ulimits`. */
export function resources(svc: Tree, at: KeyPath, ctx: NormaliseContext): ComposeResources {
  const limitsAt = [...at, 'deploy', 'resources', 'limits']
  const limits = mapping(mapping(mapping(svc.deploy, [...at, 'deploy'], ctx).resources, [...at, 'deploy', 'resources'], ctx).limits, limitsAt, ctx)
  const out: ComposeResources = {
    memory: bytes(limits.memory, [...limitsAt, 'memory'], ctx) ?? bytes(svc.mem_limit, [...at, 'mem_limit'], ctx),
    cpus: cpus(limits.cpus, [...limitsAt, 'cpus'], ctx) ?? cpus(svc.cpus, [...at, 'cpus'], ctx),
    pidsLimit: wholeNumber(limits.pids, [...limitsAt, 'pids'], ctx, -1) ?? wholeNumber(svc.pids_limit, [...at, 'pids_limit'], ctx, -1),
    shmSize: bytes(svc.shm_size, [...at, 'shm_size'], ctx),
    ulimits: ulimits(svc.ulimits, [...at, 'ulimits'], ctx),
  }
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as ComposeResources
}

/** `restart`, checked by the container layer's rules ("no", always, unless-stopped, on-failure[:N]). */
export function restartPolicy(svc: Tree, at: KeyPath, ctx: NormaliseContext): RestartPolicyOption | undefined {
  const v = optionalText(svc.restart, [...at, 'restart'], ctx)
  if (v === undefined) return undefined
  try {
    parseRestartPolicy(v, false)
  } catch (err) {
    return ctx.fail([...at, 'restart'], (err as Error).message)
  }
  return v as RestartPolicyOption
}

/** `network_mode` checked: none, host, service:<a service of the project>, container:<name>; never beside `networks`. */
export function networkMode(svc: Tree, at: KeyPath, ctx: NormaliseContext, services: Tree): string | undefined {
  const mode = optionalText(svc.network_mode, [...at, 'network_mode'], ctx)
  if (mode === undefined) return undefined
  if (svc.networks !== undefined) ctx.fail([...at, 'network_mode'], 'network_mode and networks cannot be combined; keep one')
  if (mode === 'none' || mode === 'host' || /^container:.+/.test(mode)) return mode
  const m = /^service:(.+)$/.exec(mode)
  if (m && m[1] in services) return mode
  return ctx.fail([...at, 'network_mode'], m ? `service "${m[1]}" is not defined in the project` : `"${mode}" is not a network mode; use none, host, service:<name> or container:<name>`)
}

/** `build`: a context path, or `{ context, dockerfile, args, target }`; paths against the project directory. */
export function build(v: unknown, at: KeyPath, ctx: NormaliseContext): ComposeBuild | undefined {
  if (v === undefined || v === null) return undefined
  const b = isTree(v) ? v : { context: text(v, at, ctx) }
  const dockerfile = optionalText(b.dockerfile, [...at, 'dockerfile'], ctx)
  return {
    context: path.resolve(ctx.workdir, optionalText(b.context, [...at, 'context'], ctx) ?? '.'),
    ...(dockerfile !== undefined ? { dockerfile } : {}),
    // As environment: a bare name takes the variable's value.
    args: environment(b.args, [...at, 'args'], ctx),
    ...(b.target !== undefined ? { target: text(b.target, [...at, 'target'], ctx) } : {}),
  }
}
