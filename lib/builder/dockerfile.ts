/**
 * The Dockerfile parser, as BuildKit's: parser directives at the top
 * (`# syntax=`, `# escape=`), comment lines (also inside a continuation),
 * line continuations with the escape character, instruction names in any
 * case, leading `--flag=value` flags, and the JSON (exec) form of the
 * instructions that have one, falling back to the shell form when the JSON
 * is not an array of strings.
 *
 * @module
 */
import { DockerfileError } from '../errors'
import { UnsupportedDockerfileFeatureError } from './errors'

/** One instruction as written, before expansion. */
export interface Instruction {
  /** Upper-case name, e.g. "RUN". */
  readonly name: string
  /** 1-based line where it starts. */
  readonly line: number
  /** `--flag=value` flags before the arguments (value "" for a bare `--flag`). */
  readonly flags: ReadonlyMap<string, string>
  /** The arguments after the flags, continuation lines joined. */
  readonly rest: string
  /** The exec (JSON) form's array, when the arguments are one. */
  readonly json?: string[]
  /** The instruction's text as Docker shows it (name and arguments). */
  readonly original: string
}

/** A parsed Dockerfile. */
export interface Dockerfile {
  /** The escape character (`\`, or `` ` `` by directive). */
  readonly escape: string
  readonly instructions: Instruction[]
}

const known = ['FROM', 'RUN', 'CMD', 'LABEL', 'MAINTAINER', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']
const withJson = new Set(['RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'VOLUME', 'COPY', 'ADD'])
const withFlags = new Set(['FROM', 'RUN', 'COPY', 'ADD', 'HEALTHCHECK'])
const directive = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/

/** Parses Dockerfile text; EDOCKERFILE with the line for what BuildKit refuses. */
export function parseDockerfile(text: string): Dockerfile {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  const { escape, first } = directives(lines)
  const instructions: Instruction[] = []
  for (let i = first; i < lines.length; i++) {
    const trimmed = lines[i].trimStart()
    if (trimmed === '' || trimmed.startsWith('#')) continue
    const start = i
    let body = ''
    let line = trimmed
    while (continues(line, escape) && i + 1 < lines.length) {
      body += line.trimEnd().slice(0, -1)
      i = nextContent(lines, i + 1)
      line = i < lines.length ? lines[i] : '' // a continuation keeps its leading whitespace, as BuildKit's
    }
    body += continues(line, escape) ? line.trimEnd().slice(0, -1) : line
    if (body.trim()) instructions.push(instruction(body.trim(), start + 1))
  }
  if (!instructions.length) throw new DockerfileError(0, 'the Dockerfile cannot be empty')
  return { escape, instructions }
}

/** The parser directives: only at the very top, before any other line. */
function directives(lines: string[]): { escape: string; first: number } {
  let escape = '\\'
  let i = 0
  const seen = new Set<string>()
  for (; i < lines.length; i++) {
    const m = directive.exec(lines[i])
    if (!m) break
    const key = m[1].toLowerCase()
    if (seen.has(key)) throw new DockerfileError(i + 1, `only one ${key} parser directive can be used`)
    seen.add(key)
    if (key === 'escape') {
      if (m[2] !== '\\' && m[2] !== '`') throw new DockerfileError(i + 1, `invalid escape token '${m[2]}' does not match ${'`'} or \\`)
      escape = m[2]
    } else if (key === 'syntax') checkSyntax(m[2], i + 1)
  }
  return { escape, first: i }
}

/** `docker/dockerfile:1...` is the built-in frontend (offline); any other is a frontend image we cannot run. */
function checkSyntax(ref: string, line: number): void {
  if (/^(docker\.io\/)?docker\/dockerfile(-upstream)?(:[0-9][0-9a-z.-]*(-labs)?)?(@sha256:[0-9a-f]{64})?$/.test(ref)) return
  throw new UnsupportedDockerfileFeatureError(line, `the frontend "${ref}" (# syntax=) is not supported: only docker/dockerfile:1 syntax is built in; remove the directive or point it at docker/dockerfile:1`)
}

function continues(line: string, escape: string): boolean {
  return line.trimEnd().endsWith(escape)
}

/** The next line of a continuation, skipping comment and empty lines as BuildKit does. */
function nextContent(lines: string[], i: number): number {
  while (i < lines.length) {
    const t = lines[i].trimStart()
    if (t !== '' && !t.startsWith('#')) return i
    i++
  }
  return i
}

function instruction(body: string, line: number): Instruction {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(body)!
  const name = m[1].toUpperCase()
  if (!known.includes(name)) throw new DockerfileError(line, `unknown instruction: ${m[1]}`)
  const { flags, rest } = withFlags.has(name) ? splitFlags(m[2]) : { flags: new Map<string, string>(), rest: m[2] }
  const json = withJson.has(name) ? jsonForm(rest) : undefined
  // Heredocs are not parsed yet: refused, never run as shell text that BuildKit would read otherwise.
  if (!json && ['RUN', 'COPY', 'ADD'].includes(name) && /(^|\s)<<-?["']?[A-Za-z_]/.test(rest)) throw new UnsupportedDockerfileFeatureError(line, `heredocs (${name} <<EOF) are not supported yet`)
  return { name, line, flags, rest, ...(json ? { json } : {}), original: `${name} ${m[2]}`.trim() }
}

/** Leading `--name=value` words. */
function splitFlags(text: string): { flags: Map<string, string>; rest: string } {
  const flags = new Map<string, string>()
  let rest = text
  for (let m = /^--([a-zA-Z-]+)(?:=(\S*))?\s*/.exec(rest); m; m = /^--([a-zA-Z-]+)(?:=(\S*))?\s*/.exec(rest)) {
    flags.set(m[1], m[2] ?? '')
    rest = rest.slice(m[0].length)
  }
  return { flags, rest }
}

/** The exec form's array, or undefined when the text is not a JSON array of strings (then it is the shell form). */
export function jsonForm(text: string): string[] | undefined {
  if (!text.trimStart().startsWith('[')) return undefined
  try {
    const v: unknown = JSON.parse(text)
    return Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : undefined
  } catch {
    return undefined
  }
}
