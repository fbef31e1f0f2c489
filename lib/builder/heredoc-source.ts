/**
 * `COPY <<EOF /dest`: a here-document as a COPY source, a file named after
 * its delimiter, mode 0644 (or `--chmod`), its variables expanded unless the
 * delimiter was quoted (quotes in the text stay as written).
 *
 * @module
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { Source } from './context'
import type { Heredoc } from './dockerfile'
import { expandWord, type ExpandScope } from './expand'
import { openFd } from '../sys/libc'

/** The here-document as a source whose one file is its (expanded) text. */
export function heredocSource(doc: Heredoc, scope: ExpandScope): Source {
  const data = Buffer.from(doc.expand ? expandWord(doc.data.replace(/["']/g, `${scope.escape}$&`), scope) : doc.data)
  return {
    path: doc.name,
    entries: [{ rel: '', type: 'file', mode: 0o644, mtime: new Date(), size: data.length }],
    open: () => openedCopy(data),
  }
}

/** An fd reading `data` (a temp file, unlinked once open). */
function openedCopy(data: Buffer): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-heredoc-'))
  try {
    fs.writeFileSync(path.join(dir, 'doc'), data)
    return openFd(path.join(dir, 'doc'), fs.constants.O_RDONLY)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
