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
import { closestWord } from '../util/closest-word'
import { UnsupportedDockerfileFeatureError } from './errors'

/** One instruction as written, before expansion. */
export interface Instruction {
  /** Upper-case name, e.g. "RUN". */
  readonly name: string
  /** 1-based line where it starts. */
  readonly line: number
  /** `--flag=value` flags before the arguments (value "" for a bare `--flag`; the last of a repeated flag). */
  readonly flags: ReadonlyMap<string, string>
  /** Every value of each flag, in order (RUN's several `--mount`). */
  readonly flagLists: ReadonlyMap<string, string[]>
  /** The arguments after the flags, continuation lines joined. */
  readonly rest: string
  /** The exec (JSON) form's array, when the arguments are one. */
  readonly json?: string[]
  /** The instruction's text as Docker shows it (name and arguments). */
  readonly original: string
  /** Its here-documents (RUN, COPY, ADD), in the order their markers appear. */
  readonly heredocs?: Heredoc[]
}

/** A here-document (`<<EOF` ... `EOF`) of an instruction. */
export interface Heredoc {
  /** The delimiter, e.g. "EOF" (COPY names the file after it). */
  readonly name: string
  /** The lines up to the delimiter, each ending in a newline (leading tabs stripped for `<<-`). */
  readonly data: string
  /** The delimiter was not quoted: variables in the data are expanded (COPY). */
  readonly expand: boolean
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
    if (!body.trim()) continue
    const ins = instruction(body.trim(), start + 1)
    const markers = ins.json || !withHeredocs.has(ins.name) ? [] : heredocMarkers(ins.rest)
    const heredocs: Heredoc[] = []
    for (const m of markers) {
      const end = lines.findIndex((l, j) => j > i && (m.chomp ? l.replace(/^\t+/, '') : l) === m.name)
      if (end < 0) throw new DockerfileError(start + 1, `unterminated heredoc: no line "${m.name}" ends it`)
      const content = lines.slice(i + 1, end).map((l) => `${m.chomp ? l.replace(/^\t+/, '') : l}\n`)
      heredocs.push({ name: m.name, data: content.join(''), expand: m.expand })
      i = end
    }
    instructions.push(heredocs.length ? { ...ins, heredocs } : ins)
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
  if (!known.includes(name)) throw new DockerfileError(line, `unknown instruction: ${m[1]} (${unknownInstructionHint(m[1])})`)
  const { flags, flagLists, rest } = withFlags.has(name) ? splitFlags(m[2]) : { flags: new Map<string, string>(), flagLists: new Map<string, string[]>(), rest: m[2] }
  const json = withJson.has(name) ? jsonForm(rest) : undefined
  return { name, line, flags, flagLists, rest, ...(json ? { json } : {}), original: `${name} ${m[2]}`.trim() }
}

/** What to do about an unknown instruction: the one it likely misspells, else the list. */
function unknownInstructionHint(word: string): string {
  const near = closestWord(word, known)
  return near ? `did you mean ${near}?` : `the instructions are ${known.join(', ')}`
}

const withHeredocs = new Set(['RUN', 'COPY', 'ADD'])
const heredocMarker = /^<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2$/

/**
 * The here-document markers of an instruction's arguments (`<<EOF`,
 * `<<-"EOF"`), in order: as BuildKit, only a whole shell word is one, so
 * `echo "<<EOF"` or `'a <<b'` (quoted) is not.
 */
function heredocMarkers(rest: string): { name: string; chomp: boolean; expand: boolean }[] {
  return rawShellWords(rest).flatMap((w) => {
    const m = heredocMarker.exec(w)
    return m ? [{ name: m[3], chomp: m[1] === '-', expand: m[2] === '' }] : []
  })
}

/** Whether a word is a here-document marker alone (COPY's source `<<EOF`, RUN's whole command). */
export function isHeredocMarker(word: string): boolean {
  return heredocMarker.test(word.trim())
}

/** The text split into shell words as written (quotes and backslash escapes kept, as BuildKit's lexer with raw quotes). */
function rawShellWords(text: string): string[] {
  const words: string[] = []
  let word: string | undefined
  let quote = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (!quote && /\s/.test(c)) {
      if (word !== undefined) words.push(word)
      word = undefined
      continue
    }
    word = (word ?? '') + c
    if (c === '\\' && quote !== "'" && i + 1 < text.length) word += text[++i]
    else if (quote ? c === quote : c === '"' || c === "'") quote = quote ? '' : c
  }
  if (word !== undefined) words.push(word)
  return words
}

/** Leading `--name=value` words. */
function splitFlags(text: string): { flags: Map<string, string>; flagLists: Map<string, string[]>; rest: string } {
  const flags = new Map<string, string>()
  const flagLists = new Map<string, string[]>()
  let rest = text
  for (let m = /^--([a-zA-Z-]+)(?:=(\S*))?\s*/.exec(rest); m; m = /^--([a-zA-Z-]+)(?:=(\S*))?\s*/.exec(rest)) {
    flags.set(m[1], m[2] ?? '')
    flagLists.set(m[1], [...(flagLists.get(m[1]) ?? []), m[2] ?? ''])
    rest = rest.slice(m[0].length)
  }
  return { flags, flagLists, rest }
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
