/**
 * Variable expansion in Dockerfile words, as BuildKit's shell lexer does it
 * (not a shell: no command substitution, no globbing): `$V`, `${V}`,
 * `${V:-word}`, `${V-word}`, `${V:+word}`, `${V+word}`, `${V:?msg}`,
 * `${V?msg}`; single quotes are literal, double quotes expand; the escape
 * character (`\` or the `# escape=` directive's) makes the next character
 * literal (inside double quotes only before `"`, `$` and itself); quotes are
 * removed from the result.
 *
 * @module
 */
import { DockerfileError } from '../errors'

/** Values that expansion reads, and the names it read (for the cache key). */
export interface ExpandScope {
  /** Variable name -> value; a name absent is unset. */
  readonly vars: ReadonlyMap<string, string>
  /** The escape character of the Dockerfile. */
  readonly escape: string
  /** 1-based line of the instruction, for errors. */
  readonly line: number
}

/** Expands one word: quotes removed, nothing split. */
export function expandWord(text: string, scope: ExpandScope): string {
  return new WordLexer(text, scope).run(false)[0] ?? ''
}

/** Expands and splits on unquoted whitespace (COPY sources, EXPOSE ports...). */
export function expandWords(text: string, scope: ExpandScope): string[] {
  return new WordLexer(text, scope).run(true)
}

const nameStart = /[A-Za-z_]/
const nameChar = /[A-Za-z0-9_]/

class WordLexer {
  private pos = 0
  constructor(
    private readonly text: string,
    private readonly scope: ExpandScope,
  ) {}

  run(split: boolean): string[] {
    const words: string[] = []
    let word = ''
    let started = false
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos]
      if (split && /\s/.test(ch)) {
        if (started) words.push(word)
        word = ''
        started = false
        this.pos++
        continue
      }
      started = true
      word += this.next(ch)
    }
    if (started) words.push(word)
    return words
  }

  /** The text the character at pos starts (an escape, a quoted part, a variable, or itself). */
  private next(ch: string): string {
    if (ch === this.scope.escape) return this.escaped()
    if (ch === "'") return this.singleQuoted()
    if (ch === '"') return this.doubleQuoted()
    if (ch === '$') return this.variable()
    this.pos++
    return ch
  }

  private escaped(): string {
    this.pos++
    if (this.pos >= this.text.length) return ''
    return this.text[this.pos++]
  }

  private singleQuoted(): string {
    const end = this.text.indexOf("'", this.pos + 1)
    if (end < 0) throw new DockerfileError(this.scope.line, `unexpected end of statement while looking for matching single-quote`)
    const s = this.text.slice(this.pos + 1, end)
    this.pos = end + 1
    return s
  }

  private doubleQuoted(): string {
    this.pos++
    let out = ''
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos]
      if (ch === '"') {
        this.pos++
        return out
      }
      if (ch === '$') out += this.variable()
      else if (ch === this.scope.escape && ['"', '$', this.scope.escape].includes(this.text[this.pos + 1])) {
        out += this.text[this.pos + 1]
        this.pos += 2
      } else {
        out += ch
        this.pos++
      }
    }
    throw new DockerfileError(this.scope.line, 'unexpected end of statement while looking for matching double-quote')
  }

  private variable(): string {
    this.pos++
    const ch = this.text[this.pos]
    if (ch === '{') return this.braced()
    if (ch === undefined || !nameStart.test(ch)) return '$'
    const name = this.name()
    return this.scope.vars.get(name) ?? ''
  }

  private name(): string {
    const start = this.pos
    while (this.pos < this.text.length && nameChar.test(this.text[this.pos])) this.pos++
    return this.text.slice(start, this.pos)
  }

  private braced(): string {
    this.pos++
    const name = this.name()
    if (!name) throw new DockerfileError(this.scope.line, `failed to process "${this.text}": bad substitution`)
    if (this.text[this.pos] === '}') {
      this.pos++
      return this.scope.vars.get(name) ?? ''
    }
    const colon = this.text[this.pos] === ':'
    if (colon) this.pos++
    const op = this.text[this.pos++]
    if (!['-', '+', '?'].includes(op)) throw new DockerfileError(this.scope.line, `failed to process "${this.text}": unsupported modifier (${op}) in substitution`)
    const word = this.operand()
    const value = this.scope.vars.get(name)
    const set = colon ? value !== undefined && value !== '' : value !== undefined
    if (op === '-') return set ? value! : word
    if (op === '+') return set ? word : ''
    if (!set) throw new DockerfileError(this.scope.line, `failed to process "${this.text}": ${name}: ${word || 'is not allowed to be unset'}`)
    return value!
  }

  /** The word of a `${V:-word}` up to its closing brace, itself expanded. */
  private operand(): string {
    let out = ''
    while (this.pos < this.text.length && this.text[this.pos] !== '}') out += this.next(this.text[this.pos])
    if (this.text[this.pos] !== '}') throw new DockerfileError(this.scope.line, `failed to process "${this.text}": missing '}'`)
    this.pos++
    return out
  }
}
