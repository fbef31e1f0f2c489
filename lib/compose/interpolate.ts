/**
 * Compose's variable interpolation, as compose-go applies it to every string
 * value of a file: `$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty),
 * `${VAR-default}` (unset), `${VAR:?message}` / `${VAR?message}` (required),
 * `${VAR:+alt}` / `${VAR+alt}` (replacement when set), and `$$` for a literal
 * dollar. Defaults and replacements are themselves interpolated. Pure.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import { formatPath, type KeyPath } from './key-path'

/** Where a value is read from: the merged variables. */
export type Variables = Readonly<Record<string, string | undefined>>

/** A variable used but not set, which interpolation replaced with '' (compose warns about it). */
export interface Unset {
  name: string
  at: string
}

const namePattern = /^[A-Za-z_][A-Za-z0-9_]*/

/** Index of the `}` closing the `${` whose content starts at `from`, counting nested `${`. */
function closingBrace(text: string, from: number): number {
  let depth = 1
  for (let i = from; i < text.length; i++) {
    if (text[i] === '$' && text[i + 1] === '{') { depth++; i++ } else if (text[i] === '}' && --depth === 0) return i
  }
  return -1
}

function invalid(text: string, at: string, why: string): never {
  throw new InvalidArgumentError(`invalid interpolation format for ${at}: "${text}": ${why}; write $$ for a literal dollar sign`)
}

/** The value of one braced expression (the text between `${` and `}`). */
function braced(expr: string, vars: Variables, at: string, unset: Unset[]): string {
  const name = namePattern.exec(expr)?.[0]
  if (!name) invalid(`\${${expr}}`, at, 'a variable name starts with a letter or _')
  const rest = expr.slice(name.length)
  const value = vars[name]
  const op = /^(:?[-?+])/.exec(rest)?.[1]
  if (!op) {
    if (rest !== '') invalid(`\${${expr}}`, at, `unexpected "${rest}" after the name`)
    if (value === undefined) unset.push({ name, at })
    return value ?? ''
  }
  const arg = () => interpolateString(rest.slice(op.length), vars, at, unset)
  const missing = op.startsWith(':') ? !value : value === undefined
  switch (op.replace(':', '')) {
    case '-': return missing ? arg() : value!
    case '+': return missing ? '' : arg()
    default: {
      if (!missing) return value!
      const message = arg()
      throw new InvalidArgumentError(`required variable ${name} is missing a value${message ? `: ${message}` : ''} (used in ${at}); set it in the environment, the env option or the .env file`)
    }
  }
}

/**
 * Interpolates one string. `at` names where it is (for messages); variables
 * used but unset are appended to `unset`. EINVALID for a malformed
 * expression or a required variable that is missing.
 */
export function interpolateString(text: string, vars: Variables, at: string, unset: Unset[] = []): string {
  let out = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c !== '$') { out += c; continue }
    const next = text[i + 1]
    if (next === '$') { out += '$'; i++; continue }
    if (next === '{') {
      const end = closingBrace(text, i + 2)
      if (end < 0) invalid(text, at, 'a ${ is never closed')
      out += braced(text.slice(i + 2, end), vars, at, unset)
      i = end
      continue
    }
    const name = namePattern.exec(text.slice(i + 1))?.[0]
    if (!name) { out += c; continue }
    if (vars[name] === undefined) unset.push({ name, at })
    out += vars[name] ?? ''
    i += name.length
  }
  return out
}

/**
 * Interpolates every string value (not the keys) of a parsed file, depth
 * first. `locate` gives a value's position ("file:line:col") for messages.
 */
export function interpolateTree(value: unknown, vars: Variables, unset: Unset[] = [], locate: (path: KeyPath) => string = () => '', path: KeyPath = []): unknown {
  if (typeof value === 'string') {
    try {
      return interpolateString(value, vars, formatPath(path), unset)
    } catch (err) {
      if (!(err instanceof InvalidArgumentError) || !locate(path)) throw err
      throw new InvalidArgumentError(`${locate(path)}: ${err.message}`)
    }
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateTree(v, vars, unset, locate, [...path, i]))
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = interpolateTree(v, vars, unset, locate, [...path, k])
    return out
  }
  return value
}
