/**
 * The state of a stage being built: its layers, image config, host binds,
 * history, the cache key of its last layer, and the variables in scope
 * (ARGs declared in the stage, ENV), with the instructions that only change
 * the config (ENV, ARG, LABEL, USER, EXPOSE, VOLUME, CMD, ENTRYPOINT,
 * HEALTHCHECK, SHELL, ONBUILD, STOPSIGNAL, MAINTAINER).
 *
 * @module
 */
import * as path from 'node:path'
import { DockerfileError } from '../errors'
import type { HistoryEntry, ImageConfig } from '../image/store'
import { parseGoDuration } from '../util/go-duration'
import { jsonForm, type Instruction } from './dockerfile'
import { expandWord, expandWords, type ExpandScope } from './expand'
import type { StageImage } from './throwaway-container'

/** A stage's state between instructions. */
export interface StageState extends StageImage {
  history: HistoryEntry[]
  /** Key of the stage's base and every instruction so far. */
  key: string
  /** ARGs in scope (declared in the stage) with a value. */
  args: Map<string, string>
  /** CMD was set in this stage (then ENTRYPOINT keeps it). */
  cmdSet: boolean
}

const defaultShell = ['/bin/sh', '-c']

/** The shell of RUN, CMD and ENTRYPOINT's shell form: the stage's SHELL (also inherited from its base), else /bin/sh -c. */
export function shellOf(state: StageState): string[] {
  return state.config.shell ?? defaultShell
}

/** Where expansion reads from: the stage's ARGs, overridden by its ENV. */
export function scopeOf(state: StageState, escape: string, line: number): ExpandScope {
  const vars = new Map(state.args)
  for (const kv of state.config.env ?? []) {
    const i = kv.indexOf('=')
    vars.set(i < 0 ? kv : kv.slice(0, i), i < 0 ? '' : kv.slice(i + 1))
  }
  return { vars, escape, line }
}

/** `key=value` pairs of ENV and LABEL (and the legacy `ENV key value`). */
function keyValues(ins: Instruction, scope: ExpandScope): [string, string][] {
  const words = expandWords(ins.rest, scope)
  if (!words.length) throw new DockerfileError(ins.line, `${ins.name} requires at least one argument`)
  if (!words[0].includes('=')) {
    if (ins.name === 'ENV' && words.length > 1) return [[words[0], expandWord(ins.rest.trim().replace(/^\S+\s+/, ''), scope)]]
    throw new DockerfileError(ins.line, `${ins.name} names can not be blank`)
  }
  return words.map((w) => {
    const i = w.indexOf('=')
    if (i <= 0) throw new DockerfileError(ins.line, `Syntax error - can't find = in "${w}". Must be of the form: name=value`)
    return [w.slice(0, i), w.slice(i + 1)]
  })
}

function setEnv(env: string[], key: string, value: string): string[] {
  return [...env.filter((kv) => kv.split('=')[0] !== key), `${key}=${value}`]
}

/** The command of CMD / ENTRYPOINT / RUN: the exec form as written, the shell form through SHELL. */
export function commandOf(ins: Instruction, shell: string[]): string[] {
  return ins.json ?? [...shell, ins.rest]
}

/** Applies a config-only instruction; returns false when `ins` is not one. */
export function applyConfigInstruction(state: StageState, ins: Instruction, scope: ExpandScope): boolean {
  const c = state.config
  switch (ins.name) {
    case 'ENV':
      for (const [k, v] of keyValues(ins, scope)) c.env = setEnv(c.env ?? [], k, v)
      return true
    case 'LABEL':
      c.labels = { ...c.labels, ...Object.fromEntries(keyValues(ins, scope)) }
      return true
    case 'USER':
      c.user = expandWord(ins.rest.trim(), scope)
      return true
    case 'EXPOSE':
      c.exposedPorts = [...new Set([...(c.exposedPorts ?? []), ...expandWords(ins.rest, scope).flatMap((p) => exposedPorts(p, ins.line))])]
      return true
    case 'VOLUME':
      c.volumes = [...new Set([...(c.volumes ?? []), ...(ins.json ?? expandWords(ins.rest, scope))])]
      return true
    case 'CMD':
      c.cmd = commandOf(ins, shellOf(state))
      state.cmdSet = true
      return true
    case 'ENTRYPOINT':
      c.entrypoint = commandOf(ins, shellOf(state))
      if (!state.cmdSet) delete c.cmd
      return true
    case 'STOPSIGNAL':
      c.stopSignal = expandWord(ins.rest.trim(), scope)
      return true
    case 'SHELL':
      if (!ins.json?.length) throw new DockerfileError(ins.line, 'SHELL requires the arguments to be in JSON form')
      c.shell = ins.json
      return true
    case 'ONBUILD':
      c.onBuild = [...(c.onBuild ?? []), onBuildTrigger(ins)]
      return true
    case 'HEALTHCHECK':
      c.healthcheck = healthcheck(ins)
      return true
    case 'MAINTAINER':
      return true
    default:
      return false
  }
}

/** One EXPOSE word as Docker records it: "80" is "80/tcp", a range "8000-8002/udp" is each of its ports. */
function exposedPorts(word: string, line: number): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/([a-zA-Z]+))?$/.exec(word)
  if (!m) throw new DockerfileError(line, `invalid containerPort: ${word}`)
  const first = Number(m[1])
  const last = m[2] === undefined ? first : Number(m[2])
  if (last < first || last > 65535) throw new DockerfileError(line, `invalid range specified for port: ${word}`)
  const proto = (m[3] ?? 'tcp').toLowerCase()
  return Array.from({ length: last - first + 1 }, (_, i) => `${first + i}/${proto}`)
}

/** ONBUILD's trigger as written (Docker stores the text; the child parses it at its FROM). */
function onBuildTrigger(ins: Instruction): string {
  const trigger = ins.rest.trim()
  const name = trigger.split(/\s/)[0].toUpperCase()
  if (!name) throw new DockerfileError(ins.line, 'ONBUILD requires at least one argument')
  if (name === 'ONBUILD') throw new DockerfileError(ins.line, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
  if (name === 'FROM' || name === 'MAINTAINER') throw new DockerfileError(ins.line, `${name} isn't allowed as an ONBUILD trigger`)
  return trigger
}

const healthFlags = ['interval', 'timeout', 'start-period', 'start-interval', 'retries']

function healthcheck(ins: Instruction): NonNullable<ImageConfig['healthcheck']> {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(ins.rest.trim())
  const kind = m?.[1].toUpperCase()
  if (kind === 'NONE') return { test: ['NONE'] }
  if (kind !== 'CMD') throw new DockerfileError(ins.line, `Unknown type "${m?.[1] ?? ''}" in HEALTHCHECK (try CMD)`)
  for (const f of ins.flags.keys()) if (!healthFlags.includes(f)) throw new DockerfileError(ins.line, `unknown flag: ${f}`)
  const rest = m![2]
  const json = ins.json ?? (jsonForm(rest))
  const hc: NonNullable<ImageConfig['healthcheck']> = { test: json ? ['CMD', ...json] : ['CMD-SHELL', rest] }
  const ns = (flag: string): number | undefined => {
    const v = ins.flags.get(flag)
    if (v === undefined) return undefined
    const ns = parseGoDuration(v)
    if (ns === undefined || ns < 0) throw new DockerfileError(ins.line, `time: invalid duration "${v}"`)
    return ns
  }
  const set = <K extends keyof typeof hc>(k: K, v: (typeof hc)[K] | undefined) => v !== undefined && (hc[k] = v)
  set('interval', ns('interval'))
  set('timeout', ns('timeout'))
  set('startPeriod', ns('start-period'))
  set('startInterval', ns('start-interval'))
  const retries = ins.flags.get('retries')
  if (retries !== undefined) hc.retries = Number(retries)
  return hc
}

/** WORKDIR's absolute path (a relative one is joined to the current one). */
export function workdirOf(state: StageState, ins: Instruction, scope: ExpandScope): string {
  const p = expandWord(ins.rest.trim(), scope)
  return path.posix.resolve(state.config.workdir || '/', p)
}
