/**
 * A parsed Dockerfile split into its stages: the global ARGs before the
 * first FROM, then one stage per FROM (`AS name`), the stages a target
 * needs (its FROM and `COPY --from` dependencies), in build order.
 *
 * @module
 */
import { DockerfileError } from '../errors'
import type { Dockerfile, Instruction } from './dockerfile'

/** One stage: its FROM and the instructions after it. */
export interface Stage {
  readonly index: number
  /** The `AS` name, lower-cased; undefined when unnamed. */
  readonly name?: string
  readonly from: Instruction
  readonly instructions: Instruction[]
}

/** The global ARGs and the stages. */
export interface StagePlan {
  readonly globalArgs: Instruction[]
  readonly stages: Stage[]
}

/** Splits the instructions into stages; EDOCKERFILE for an instruction before the first FROM other than ARG. */
export function splitStages(df: Dockerfile): StagePlan {
  const globalArgs: Instruction[] = []
  const stages: { index: number; name?: string; from: Instruction; instructions: Instruction[] }[] = []
  for (const ins of df.instructions) {
    if (ins.name === 'FROM') stages.push({ index: stages.length, name: stageName(ins), from: ins, instructions: [] })
    else if (stages.length) stages[stages.length - 1].instructions.push(ins)
    else if (ins.name === 'ARG') globalArgs.push(ins)
    else throw new DockerfileError(ins.line, 'no build stage in current context')
  }
  if (!stages.length) throw new DockerfileError(0, 'the Dockerfile has no FROM instruction: a build needs at least one stage')
  return { globalArgs, stages }
}

function stageName(from: Instruction): string | undefined {
  const words = from.rest.trim().split(/\s+/)
  if (words.length === 3 && words[1].toLowerCase() === 'as') return words[2].toLowerCase()
  if (words.length !== 1) throw new DockerfileError(from.line, `FROM requires either one or three arguments`)
  return undefined
}

/** The stage `ref` names (a name or an index), if any. */
export function findStage(stages: Stage[], ref: string): Stage | undefined {
  const byName = stages.find((s) => s.name === ref.toLowerCase())
  if (byName) return byName
  return /^\d+$/.test(ref) ? stages[Number(ref)] : undefined
}

/** The target stage (the last one by default); EDOCKERFILE when no stage has that name. */
export function targetStage(stages: Stage[], target: string | undefined): Stage {
  if (target === undefined) return stages[stages.length - 1]
  const s = stages.find((st) => st.name === target.toLowerCase())
  if (!s) {
    const names = stages.flatMap((st) => (st.name ? [st.name] : []))
    throw new DockerfileError(0, `failed to reach build target ${target} in Dockerfile (${names.length ? `the stages are: ${names.join(', ')}` : 'no stage is named: name one with FROM <image> AS <name>'})`)
  }
  return s
}

/**
 * The stages `s` names with a literal `COPY --from` (or ADD, or a RUN
 * `--mount=...,from=`), and the one its FROM names when that is a stage:
 * started together, so independent stages build in parallel (one that names
 * a variable is built when reached).
 */
export function literalDependencies(stages: Stage[], s: Stage): Stage[] {
  const mountFroms = (i: Instruction) => (i.flagLists.get('mount') ?? []).flatMap((m) => [.../(?:^|,)from=([^,]+)/i.exec(m)?.slice(1) ?? []])
  const refs = [s.from.rest.trim().split(/\s+/)[0], ...s.instructions.flatMap((i) => [...(i.flags.get('from') !== undefined ? [i.flags.get('from')!] : []), ...mountFroms(i)])]
  return refs.filter((r) => !r.includes('$')).flatMap((r) => {
    const dep = findStage(stages.slice(0, s.index), r)
    return dep ? [dep] : []
  })
}
