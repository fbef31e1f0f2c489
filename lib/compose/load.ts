/**
 * Reading compose files: YAML 1.2 (the `yaml` package) with every node's
 * position kept, so that later checks can say `file:line:column` for a key
 * path. A syntax error is EINVALID at its position.
 *
 * @module
 */
import * as fs from 'node:fs'
import { isNode, LineCounter, parseDocument, type Document } from 'yaml'
import { InvalidArgumentError, NotFoundError } from '../errors'
import type { KeyPath } from './key-path'

/** One parsed file: its name, its plain data and what finds a key path's position. */
export interface LoadedFile {
  /** The file's path, or "(yaml)" for inline text. */
  source: string
  /** The parsed content as plain JSON-like data. */
  data: unknown
  /** The document, to look positions up. */
  doc: Document
  /** Offsets to lines and columns. */
  lines: LineCounter
}

/** Parses YAML text; `source` names it in errors. */
export function parseYaml(text: string, source: string): LoadedFile {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, merge: true })
  const err = doc.errors[0]
  if (err) {
    const { line, col } = lines.linePos(err.pos[0])
    throw new InvalidArgumentError(`${source}:${line}:${col}: ${err.message.split('\n')[0]}; fix the YAML there`)
  }
  const data = doc.toJS({ maxAliasCount: 100 }) as unknown
  if (data !== null && data !== undefined && (typeof data !== 'object' || Array.isArray(data))) {
    throw new InvalidArgumentError(`${source}: a compose file is a mapping of top-level keys (services, networks, volumes), not a ${Array.isArray(data) ? 'list' : typeof data}`)
  }
  return { source, data: data ?? {}, doc, lines }
}

/** Reads and parses a compose file (ENOTFOUND when it cannot be read). */
export function loadFile(file: string): LoadedFile {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    throw new NotFoundError(`compose file ${file} cannot be read (${(err as NodeJS.ErrnoException).code}); check the path`)
  }
  return parseYaml(text, file)
}

/** `file:line:column` of the key path's node in the last file that has it, else the last file's name. */
export function locate(files: readonly LoadedFile[], path: KeyPath): string {
  for (const f of [...files].reverse()) {
    for (let depth = path.length; depth > 0; depth--) {
      const node = f.doc.getIn(path.slice(0, depth), true)
      if (isNode(node) && node.range) {
        const { line, col } = f.lines.linePos(node.range[0])
        return `${f.source}:${line}:${col}`
      }
    }
  }
  return files[files.length - 1]?.source ?? '(compose)'
}
