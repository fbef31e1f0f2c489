/**
 * The `.env` format compose reads (for interpolation, and `envFile`):
 * `KEY=value` lines, `export ` allowed, `#` comments, single quotes taken
 * literally, double quotes with `\n`-style escapes, unquoted values cut at
 * ` #`. Pure, but for reading the file.
 *
 * @module
 */
import * as fs from 'node:fs'
import { InvalidArgumentError, NotFoundError } from '../errors'

function unquoted(raw: string): string {
  const v = raw.trim()
  const q = v[0]
  if ((q === '"' || q === "'") && v.length >= 2) {
    const end = v.indexOf(q, 1)
    if (end > 0) {
      const inner = v.slice(1, end)
      return q === "'" ? inner : inner.replace(/\\([nrt"\\])/g, (_, e: string) => ({ n: '\n', r: '\r', t: '\t' } as Record<string, string>)[e] ?? e)
    }
  }
  return v.replace(/\s+#.*$/, '')
}

/** Parses `.env` text; `source` names it in errors (EINVALID for a line that is not KEY=value). */
export function parseEnvFile(text: string, source: string): Record<string, string> {
  const out: Record<string, string> = {}
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#')) return
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:=(.*))?$/.exec(trimmed)
    if (!m) throw new InvalidArgumentError(`${source}:${i + 1}: "${trimmed}" is not KEY=value; fix or remove that line`)
    if (m[2] !== undefined) out[m[1]] = unquoted(m[2])
  })
  return out
}

/** Reads and parses an env file; a missing file is ENOTFOUND (saying `fix`) unless `optional`, then {}. */
export function readEnvFile(file: string, optional: boolean, fix = 'create it or fix the envFile option'): Record<string, string> {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && optional) return {}
    throw new NotFoundError(`env file ${file} cannot be read (${(err as NodeJS.ErrnoException).code}); ${fix}`)
  }
  return parseEnvFile(text, file)
}
