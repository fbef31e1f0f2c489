/**
 * The dependency graph of services: checks that every dependency exists,
 * finds cycles, and gives the order of teardown. Pure.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'

/** Service name -> the names it depends on. */
export type DependencyGraph = ReadonlyMap<string, readonly string[]>

/** The graph of services by name, each with its `depends_on`. */
export function dependencyGraph(services: Readonly<Record<string, { dependsOn: Readonly<Record<string, unknown>> }>>): DependencyGraph {
  return new Map(Object.entries(services).map(([name, s]) => [name, Object.keys(s.dependsOn)]))
}

/** The services of a cycle, in order, starting and ending with the same one; undefined when there is none. */
export function findCycle(graph: DependencyGraph): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>()
  const stack: string[] = []
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined
    if (state.get(node) === 'visiting') return [...stack.slice(stack.indexOf(node)), node]
    state.set(node, 'visiting')
    stack.push(node)
    for (const dep of graph.get(node) ?? []) {
      const cycle = visit(dep)
      if (cycle) return cycle
    }
    stack.pop()
    state.set(node, 'done')
    return undefined
  }
  for (const node of graph.keys()) {
    const cycle = visit(node)
    if (cycle) return cycle
  }
  return undefined
}

/** EINVALID for a dependency on an undefined service or a cycle. */
export function checkGraph(graph: DependencyGraph): void {
  for (const [service, deps] of graph) {
    for (const dep of deps) {
      if (!graph.has(dep)) throw new InvalidArgumentError(`service "${service}" depends on undefined service "${dep}"; define it, enable its profile, or remove the dependency`)
    }
  }
  const cycle = findCycle(graph)
  if (cycle) throw new InvalidArgumentError(`circular dependency between services: ${cycle.join(' -> ')}; remove one of these depends_on entries`)
}

/** Every service of `from` (default: all) after all those it depends on, which are included (dependencies first); ties keep the order given. */
export function startOrder(graph: DependencyGraph, from: Iterable<string> = graph.keys()): string[] {
  const out: string[] = []
  const placed = new Set<string>()
  const place = (node: string): void => {
    if (placed.has(node)) return
    placed.add(node)
    for (const dep of graph.get(node) ?? []) place(dep)
    out.push(node)
  }
  for (const node of from) place(node)
  return out
}
