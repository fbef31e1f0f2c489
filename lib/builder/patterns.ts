/**
 * Path patterns of `.dockerignore` and of COPY sources, as BuildKit matches
 * them: `*` and `?` within one path component, `**` across any number of
 * them, `[...]` classes; patterns are cleaned paths relative to the context.
 *
 * @module
 */
import * as path from 'node:path'

/** Whether the text has a glob character. */
export function isGlob(p: string): boolean {
  return /[*?[]/.test(p)
}

/** A pattern relative to the context root, cleaned ("./a/../b/" -> "b"); "" for the root. */
export function cleanPattern(p: string): string {
  const clean = path.posix.normalize(`/${p}`).replace(/^\/+/, '').replace(/\/+$/, '')
  return clean === '.' ? '' : clean
}

/** The pattern as a regular expression over whole relative paths. */
export function patternRegex(pattern: string): RegExp {
  let re = ''
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]
    if (ch === '*' && pattern[i + 1] === '*') {
      const slash = pattern[i + 2] === '/'
      re += slash ? '(?:.*/)?' : '.*'
      i += slash ? 2 : 1
    } else if (ch === '*') re += '[^/]*'
    else if (ch === '?') re += '[^/]'
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1)
      if (end < 0) re += '\\['
      else {
        re += `[${pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`
        i = end
      }
    } else if (ch === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]}`
    else re += ch.replace(/[.+^${}()|\]\\]/g, '\\$&')
  }
  return new RegExp(`^${re}$`)
}

/** The rules of a `.dockerignore`: a path is ignored when the last rule matching it or one of its parents is not an exception. */
export class IgnoreRules {
  private readonly rules: { re: RegExp; exception: boolean }[]

  /** @param text - the file's content ("" when there is none) */
  constructor(text: string) {
    this.rules = text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => ({ exception: l.startsWith('!'), pattern: cleanPattern(l.replace(/^!\s*/, '')) }))
      .filter((r) => r.pattern !== '')
      .map((r) => ({ re: patternRegex(r.pattern), exception: r.exception }))
  }

  /** Whether the context-relative path (cleaned) is ignored. */
  ignores(rel: string): boolean {
    const prefixes = rel.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'))
    let ignored = false
    for (const r of this.rules) if (prefixes.some((p) => r.re.test(p))) ignored = !r.exception
    return ignored
  }

  /** Whether a directory may hold a path an exception lets through (then it must be walked even when ignored). */
  hasExceptions(): boolean {
    return this.rules.some((r) => r.exception)
  }
}
