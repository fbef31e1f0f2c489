/**
 * Several compose files merged as the Compose Specification says (later
 * files override earlier ones): mappings merge key by key; `environment`,
 * `labels`, `depends_on` and `networks` merge by key whether written as
 * lists or mappings; `ports`, `expose`, `cap_add`, `cap_drop`, `dns`,
 * `extra_hosts` and `profiles` are the union; `volumes` and `tmpfs` merge by
 * container path; `command`, `entrypoint` and other lists are replaced. Pure.
 *
 * @module
 */

import { isTree, type Tree } from './tree'

const byKey = new Set(['environment', 'labels', 'depends_on', 'networks'])
const union = new Set(['ports', 'expose', 'cap_add', 'cap_drop', 'dns', 'extra_hosts', 'profiles'])
const byTarget = new Set(['volumes', 'tmpfs'])

/** A list written as `K=v` (environment, labels) or plain names (depends_on, networks), as a mapping. */
export function listAsMapping(v: unknown): unknown {
  if (!Array.isArray(v)) return v
  const out: Tree = {}
  for (const item of v) {
    if (typeof item !== 'string') return v // left for validation to report
    const eq = item.indexOf('=')
    if (eq < 0) out[item] = null
    else out[item.slice(0, eq)] = item.slice(eq + 1)
  }
  return out
}

/** The container path of a volume or tmpfs entry, in short or long form. */
function targetOf(entry: unknown): string {
  if (isTree(entry)) return String(entry.target)
  const parts = String(entry).split(':')
  return parts.length === 1 ? parts[0] : parts[1]
}

function mergeByTarget(base: unknown[], over: unknown[]): unknown[] {
  const targets = new Set(over.map(targetOf))
  return [...base.filter((e) => !targets.has(targetOf(e))), ...over]
}

function mergeUnion(base: unknown[], over: unknown[]): unknown[] {
  const seen = new Set(base.map((e) => JSON.stringify(e)))
  return [...base, ...over.filter((e) => !seen.has(JSON.stringify(e)))]
}

function mergeServiceKey(key: string, base: unknown, over: unknown): unknown {
  if (byKey.has(key)) return mergeMappings(listAsMapping(base), listAsMapping(over))
  if (union.has(key) && Array.isArray(base) && Array.isArray(over)) return mergeUnion(base, over)
  if (byTarget.has(key) && Array.isArray(base) && Array.isArray(over)) return mergeByTarget(base, over)
  return mergeMappings(base, over)
}

/** Deep merge where `over` wins; lists and scalars are replaced. */
function mergeMappings(base: unknown, over: unknown): unknown {
  if (!isTree(base) || !isTree(over)) return over
  const out: Tree = { ...base }
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? mergeMappings(out[k], v) : v
  return out
}

function mergeService(base: unknown, over: unknown): unknown {
  if (!isTree(base) || !isTree(over)) return over
  const out: Tree = { ...base }
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? mergeServiceKey(k, out[k], v) : v
  return out
}

/** Merges the parsed files in order; each is a mapping of top-level keys. */
export function mergeFiles(files: readonly unknown[]): Tree {
  const out: Tree = {}
  for (const file of files) {
    if (!isTree(file)) continue
    for (const [k, v] of Object.entries(file)) {
      if (k === 'services' && isTree(out.services) && isTree(v)) {
        const services: Tree = { ...out.services }
        for (const [name, svc] of Object.entries(v)) services[name] = name in services ? mergeService(services[name], svc) : svc
        out.services = services
      } else out[k] = k in out ? mergeMappings(out[k], v) : v
    }
  }
  return out
}
