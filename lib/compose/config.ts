/**
 * `Compose.config()`'s pipeline: read the files (or the inline YAML),
 * interpolate each from the variables (the env file under the process
 * environment under the `env` option), merge them in order, check every key
 * against the specification, and normalise. Starts nothing.
 *
 * @module
 */
import * as path from 'node:path'
import { InvalidArgumentError, type MiniContainerError } from '../errors'
import { optionsObject } from '../util/options-object'
import { readEnvFile } from './env-file'
import { interpolateTree, type Unset } from './interpolate'
import { formatPath, type KeyPath } from './key-path'
import { loadFile, locate, parseYaml, type LoadedFile } from './load'
import { mergeFiles } from './merge'
import { checkProjectName, randomProjectName } from './naming'
import { normalise } from './normalise'
import type { ComposeConfigOptions, ComposeModel, ComposeSource } from './types'
import { validateKeys } from './validate'
import { checkGraph, dependencyGraph } from './graph'
import { UnsupportedComposeValueError } from './errors'

/** The parsed files of a source and the project directory. */
function load(source: ComposeSource): { files: LoadedFile[]; workdir: string } {
  if (typeof source === 'string') source = [source]
  if (Array.isArray(source)) {
    if (source.length === 0 || !source.every((f) => typeof f === 'string' && f !== '')) throw new InvalidArgumentError('Compose: give a compose file path, a list of them, or { yaml, workdir }')
    return { files: source.map((f) => loadFile(path.resolve(f))), workdir: path.dirname(path.resolve(source[0])) }
  }
  if (!source || typeof source !== 'object' || typeof source.yaml !== 'string' || typeof source.workdir !== 'string') {
    throw new InvalidArgumentError('Compose: give a compose file path, a list of them, or { yaml, workdir } with the YAML text and the project directory')
  }
  return { files: [parseYaml(source.yaml, '(yaml)')], workdir: path.resolve(source.workdir) }
}

/** The interpolation variables: the env file, under the process environment, under the `env` option. */
function variables(workdir: string, opts: ComposeConfigOptions): Record<string, string | undefined> {
  const envFile = opts.envFile === undefined ? path.join(workdir, '.env') : path.resolve(workdir, opts.envFile)
  return { ...readEnvFile(envFile, opts.envFile === undefined), ...process.env, ...opts.env }
}

function projectName(tree: Record<string, unknown>, opts: ComposeConfigOptions): string {
  if (opts.projectName !== undefined) return checkProjectName(opts.projectName)
  if (typeof tree.name === 'string') return checkProjectName(tree.name)
  return randomProjectName()
}

function checkedServices(services: unknown): string[] | undefined {
  if (services === undefined) return undefined
  if (!Array.isArray(services) || !services.every((s) => typeof s === 'string')) throw new InvalidArgumentError('option "services" must be a list of service names, e.g. ["api"]')
  return services as string[]
}

function warningsOf(tree: Record<string, unknown>, unset: Unset[]): string[] {
  const out = [...new Set(unset.map((u) => `the ${u.name} variable is not set (used in ${u.at}); it was replaced with an empty string`))]
  if ('version' in tree) out.push('the top-level version key is obsolete and ignored')
  return out
}

/** Loads, interpolates, merges, validates and normalises a compose project; starts nothing. */
export function composeConfig(source: ComposeSource, options?: ComposeConfigOptions): ComposeModel {
  const opts = optionsObject(options, 'Compose.config()')
  const { files, workdir } = load(source)
  const vars = variables(workdir, opts)
  const unset: Unset[] = []
  const where = (p: KeyPath) => locate(files, p)
  const tree = mergeFiles(files.map((f) => interpolateTree(f.data, vars, unset, (p) => locate([f], p))))
  validateKeys(tree, (p, error: (at: string) => MiniContainerError) => { throw error(where(p)) })
  const fail = (p: KeyPath, message: string): never => { throw new InvalidArgumentError(`${where(p)}: ${formatPath(p)}: ${message}`) }
  const unsupported = (p: KeyPath, why: string): never => { throw new UnsupportedComposeValueError(formatPath(p), where(p), why) }
  const model = normalise(tree, { project: projectName(tree, opts), workdir, variables: vars, profiles: opts.profiles ?? [], services: checkedServices(opts.services), fail, unsupported })
  checkGraph(dependencyGraph(model.services))
  return { ...model, files: files.map((f) => f.source), warnings: warningsOf(tree, unset) }
}
