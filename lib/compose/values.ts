/**
 * Reading the values of a compose tree: each reader checks the shape at its
 * key path and fails there (EINVALID with file, line and column, which the
 * caller's `fail` adds). Shared by the normalisation of every key. Pure.
 *
 * @module
 */
import { parseGoDuration } from '../util/go-duration'
import type { KeyPath } from './key-path'
import { listAsMapping } from './merge'
import { isTree, type Tree } from './tree'

/** Throws EINVALID for the value at `path` (the caller adds file, line and column). */
export type Fail = (path: KeyPath, message: string) => never

/** What normalisation needs besides the tree. */
export interface NormaliseContext {
  /** The project name. */
  project: string
  /** The project directory. */
  workdir: string
  /** The interpolation variables: `environment: [NAME]` takes its value from them. */
  variables: Readonly<Record<string, string | undefined>>
  /** The profiles enabled. */
  profiles: readonly string[]
  /** The services asked for (`services` option): they and their dependencies are the project; undefined for all. */
  services?: readonly string[]
  /** Fails at a key path. */
  fail: Fail
  /** Fails at a key path with EUNSUPPORTED: the value is valid compose that minicontainer does not carry out. */
  unsupported: Fail
}

/** A mapping at `at`; absent or null is {}. */
export function mapping(v: unknown, at: KeyPath, ctx: NormaliseContext): Tree {
  if (v === undefined || v === null) return {}
  if (!isTree(v)) ctx.fail(at, 'must be a mapping')
  return v
}

/** A string at `at`; numbers and booleans as written. */
export function text(v: unknown, at: KeyPath, ctx: NormaliseContext): string {
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  return ctx.fail(at, 'must be a string')
}

/** A string at `at`, or undefined when absent. */
export function optionalText(v: unknown, at: KeyPath, ctx: NormaliseContext): string | undefined {
  return v === undefined || v === null ? undefined : text(v, at, ctx)
}

/** A list of strings at `at`; absent is []. */
export function strings(v: unknown, at: KeyPath, ctx: NormaliseContext): string[] {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v)) ctx.fail(at, 'must be a list of strings')
  return v.map((item, i) => text(item, [...at, i], ctx))
}

/** true or false at `at`; absent is false. */
export function flag(v: unknown, at: KeyPath, ctx: NormaliseContext): boolean {
  if (v === undefined || v === null) return false
  if (typeof v !== 'boolean') ctx.fail(at, 'must be true or false')
  return v
}

/** A Go duration ("10s", "1m30s") at `at`, in milliseconds; undefined when absent. */
export function duration(v: unknown, at: KeyPath, ctx: NormaliseContext): number | undefined {
  if (v === undefined || v === null) return undefined
  const ns = parseGoDuration(text(v, at, ctx))
  return ns !== undefined && ns >= 0 ? ns / 1e6 : ctx.fail(at, `"${String(v)}" is not a duration; write it as 10s, 500ms or 1m30s`)
}

/** Environment as a mapping; a bare name takes the variable's value and is left out when it is unset. */
export function environment(v: unknown, at: KeyPath, ctx: NormaliseContext): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, value] of Object.entries(mapping(listAsMapping(v), at, ctx))) {
    const resolved = value === null ? ctx.variables[k] : text(value, [...at, k], ctx)
    if (resolved !== undefined) out[k] = resolved
  }
  return out
}
